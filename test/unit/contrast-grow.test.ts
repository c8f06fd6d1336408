import { describe, expect, it } from 'vitest';
import { edgeGrowth, growEdge, isEdgeRule, orderStatistic } from '../../core/src/contrast-grow.ts';
import { distanceToMask } from '../../core/src/distance-map.ts';
import type { Vec3 } from '../../core/src/volume.ts';
import { nextRunState } from '../../renderer/src/lib/run-state.ts';
import { loadFixture } from '../helpers/fixtures.ts';

describe('edge growth by the FLAIR contrast (core/src/contrast-grow.ts)', () => {
  it('adds what models/train/contrast_grow.py adds on a real proposal block, with its levels', () => {
    const fx = loadFixture('block', 'contrast-grow');
    const dims = fx.meta.dims as Vec3;
    const spacing = fx.meta.spacing as Vec3;
    const rule = fx.meta.rule as { alpha: number; bandMm: number; minProbability: number };
    expect(isEdgeRule(rule)).toBe(true);
    const prob = fx.arrays.probability.data;
    const mask = Uint8Array.from(prob, (p) => (p > 0.5 ? 1 : 0));
    const r = edgeGrowth(mask, prob, fx.arrays.flair.data, dims, spacing, 0.001, rule);
    // the block was cut where the rule adds voxels, or it would test nothing
    expect(fx.meta.added).toBeGreaterThan(100);
    expect(r.voxels.length).toBe(fx.meta.added);
    expect(r.lesionLevel).toBe(fx.meta.lesionLevel);
    expect(r.normalLevel).toBe(fx.meta.normalLevel);
    expect(r.threshold).toBeCloseTo(fx.meta.threshold as number, 9);
    const grown = growEdge(Uint8Array.from(mask), r);
    expect(Array.from(grown)).toEqual(Array.from(fx.arrays.grown.data));
    expect(r.ml).toBeCloseTo(r.voxels.length * 0.001, 12);
    // every added voxel is outside the mask, above the threshold and the probability floor
    for (const v of r.voxels) {
      expect(mask[v]).toBe(0);
      expect(prob[v]).toBeGreaterThanOrEqual(Math.fround(rule.minProbability));
    }
    const plane = dims[0] * dims[1];
    expect(r.slices).toEqual([...new Set(Array.from(r.voxels, (v) => Math.floor(v / plane)))]);
    // the same voxels stored with another scale and offset (an int16 writer's, z-scores): every
    // level is an order statistic of the case's own voxels, so the same voxels join
    for (const [scale, offset] of [
      [3.7, -300],
      [0.5, 20],
      [0.02, -1.5],
    ]) {
      const stored = Float32Array.from(fx.arrays.flair.data, (v) => scale * v + offset);
      const again = edgeGrowth(mask, prob, stored, dims, spacing, 0.001, rule);
      expect(Array.from(again.voxels), `${scale} v + ${offset}`).toEqual(Array.from(r.voxels));
    }
  });

  it('adds nothing when the lesion is not brighter than its surround, or the mask is empty', () => {
    const dims: Vec3 = [40, 40, 3];
    const n = 1600 * 3;
    // slice 1 holds the lesion in tissue at 100; slices 0 and 2 are dark (air: below the shell's floor)
    const flair = Float32Array.from({ length: n }, (_, v) => (Math.floor(v / 1600) === 1 ? 100 : 50));
    const prob = new Float32Array(n).fill(0.3);
    const mask = new Uint8Array(n);
    const at = (i: number, j: number, k: number) => i + 40 * (j + 40 * k);
    for (let j = 15; j < 25; j++)
      for (let i = 15; i < 25; i++) {
        mask[at(i, j, 1)] = 1;
        prob[at(i, j, 1)] = 0.9;
      }
    const rule = { alpha: 0.5, bandMm: 3, minProbability: 0.05 };
    const flat = edgeGrowth(mask, prob, flair, dims, [1, 1, 1], 0.001, rule);
    expect(flat.voxels.length).toBe(0);
    expect(flat.lesionLevel).toBe(100);
    expect(flat.normalLevel).toBe(100);
    expect(edgeGrowth(new Uint8Array(n), prob, flair, dims, [1, 1, 1], 0.001, rule).voxels.length).toBe(0);
    // a bright lesion with a bright rim 2 voxels wide joins the rim, not the bright spot 8 mm away
    for (let v = 0; v < n; v++) if (mask[v]) flair[v] = 200;
    for (let j = 13; j < 27; j++)
      for (let i = 13; i < 27; i++) if (!mask[at(i, j, 1)]) flair[at(i, j, 1)] = 180;
    flair[at(35, 20, 1)] = 200;
    const r = edgeGrowth(mask, prob, flair, dims, [1, 1, 1], 0.001, rule);
    expect(r.voxels.length).toBe(14 * 14 - 100);
    expect(Array.from(r.voxels)).not.toContain(at(35, 20, 1));
    // a voxel the members gave to the lesion (> 0.5) that is not in the mask was dropped as an
    // island: it stays out, and so does what only it connects
    const dropped = Float32Array.from(prob);
    dropped[at(14, 20, 1)] = 0.9;
    const without = edgeGrowth(mask, dropped, flair, dims, [1, 1, 1], 0.001, rule);
    expect(Array.from(without.voxels)).not.toContain(at(14, 20, 1));
    expect(without.voxels.length).toBe(14 * 14 - 100 - 1);
    // below the probability floor nothing joins
    const low = Float32Array.from(prob, (p) => (p === Math.fround(0.3) ? 0.01 : p));
    expect(edgeGrowth(mask, low, flair, dims, [1, 1, 1], 0.001, rule).voxels.length).toBe(0);
  });

  it('distances are exact Euclidean mm on an anisotropic grid, and Infinity past withinMm', () => {
    const dims: Vec3 = [13, 9, 7];
    const spacing: Vec3 = [0.9, 1.3, 3.1];
    const n = 13 * 9 * 7;
    const mask = new Uint8Array(n);
    // a few scattered voxels (a fixed pattern, not random: the test must not depend on a seed)
    for (const v of [5, 200, 333, 640, 701]) mask[v] = 1;
    const d = distanceToMask(mask, dims, spacing);
    const ijk = (v: number) => [v % 13, Math.floor(v / 13) % 9, Math.floor(v / 117)];
    for (let v = 0; v < n; v++) {
      let best = Number.POSITIVE_INFINITY;
      for (let w = 0; w < n; w++) {
        if (!mask[w]) continue;
        const [a, b] = [ijk(v), ijk(w)];
        const s = ((a[0] - b[0]) * 0.9) ** 2 + ((a[1] - b[1]) * 1.3) ** 2 + ((a[2] - b[2]) * 3.1) ** 2;
        best = Math.min(best, s);
      }
      expect(d[v]).toBeCloseTo(Math.sqrt(best), 9);
    }
    const near = distanceToMask(mask, dims, spacing, 4);
    for (let v = 0; v < n; v++) if (d[v] <= 4) expect(near[v]).toBeCloseTo(d[v], 9);
    expect(
      distanceToMask(new Uint8Array(n), dims, spacing).every((x) => x === Number.POSITIVE_INFINITY),
    ).toBe(true);
  });

  it('order statistics are the value at floor(q (n - 1)) of the sorted values, as numpy partition', () => {
    const vals = [7, 3, 9, 1, 5, 5, 2, 8];
    const sorted = [...vals].sort((a, b) => a - b);
    for (const q of [0, 0.25, 0.5, 0.75, 1])
      expect(orderStatistic(Float32Array.from(vals), q)).toBe(sorted[Math.floor(q * 7)]);
    expect(orderStatistic(new Float32Array(0), 0.5)).toBeUndefined();
  });

  it('refuses a rule out of range', () => {
    expect(isEdgeRule({ alpha: 0.5, bandMm: 3, minProbability: 0.05 })).toBe(true);
    expect(isEdgeRule({ alpha: 1.5, bandMm: 3, minProbability: 0.05 })).toBe(false);
    expect(isEdgeRule({ alpha: 0.5, bandMm: 0, minProbability: 0.05 })).toBe(false);
    expect(isEdgeRule({ alpha: 0.5, bandMm: 3 })).toBe(false);
    expect(isEdgeRule(null)).toBe(false);
  });

  it("says in the run's closing message how much the edge grew", () => {
    const running = { running: true, slicesDone: 3, slicesTotal: 3, step: 4, of: 4 };
    const done = { type: 'done' as const, runId: 'r', slices: [1, 2, 3], seconds: 2 };
    expect(nextRunState(running, { ...done, edge: { ml: 1.234 } }, 3).message).toBe(
      'Done: 3 slices in 2.0 s; edge grown by 1.23 mL to the FLAIR contrast',
    );
    const both = nextRunState(running, { ...done, islands: { count: 1, ml: 0.2 }, edge: { ml: 0.5 } }, 3);
    expect(both.message).toBe(
      'Done: 3 slices in 2.0 s; 1 small uncertain island (0.20 mL) left out; edge grown by 0.50 mL to the FLAIR contrast',
    );
    expect(nextRunState(running, { ...done, edge: { ml: 0 } }, 3).message).toBe('Done: 3 slices in 2.0 s');
  });
});
