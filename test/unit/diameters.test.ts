/**
 * The bidimensional (RANO) measurement on real expert masks: the longest diameter equals a brute
 * force over every pair of lesion pixel corners on the slice measured, the perpendicular one lies
 * between area / longest and the longest, and shapes of known size measure as drawn.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { VolumeGeometry } from '../../core/src/api.ts';
import { type Bidimensional, bidimensional, type Ijk } from '../../core/src/diameters.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Mat3, Vec3 } from '../../core/src/volume.ts';
import { DATA } from '../helpers/paths.ts';
import { CORONAL, reorder } from '../helpers/reorder.ts';

const AXIAL: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
const grid = (dims: Vec3, spacing: Vec3 = [1, 1, 1]): VolumeGeometry => ({
  dims,
  spacing,
  origin: [0, 0, 0],
  direction: AXIAL,
});

function bruteLongest(mask: ArrayLike<number>, nx: number, ny: number, k: number, sx: number, sy: number) {
  const on = (i: number, j: number) => i >= 0 && j >= 0 && i < nx && j < ny && !!mask[i + nx * (j + ny * k)];
  // every pair of corners of the edge pixels (a pixel with a 4-neighbour outside the lesion): the
  // farthest pair of corners of the lesion lies on its outline, so no interior pixel can beat them
  const pts: [number, number][] = [];
  let pixels = 0;
  for (let j = 0; j < ny; j++)
    for (let i = 0; i < nx; i++) {
      if (!on(i, j)) continue;
      pixels++;
      if (on(i - 1, j) && on(i + 1, j) && on(i, j - 1) && on(i, j + 1)) continue;
      for (const [a, b] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ])
        pts.push([(i + a) * sx, (j + b) * sy]);
    }
  let best = 0;
  for (let a = 0; a < pts.length; a++)
    for (let b = a + 1; b < pts.length; b++)
      best = Math.max(best, (pts[a][0] - pts[b][0]) ** 2 + (pts[a][1] - pts[b][1]) ** 2);
  return { longest: Math.sqrt(best), area: pixels * sx * sy };
}

/**
 * The calipers' ends as drawn: on slice k, as long as the diameters they stand for, at right
 * angles in millimetres, and each end within a pixel of a lesion pixel (the perpendicular is
 * measured on lines one pixel apart, so its ends may sit up to half a pixel off the pixels it spans).
 */
function expectEnds(m: Bidimensional, mask: ArrayLike<number>, nx: number, ny: number, [sx, sy]: number[]) {
  const mm = ([a, b]: Ijk[]) => [(b[0] - a[0]) * sx, (b[1] - a[1]) * sy];
  const [lx, ly] = mm(m.longestEnds);
  const [px, py] = mm(m.perpendicularEnds);
  expect(Math.hypot(lx, ly)).toBeCloseTo(m.longestMm, 6);
  expect(Math.hypot(px, py)).toBeCloseTo(m.perpendicularMm, 6);
  expect(Math.abs(lx * px + ly * py) / (m.longestMm * m.perpendicularMm)).toBeLessThan(1e-9);
  for (const e of [...m.longestEnds, ...m.perpendicularEnds]) {
    expect(e[2]).toBe(m.k);
    let near = Infinity;
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        if (mask[i + nx * (j + ny * m.k)])
          near = Math.min(near, Math.max(Math.abs(e[0] - i), Math.abs(e[1] - j)));
    expect(near).toBeLessThanOrEqual(1 + 1e-9);
  }
}

describe('bidimensional (RANO) measurement', () => {
  for (const [name, file] of [
    ['TCGA-LGG DU_A5TY', join('tcga-lgg', 'TCGA_DU_A5TY_19970709', 'seg.nii.gz')],
    ['TCGA-LGG FG_6689', join('tcga-lgg', 'TCGA_FG_6689_20020326', 'seg.nii.gz')],
  ])
    it(`measures the real reference of ${name}`, async () => {
      const seg = await loadVolume(join(DATA, file));
      const [nx, ny] = seg.dims;
      const m = bidimensional(seg.data, seg)!;
      expect(m.plane).toBe('axial');
      const brute = bruteLongest(seg.data, nx, ny, m.k, seg.spacing[0], seg.spacing[1]);
      expect(m.longestMm).toBeCloseTo(brute.longest, 6);
      expect(m.perpendicularMm).toBeLessThanOrEqual(m.longestMm);
      // the lesion's area on the slice fits in longest x perpendicular (each line across u holds
      // at most the perpendicular's length of lesion)
      expect(brute.area).toBeLessThanOrEqual(m.longestMm * m.perpendicularMm * 1.05);
      expect(m.productMm2).toBeCloseTo(m.longestMm * m.perpendicularMm, 6);
      expectEnds(m, seg.data, nx, ny, seg.spacing);
      console.log(`${name}: slice ${m.k}, ${m.longestMm.toFixed(1)} x ${m.perpendicularMm.toFixed(1)} mm`);
    });

  it('measures a disc and a tilted bar of known size, in millimetres of anisotropic pixels', () => {
    const [nx, ny] = [80, 80];
    const disc = new Uint8Array(nx * ny * 2);
    // radius 20 mm on 0.5 x 1 mm pixels, on slice 1
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        if (Math.hypot((i + 0.5) * 0.5 - 20, j + 0.5 - 40) <= 20) disc[i + nx * (j + ny)] = 1;
    const d = bidimensional(disc, grid([nx, ny, 2], [0.5, 1, 3]))!;
    expect(d.k).toBe(1);
    expect(d.longestMm).toBeGreaterThan(40);
    expect(d.longestMm).toBeLessThan(41.5);
    expect(d.perpendicularMm).toBeGreaterThan(38.5);
    expect(d.perpendicularMm).toBeLessThanOrEqual(d.longestMm);
    expectEnds(d, disc, nx, ny, [0.5, 1]);

    // a bar 3 pixels thick along the diagonal: long, and thin across
    const bar = new Uint8Array(nx * ny);
    for (let t = 10; t < 60; t++) for (let w = -1; w <= 1; w++) bar[t + w + nx * t] = 1;
    const b = bidimensional(bar, grid([nx, ny, 1]))!;
    expect(b.longestMm).toBeGreaterThan(50 * Math.SQRT2);
    expect(b.perpendicularMm).toBeLessThan(5);
    expectEnds(b, bar, nx, ny, [1, 1]);
    expect(bidimensional(new Uint8Array(nx * ny), grid([nx, ny, 1]))).toBeUndefined();
  });

  it('says the plane it measured in: a file stored in coronal slices is measured on coronal ones', async () => {
    const seg = await loadVolume(join(DATA, 'tcga-lgg', 'TCGA_DU_A5TY_19970709', 'seg.nii.gz'));
    const { volume } = reorder(seg, ...CORONAL);
    expect(bidimensional(volume.data, volume)!.plane).toBe('coronal');
  });
});
