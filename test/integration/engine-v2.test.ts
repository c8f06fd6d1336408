import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelManifest } from '../../core/src/manifest.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Volume } from '../../core/src/volume.ts';
import { EngineClient } from '../../workers/src/client.ts';
import { readManifest } from '../../workers/src/engine/session.ts';
import type { ChannelVolume, ProposeSummary, SliceResult } from '../../workers/src/protocol.ts';
import { DATA, REPO } from '../helpers/paths.ts';
import { EVERY_VOXEL_V2, reorder } from '../helpers/reorder.ts';

const ch = (v: Volume): ChannelVolume => ({ ...v, data: Float32Array.from(v.data) });

/**
 * The engine with 'head-robust-v2' preprocessing, on the v1 network (the plumbing, not the
 * segmentation, is under test): a whole-head 8-bit TCGA-LGG scan, once as stored (axial order)
 * and once stored sagittal-first with a flipped axis, must give the same maps at the same world
 * positions.
 */
describe('engine with v2 preprocessing, any voxel order', () => {
  const modelDir = mkdtempSync(join(tmpdir(), 'quorum-v2frame-'));
  let engine: EngineClient;
  let flair: Volume;
  let t1c: Volume;
  beforeAll(async () => {
    const v1 = readManifest(join(REPO, 'models', 'quorum-wt-2ch'));
    const manifest: ModelManifest = { ...v1, name: 'v2-frame-test', preprocess: EVERY_VOXEL_V2 };
    copyFileSync(join(REPO, 'models', 'quorum-wt-2ch', v1.file), join(modelDir, v1.file));
    writeFileSync(join(modelDir, 'manifest.json'), JSON.stringify(manifest));
    const dir = join(DATA, 'tcga-lgg', 'TCGA_FG_6689_20020326');
    [flair, t1c] = await Promise.all([
      loadVolume(join(dir, 'flair.nii.gz')),
      loadVolume(join(dir, 't1c.nii.gz')),
    ]);
    engine = await EngineClient.start({ device: 'cpu', modelDir });
  });
  afterAll(() => {
    engine?.close();
    rmSync(modelDir, { recursive: true, force: true });
  });

  const run = async (
    volumes: { flair: ChannelVolume; t1c: ChannelVolume },
    slices?: [number, number],
    members = 2,
  ) => {
    const results: SliceResult[] = [];
    let progress = 0;
    const req = { caseName: 'lgg', volumes, slices, members, steps: 2, seed: 3, keepMembers: true };
    const summary: ProposeSummary = await engine.propose(req, (e) => {
      if (e.type === 'slice') results.push(e.result);
      if (e.type === 'progress') progress++;
    }).result;
    return { results, summary, progress };
  };

  it('assembles sagittal-ordered model slices into the same maps per world voxel', async () => {
    const axial = await run({ flair: ch(flair), t1c: ch(t1c) });
    expect(axial.results.map((r) => r.k)).toEqual(axial.summary.slices);
    // the v2 frame proposes the slices with head in them, not every slice
    expect(axial.summary.slices.length).toBeGreaterThan(30);
    expect(axial.summary.skipped.length).toBeGreaterThan(0);
    // model slice index (old k) unflipped, so that each slice draws the same noise as above
    const a = reorder(flair, [2, 0, 1], [false, false, true]);
    const b = reorder(t1c, [2, 0, 1], [false, false, true]);
    const sag = await run({ flair: ch(a.volume), t1c: ch(b.volume) });
    expect(sag.progress).toBeGreaterThan(0);
    const [n0, n1, n2] = a.volume.dims;
    expect(sag.results.map((r) => r.k)).toEqual(sag.summary.slices);
    expect([...sag.summary.slices, ...sag.summary.skipped].sort((x, y) => x - y)).toEqual(
      Array.from({ length: n2 }, (_, k) => k),
    );
    expect(sag.summary.skipped.length).toBeGreaterThan(0);
    const byK = new Map(axial.results.map((r) => [r.k, r]));
    const [nx] = flair.dims;
    let compared = 0;
    let lesion = 0;
    let worst = 0;
    let maskDiff = 0;
    for (const r of sag.results) {
      expect(r.mean.length).toBe(n0 * n1);
      expect(r.members).toHaveLength(2);
      for (let q = 0; q < n1; q++)
        for (let p = 0; p < n0; p++) {
          const [i, j, k] = a.toOld([p, q, r.k]);
          const ref = byK.get(k);
          const v = r.mean[p + n0 * q];
          if (!ref) {
            // an axial slice without head: never sampled, so nothing there
            expect(v).toBe(0);
            continue;
          }
          const w = ref.mean[i + nx * j];
          worst = Math.max(worst, Math.abs(v - w));
          if (r.mask[p + n0 * q] !== ref.mask[i + nx * j]) maskDiff++;
          lesion += ref.mask[i + nx * j];
          compared++;
        }
    }
    expect(compared).toBeGreaterThan(1e6);
    // same inputs (to float rounding) and same noise: the same maps, to the network's rounding
    expect(worst).toBeLessThan(1e-4);
    expect(maskDiff).toBeLessThanOrEqual(Math.max(10, lesion * 1e-3));
    expect(sag.summary.confidence).toBeCloseTo(axial.summary.confidence, 1);
  });

  it('sends only the requested native slices of a sagittal-ordered case', async () => {
    const a = reorder(flair, [2, 0, 1], [false, false, true]);
    const b = reorder(t1c, [2, 0, 1], [false, false, true]);
    const { results, summary } = await run({ flair: ch(a.volume), t1c: ch(b.volume) }, [120, 122]);
    expect(summary.slices).toEqual([120, 121, 122]);
    expect(summary.skipped).toEqual([]);
    expect(results.map((r) => r.k)).toEqual([120, 121, 122]);
    expect(results.every((r) => r.mean.some((v) => v > 0))).toBe(true);
  });

  it('gives one sample an uncertainty of exactly 0 (nothing to disagree with)', async () => {
    const { results } = await run({ flair: ch(flair), t1c: ch(t1c) }, [20, 22], 1);
    expect(results).toHaveLength(3);
    expect(results.some((r) => r.mean.some((v) => v > 0.01 && v < 0.99))).toBe(true);
    for (const r of results) expect(r.std.every((v) => v === 0)).toBe(true);
  });
});
