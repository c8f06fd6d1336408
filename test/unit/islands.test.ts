import { describe, expect, it } from 'vitest';
import {
  dropIslands,
  droppedMl,
  type IslandRule,
  isIslandRule,
  uncertainIslands,
} from '../../core/src/islands.ts';
import type { Vec3 } from '../../core/src/volume.ts';
import { nextRunState } from '../../renderer/src/lib/run-state.ts';
import { loadFixture } from '../helpers/fixtures.ts';

describe('small uncertain islands (core/src/islands.ts)', () => {
  const fx = loadFixture('block', 'islands');
  const dims = fx.meta.dims as Vec3;
  const voxelMl = fx.meta.voxelMl as number;
  const rule = fx.meta.rule as IslandRule;
  const mask = Uint8Array.from(fx.arrays.mask.data);
  const unc = fx.arrays.uncertainty.data;

  it('drops what models/train/islands.py drops on a real proposal block, and nothing else', () => {
    const r = uncertainIslands(mask, unc, dims, voxelMl, rule);
    // the block holds components of both kinds, or it would test nothing
    expect(r.islands.length).toBe((fx.meta.components as number) - (fx.meta.componentsKept as number));
    expect(r.islands.length).toBeGreaterThan(0);
    expect(fx.meta.componentsKept).toBeGreaterThan(0);
    const kept = dropIslands(Uint8Array.from(mask), r);
    expect(Array.from(kept)).toEqual(Array.from(fx.arrays.kept.data));
    expect(droppedMl(r)).toBeCloseTo(fx.meta.droppedMl as number, 9);
    for (const x of r.islands) {
      expect(x.ml).toBeLessThan(rule.belowMl);
      expect(x.meanUncertainty).toBeGreaterThanOrEqual(rule.uncertaintyAtLeast);
      expect(mask[x.voxel[0] + dims[0] * (x.voxel[1] + dims[1] * x.voxel[2])]).toBe(1);
      expect(kept[x.voxel[0] + dims[0] * (x.voxel[1] + dims[1] * x.voxel[2])]).toBe(0);
    }
    // the slices listed are those the dropped voxels lie on
    const plane = dims[0] * dims[1];
    expect(r.slices).toEqual([...new Set(Array.from(r.voxels, (v) => Math.floor(v / plane)))]);
    // what is left has nothing more to drop
    expect(uncertainIslands(kept, unc, dims, voxelMl, rule).islands).toEqual([]);
  });

  it('keeps a confident component of any size and joins across corners (26-connected)', () => {
    const d: Vec3 = [6, 6, 6];
    const at = (i: number, j: number, k: number) => i + 6 * (j + 6 * k);
    const m = new Uint8Array(216);
    const u = new Float32Array(216);
    // two voxels touching only at a corner: one component of 2 voxels, mean uncertainty 0.3
    m[at(1, 1, 1)] = m[at(2, 2, 2)] = 1;
    u[at(1, 1, 1)] = 0.2;
    u[at(2, 2, 2)] = 0.4;
    // a lone confident voxel
    m[at(5, 5, 5)] = 1;
    u[at(5, 5, 5)] = 0.1;
    const r = uncertainIslands(m, u, d, 0.1, { belowMl: 0.5, uncertaintyAtLeast: 0.3 });
    expect(r.islands).toHaveLength(1);
    expect(r.islands[0]).toMatchObject({ slices: [1, 2], voxel: [1, 1, 1] });
    expect(r.islands[0].ml).toBeCloseTo(0.2, 12);
    expect(r.islands[0].meanUncertainty).toBeCloseTo(0.3, 6);
    expect(Array.from(r.voxels)).toEqual([at(1, 1, 1), at(2, 2, 2)]);
    // at 0.2 mL the same pair is no longer "under" the size
    expect(uncertainIslands(m, u, d, 0.1, { belowMl: 0.2, uncertaintyAtLeast: 0.3 }).islands).toEqual([]);
  });

  it('refuses a mask of the wrong size and malformed manifest rules', () => {
    expect(() => uncertainIslands(new Uint8Array(7), new Float32Array(8), [2, 2, 2], 1, rule)).toThrow(
      /dims say 8/,
    );
    expect(isIslandRule(rule)).toBe(true);
    for (const bad of [
      null,
      1,
      {},
      { belowMl: 0, uncertaintyAtLeast: 0.2 },
      { belowMl: 0.5 },
      { belowMl: 0.5, uncertaintyAtLeast: '0.2' },
    ])
      expect(isIslandRule(bad)).toBe(false);
  });
});

describe("the viewer's closing message of a run", () => {
  const running = { running: true, slicesDone: 3, slicesTotal: 3, step: 4, of: 4 };
  const done = { type: 'done' as const, runId: 'r', slices: [1, 2, 3], seconds: 2.04 };

  it('says what the island rule left out, and nothing when it left nothing out', () => {
    const islands = nextRunState(running, { ...done, islands: { count: 2, ml: 0.0671 } }, 3);
    expect(islands).toMatchObject({ running: false, slicesDone: 3 });
    expect(islands.message).toBe('Done: 3 slices in 2.0 s; 2 small uncertain islands (0.07 mL) left out');
    expect(nextRunState(running, { ...done, islands: { count: 1, ml: 0.2 } }, 3).message).toContain(
      '; 1 small uncertain island (0.20 mL) left out',
    );
    for (const e of [done, { ...done, islands: { count: 0, ml: 0 } }])
      expect(nextRunState(running, e, 3).message).toBe('Done: 3 slices in 2.0 s');
  });
});
