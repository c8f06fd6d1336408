/**
 * core/src/resample.ts on a real scan (BraTS pat222 T1c): onto its own grid it is the identity,
 * an integer shift of the target grid moves the values by exactly that many voxels, a label keeps
 * its values and type with nearest neighbour, and the angle between grids ignores axis order.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadVolume } from '../../core/src/node/load.ts';
import { backgroundValue, gridAngleDeg, resampleToGrid } from '../../core/src/resample.ts';
import type { Mat3, Vec3, Volume } from '../../core/src/volume.ts';
import { DATA } from '../helpers/paths.ts';

const PAT222 = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222');
let t1c: Volume;
let label: Volume;
beforeAll(async () => {
  t1c = await loadVolume(join(PAT222, 'T1c.nii.gz'));
  label = await loadVolume(join(PAT222, 'segmentation.nii.gz'));
});

const tilt = (deg: number): Mat3 => {
  const a = (deg * Math.PI) / 180;
  return [1, 0, 0, 0, Math.cos(a), Math.sin(a), 0, -Math.sin(a), Math.cos(a)];
};

describe('resampleToGrid', () => {
  it('onto its own grid: every value unchanged, full overlap, 0 degrees', () => {
    const r = resampleToGrid(t1c, t1c);
    expect(r.overlap).toBe(1);
    expect(r.angleDeg).toBe(0);
    let differ = 0;
    for (let i = 0; i < t1c.data.length; i++) if (r.volume.data[i] !== t1c.data[i]) differ++;
    expect(differ).toBe(0);
  });

  it('a target grid shifted by whole voxels reads the shifted voxels; outside gets the background', () => {
    const [nx, ny] = t1c.dims;
    // target origin 3 voxels along +i, 2 along +j, 1 along +k of the source
    const origin: Vec3 = [0, 1, 2].map(
      (r) => t1c.origin[r] + 3 * t1c.direction[r] + 2 * t1c.direction[3 + r] + 1 * t1c.direction[6 + r],
    ) as Vec3;
    const r = resampleToGrid(t1c, { ...t1c, origin });
    const at = (v: Volume, i: number, j: number, k: number) => v.data[i + nx * (j + ny * k)];
    for (const [i, j, k] of [
      [100, 120, 70],
      [60, 80, 100],
      [150, 90, 40],
    ])
      expect(at(r.volume, i, j, k)).toBe(at(t1c, i + 3, j + 2, k + 1));
    expect(at(r.volume, nx - 1, 10, 10)).toBe(backgroundValue(t1c));
    const [tx, ty, tz] = t1c.dims;
    expect(r.overlap).toBeCloseTo(((tx - 3) * (ty - 2) * (tz - 1)) / (tx * ty * tz), 6);
  });

  it('nearest neighbour keeps a label its values and data type', () => {
    const r = resampleToGrid(label, { ...label, direction: tilt(10) }, { interpolation: 'nearest' });
    expect(r.volume.data.constructor).toBe(label.data.constructor);
    expect(new Set(r.volume.data)).toEqual(new Set(label.data));
    expect(r.angleDeg).toBeCloseTo(10, 6);
  });

  it('the angle between grids ignores axis order and flips', () => {
    const axial: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    const sagittal: Mat3 = [0, 1, 0, 0, 0, -1, -1, 0, 0]; // i posterior, j inferior, k right
    expect(gridAngleDeg({ direction: axial }, { direction: sagittal })).toBeCloseTo(0, 9);
    expect(gridAngleDeg({ direction: axial }, { direction: tilt(10) })).toBeCloseTo(10, 9);
    expect(gridAngleDeg({ direction: sagittal }, { direction: tilt(-25) })).toBeCloseTo(25, 9);
  });
});
