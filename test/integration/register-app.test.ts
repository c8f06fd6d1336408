/**
 * Rigid registration from the app (issue 11): the host opens a case with `{ register: 'rigid' }`
 * and the engine process runs elastix, never the host. pat222's T1c with its content rotated 5°
 * and shifted 5 mm but its header unchanged (as in register.test.ts) comes back in register with
 * the FLAIR; the case's sequence info says so and names the engine's pid; the host's static module
 * graph does not reach core/src/node/register.ts or @itk-wasm/elastix.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import { resampleToGrid } from '../../core/src/resample.ts';
import type { Mat3, Vec3, Volume } from '../../core/src/volume.ts';
import { EngineClient } from '../../workers/src/client.ts';
import { caseFileFolder } from '../../workers/src/host/case-files.ts';
import { QuorumService } from '../../workers/src/host/service.ts';
import { agreement, centredGrid } from '../helpers/grids.ts';
import { DATA, REPO } from '../helpers/paths.ts';

const PAT222 = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222');
const tmp = mkdtempSync(join(tmpdir(), 'quorum-register-app-'));

let t1c: Volume;
let brain: Volume;
let movedCase: string;
let svc: QuorumService;
let engine: EngineClient | undefined;

beforeAll(async () => {
  t1c = await loadVolume(join(PAT222, 'T1c.nii.gz'));
  brain = await loadVolume(join(PAT222, 'BrainExtractionMask.nii.gz'));
  const b = (5 * Math.PI) / 180;
  const turned: Mat3 = [Math.cos(b), Math.sin(b), 0, -Math.sin(b), Math.cos(b), 0, 0, 0, 1];
  const moved = resampleToGrid(t1c, centredGrid(t1c, turned, [1, 1, 1], t1c.dims, [4, 3, 0])).volume;
  movedCase = join(tmp, 'moved');
  mkdirSync(movedCase);
  symlinkSync(join(PAT222, 'Flair.nii.gz'), join(movedCase, 'flair.nii.gz'));
  // the content moved, the header did not: the scanner thinks it is on the FLAIR grid
  writeNiftiFile(
    join(movedCase, 't1c.nii.gz'),
    { ...moved, origin: [...t1c.origin] as Vec3, direction: [...t1c.direction] as Mat3 },
    { datatype: 'float32' },
  );
  svc = new QuorumService({
    mode: 'browser',
    stateDir: join(tmp, 'state'),
    outDir: join(tmp, 'out'),
    startEngine: async () => {
      engine = await EngineClient.start();
      return engine;
    },
  });
});
afterAll(async () => {
  await svc?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Correlation with the original T1c inside the brain, of the volume the viewer gets. */
async function corrOf(caseId: string): Promise<number> {
  const v = await svc.getVolume(caseId, 't1c');
  return agreement({ data: v.data } as Volume, t1c, brain).corr;
}

describe('opening a case with rigid registration (app: host -> engine)', () => {
  it('world coordinates (default) leave the moved T1c misplaced', async () => {
    const info = await svc.openCase(movedCase);
    expect(info.sequences.find((s) => s.sequence === 't1c')?.grid).toBe('on the flair grid as read');
    expect(await corrOf(info.id)).toBeLessThan(0.6);
    expect(engine).toBeUndefined(); // nothing asked the engine
  });

  it('the engine registers it: back in register with the FLAIR, the case says so and names the engine', async () => {
    const info = await svc.openCase(movedCase, { register: 'rigid' });
    const grid = info.sequences.find((s) => s.sequence === 't1c')?.grid ?? '';
    const m =
      /^registered \(rigid, mutual information, elastix in the engine process \(pid (\d+)\)\) onto the flair grid: rotated (\d+(?:\.\d)?)°, moved (\d+(?:\.\d)?) mm/.exec(
        grid,
      );
    expect(m, grid).not.toBeNull();
    expect(Number(m?.[1])).toBe(engine?.pid);
    expect(Number(m?.[1])).not.toBe(process.pid);
    expect(Number(m?.[2])).toBeCloseTo(5, 0);
    expect(Number(m?.[3])).toBeCloseTo(5, 0);
    expect(info.sequences.find((s) => s.sequence === 'flair')?.grid).toBe('the reference grid');
    expect(info.warnings.join('\n')).toMatch(/t1c .* registered rigidly onto the flair grid/);
    expect(await corrOf(info.id)).toBeGreaterThan(0.95);
    // the registration's temp files are gone
    expect(readdirSync(caseFileFolder()).filter((f) => f.startsWith('register-'))).toEqual([]);
  }, 240_000);

  it('without a usable model the engine cannot start: a clear error, nothing opened', async () => {
    const empty = join(tmp, 'no-model');
    mkdirSync(empty);
    const bare = new QuorumService({ mode: 'browser', stateDir: join(tmp, 'state2'), modelDir: empty });
    const e = await bare.openCase(movedCase, { register: 'rigid' }).catch((x) => x);
    expect(e.message).toMatch(
      /rigid registration of t1c onto flair runs in the engine process, which could not start: no usable model manifest/,
    );
    expect(bare.counts().cases).toBe(0);
    await bare.close();
  });

  it("the host's static module graph never reaches elastix (only the engine imports register.ts)", () => {
    const seen = new Set<string>();
    const external = new Set<string>();
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      // static imports and re-exports; `import type` is erased, dynamic import() is not followed
      for (const m of text.matchAll(/^(?:import|export)(?!\s+type\b)[^;]*?from\s+'([^']+)'/gms)) {
        const spec = m[1];
        if (!spec.startsWith('.')) external.add(spec);
        else {
          const p = resolve(dirname(file), spec);
          if (existsSync(p)) walk(p);
        }
      }
    };
    for (const entry of ['workers/src/host/service.ts', 'workers/src/host/handlers.ts'])
      walk(join(REPO, entry));
    const files = [...seen].map((f) => relative(REPO, f));
    expect(files).toContain('workers/src/host/register-case.ts');
    expect(files).toContain('core/src/node/align.ts');
    expect(files).not.toContain('core/src/node/register.ts');
    expect(files).not.toContain('workers/src/engine/main.ts');
    expect([...external]).not.toContain('@itk-wasm/elastix');
  });
});
