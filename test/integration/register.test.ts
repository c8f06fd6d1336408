/**
 * Rigid registration (--register rigid, elastix from @itk-wasm/elastix's own wasm) on a real case:
 * pat222's T1c with its content rotated 5° and shifted 5 mm but its header unchanged, as when the
 * patient moved between series. World coordinates alone keep it misplaced; registration finds the
 * motion, puts it back in register with the FLAIR, says so, and the proposal lands where the
 * still case's does. A T1c on another (rotated, permuted) grid with a correct header registers to
 * the identity, which checks the orientation handed to elastix.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dice } from '../../core/src/metrics.ts';
import { MOVED_HINT } from '../../core/src/node/align.ts';
import { openCase } from '../../core/src/node/case.ts';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import { resampleToGrid } from '../../core/src/resample.ts';
import type { Mat3, Vec3, Volume } from '../../core/src/volume.ts';
import { quorumWith } from '../helpers/cli.ts';
import { agreement, centredGrid } from '../helpers/grids.ts';
import { DATA } from '../helpers/paths.ts';

const PAT222 = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222');
const tmp = mkdtempSync(join(tmpdir(), 'quorum-register-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let t1c: Volume;
let brain: Volume;
beforeAll(async () => {
  t1c = await loadVolume(join(PAT222, 'T1c.nii.gz'));
  brain = await loadVolume(join(PAT222, 'BrainExtractionMask.nii.gz'));
});

/** Correlation with the original T1c inside the brain. */
const corr = (a: Volume): number => agreement(a, t1c, brain).corr;

/** A 1 mm grid with `direction`, centred on the T1c's centre plus `shift` (mm). */
const gridAt = (direction: Mat3, dims: Vec3, shift: Vec3 = [0, 0, 0]) =>
  centredGrid(t1c, direction, [1, 1, 1], dims, shift);

function makeCase(name: string, t1cVolume: Volume): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  symlinkSync(join(PAT222, 'Flair.nii.gz'), join(dir, 'flair.nii.gz'));
  writeNiftiFile(join(dir, 't1c.nii.gz'), t1cVolume, { datatype: 'float32' });
  return dir;
}

describe('--register rigid', () => {
  let movedCase: string;

  it('finds a patient motion (5° about S-I, 5 mm) that world coordinates cannot see, and says so', async () => {
    const b = (5 * Math.PI) / 180;
    const turned: Mat3 = [Math.cos(b), Math.sin(b), 0, -Math.sin(b), Math.cos(b), 0, 0, 0, 1];
    const moved = resampleToGrid(t1c, gridAt(turned, t1c.dims, [4, 3, 0])).volume;
    // the content moved, the header did not: the scanner thinks it is on the FLAIR grid
    movedCase = makeCase('moved', {
      ...moved,
      origin: [...t1c.origin] as Vec3,
      direction: [...t1c.direction] as Mat3,
    });

    const plain = await openCase(movedCase);
    expect(plain.alignment[1].action).toBe('same grid');
    const misplaced = corr(plain.sequences.t1c as Volume);
    expect(misplaced).toBeLessThan(0.6);

    const c = await openCase(movedCase, { register: 'rigid' });
    const a = c.alignment[1];
    expect(a.action).toBe('registered');
    expect(a.registration?.rotationDeg).toBeGreaterThan(4.5);
    expect(a.registration?.rotationDeg).toBeLessThan(5.5);
    expect(a.registration?.translationMm).toBeGreaterThan(4.5);
    expect(a.registration?.translationMm).toBeLessThan(5.5);
    expect(corr(c.sequences.t1c as Volume)).toBeGreaterThan(0.95);
    expect(c.warnings.at(-1)).toMatch(
      /^t1c \(t1c\.nii\.gz, 240x240x155 at 1x1x1 mm\) registered rigidly onto the flair grid \(mutual information, elastix\): rotated 5(\.\d)?° and moved 5(\.\d)? mm from where its header put it; it covers 100% of the flair grid/,
    );
    expect(c.warnings.join('\n')).not.toContain(MOVED_HINT); // registered: nothing left to suggest
  });

  it('a correct header on another grid (30° turn, axes permuted) registers to the identity', async () => {
    const a = (30 * Math.PI) / 180;
    const rotPerm: Mat3 = [0, 0, 1, Math.cos(a), Math.sin(a), 0, -Math.sin(a), Math.cos(a), 0];
    const other = resampleToGrid(t1c, gridAt(rotPerm, [155, 240, 240])).volume;
    const c = await openCase(makeCase('other-grid', other), { register: 'rigid' });
    const r = c.alignment[1];
    expect(r.action).toBe('registered');
    expect(r.angleDeg).toBe(30);
    expect(r.registration?.rotationDeg).toBeLessThan(0.5);
    expect(r.registration?.translationMm).toBeLessThan(0.5);
    expect(corr(c.sequences.t1c as Volume)).toBeGreaterThan(0.95);
  });

  it('quorum propose --register rigid: the moved case proposes like the still one (Dice >= 0.9), report.json says registered', async () => {
    const still = join(tmp, 'still');
    mkdirSync(still);
    symlinkSync(join(PAT222, 'Flair.nii.gz'), join(still, 'flair.nii.gz'));
    symlinkSync(join(PAT222, 'T1c.nii.gz'), join(still, 't1c.nii.gz'));
    const fast = ['--slices', '96:103', '--members', '3', '--steps', '5', '--seed', '1'];
    const run = (dir: string, out: string, ...extra: string[]) => {
      const r = quorumWith({}, 'propose', dir, '--out', out, ...fast, ...extra);
      expect(r.code, r.stderr).toBe(0);
    };
    run(still, join(tmp, 'out-still'));
    run(movedCase, join(tmp, 'out-moved'), '--register', 'rigid');
    const a = await loadVolume(join(tmp, 'out-still', 'mask.nii.gz'));
    const b = await loadVolume(join(tmp, 'out-moved', 'mask.nii.gz'));
    expect(dice(Uint8Array.from(b.data), Uint8Array.from(a.data))).toBeGreaterThanOrEqual(0.9);
    const report = JSON.parse(readFileSync(join(tmp, 'out-moved', 'report.json'), 'utf8'));
    expect(report.sequences[1]).toMatchObject({ sequence: 't1c', action: 'registered' });
    expect(report.sequences[1].registration.rotationDeg).toBeCloseTo(5, 0);
  });
});
