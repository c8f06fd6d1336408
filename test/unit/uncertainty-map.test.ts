import { describe, expect, it } from 'vitest';
import { gaussianKernel, uncertaintyMap, uncertaintyMapSlices } from '../../core/src/uncertainty-map.ts';
import type { Vec3 } from '../../core/src/volume.ts';
import { loadFixture, maxAbsDiff } from '../helpers/fixtures.ts';

describe('uncertainty map (3-D Gaussian of the members std)', () => {
  const fx = loadFixture('block', 'uncertainty-map');
  const dims = fx.meta.dims as Vec3;
  const std = fx.arrays.std.data;

  it('equals models/train/uncertainty.py on a real std block (sigma 1 and 0.7)', () => {
    expect(std.some((v) => v > 0.2)).toBe(true);
    for (const [sigma, ref] of [
      [1, fx.arrays.map1.data],
      [0.7, fx.arrays.map07.data],
    ] as const) {
      const map = uncertaintyMap(std, dims, sigma);
      // float64 sums stored as float32 between passes on both sides: equal to the last bit or two
      expect(maxAbsDiff(map, ref)).toBeLessThan(1e-6);
      expect(maxAbsDiff(map, std)).toBeGreaterThan(0.05);
    }
  });

  it('updates a run of slices as the whole volume would (streamed proposals)', () => {
    const whole = uncertaintyMap(std, dims, 1);
    const out = new Float32Array(std.length);
    for (let k = 0; k < dims[2]; k += 5)
      uncertaintyMapSlices(std, dims, 1, k, Math.min(dims[2] - 1, k + 4), out);
    expect(maxAbsDiff(out, whole)).toBe(0);
  });

  it('spreads one voxel as the normalised kernel, the outside counting as 0', () => {
    const d: Vec3 = [9, 9, 9];
    const one = new Float32Array(9 * 9 * 9);
    one[4 + 9 * (4 + 9 * 4)] = 1;
    const map = uncertaintyMap(one, d, 1);
    const w = gaussianKernel(1);
    expect(w.length).toBe(7);
    expect(map[4 + 9 * (4 + 9 * 5)]).toBeCloseTo(w[3] * w[3] * w[4], 7);
    expect(map.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // sigma 0: the std itself
    expect(maxAbsDiff(uncertaintyMap(std, dims, 0), std)).toBe(0);
  });

  it('is the same map in any voxel order (x and z swapped, y mirrored), to float rounding', () => {
    const [nx, ny, nz] = dims;
    const at = (i: number, j: number, k: number, d: Vec3) => i + d[0] * (j + d[1] * k);
    const swapped: Vec3 = [nz, ny, nx];
    const other = new Float32Array(std.length);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) other[at(k, ny - 1 - j, i, swapped)] = std[at(i, j, k, dims)];
    const map = uncertaintyMap(std, dims, 1);
    const back = uncertaintyMap(other, swapped, 1);
    let worst = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++)
          worst = Math.max(worst, Math.abs(back[at(k, ny - 1 - j, i, swapped)] - map[at(i, j, k, dims)]));
    expect(worst).toBeLessThan(1e-6);
  });

  it('leaves slices that were not proposed at 0, and gives a lone slice its own level of doubt', () => {
    const plane = dims[0] * dims[1];
    const every = Array.from({ length: dims[2] }, (_, k) => k);
    expect(maxAbsDiff(uncertaintyMap(std, dims, 1, every), uncertaintyMap(std, dims, 1))).toBe(0);
    const some = uncertaintyMap(std, dims, 1, [2, 3, 4, 8]);
    for (let k = 0; k < dims[2]; k++)
      if (![2, 3, 4, 8].includes(k))
        expect(some.subarray(k * plane, (k + 1) * plane).every((v) => v === 0)).toBe(true);
    // slice 8 alone: its unproposed neighbours are unknown, not certain, so it gets the in-plane
    // smoothing of its own std, as if its neighbours were like it (slice 8 copied into every slice)
    const copies = new Float32Array(std.length);
    for (let k = 0; k < dims[2]; k++) copies.set(std.subarray(8 * plane, 9 * plane), k * plane);
    const like = uncertaintyMap(copies, dims, 1).subarray(5 * plane, 6 * plane);
    const lone = some.subarray(8 * plane, 9 * plane);
    expect(maxAbsDiff(lone, like)).toBeLessThan(1e-6);
    expect(Math.max(...lone)).toBeGreaterThan(0.1);
  });
});
