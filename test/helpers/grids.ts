import { voxelToWorld } from '../../core/src/geometry.ts';
import type { Mat3, Vec3, Volume } from '../../core/src/volume.ts';

/** A grid of `dims` x `spacing` along `direction`, centred on `v`'s centre plus `shift` (mm). */
export function centredGrid(v: Volume, direction: Mat3, spacing: Vec3, dims: Vec3, shift: Vec3 = [0, 0, 0]) {
  const centre = voxelToWorld(v, v.dims.map((n) => (n - 1) / 2) as Vec3);
  const origin = [0, 1, 2].map(
    (r) =>
      centre[r] +
      shift[r] -
      [0, 1, 2].reduce((s, c) => s + (direction[c * 3 + r] * spacing[c] * (dims[c] - 1)) / 2, 0),
  ) as Vec3;
  return { dims, spacing, origin, direction };
}

/** Relative mean absolute error and correlation of `a` against `b` where `mask` is set. */
export function agreement(a: Volume, b: Volume, mask: Volume) {
  let [n, sad, sb, sx, sy, sxy, sxx, syy] = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < b.data.length; i++) {
    if (!mask.data[i]) continue;
    const x = a.data[i];
    const y = b.data[i];
    n++;
    sad += Math.abs(x - y);
    sb += Math.abs(y);
    sx += x;
    sy += y;
    sxy += x * y;
    sxx += x * x;
    syy += y * y;
  }
  return {
    relMae: sad / sb,
    corr: (n * sxy - sx * sy) / Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy)),
  };
}
