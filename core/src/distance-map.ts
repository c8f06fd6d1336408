import type { Vec3 } from './volume.ts';

/**
 * Exact Euclidean distance, in mm, from every voxel to the nearest voxel of a mask (0 inside it),
 * on an anisotropic grid: Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions"
 * (Theory of Computing 8, 2012), the squared distance as the lower envelope of parabolas, one axis
 * at a time. The same distances as scipy.ndimage.distance_transform_edt(~mask, sampling=spacing),
 * which models/train/contrast_grow.py uses (test/unit/contrast-grow.test.ts compares the two).
 *
 * Only distances up to `withinMm` are computed (the mask's bounding box widened by that much, so a
 * small lesion in a large scan costs little); voxels farther away, and every voxel when the mask is
 * empty, get Infinity.
 */
export function distanceToMask(
  mask: ArrayLike<number>,
  dims: Vec3,
  spacing: Vec3,
  withinMm = Number.POSITIVE_INFINITY,
): Float64Array {
  const n = dims[0] * dims[1] * dims[2];
  if (mask.length !== n) throw new RangeError(`mask has ${mask.length} voxels, dims say ${n}`);
  const dist = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const box = boundingBox(mask, dims);
  if (!box) return dist;
  // the box: lo..hi per axis; a voxel outside lies farther than withinMm along that axis alone
  const lo = [0, 0, 0];
  const hi = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    const margin = Number.isFinite(withinMm) ? Math.ceil(withinMm / spacing[a]) : dims[a];
    lo[a] = Math.max(0, box[0][a] - margin);
    hi[a] = Math.min(dims[a] - 1, box[1][a] + margin);
  }
  const [bx, by, bz] = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
  const at = (i: number, j: number, k: number) => lo[0] + i + dims[0] * (lo[1] + j + dims[1] * (lo[2] + k));
  const d2 = new Float64Array(bx * by * bz);
  for (let k = 0, b = 0; k < bz; k++)
    for (let j = 0; j < by; j++)
      for (let i = 0; i < bx; i++, b++) d2[b] = mask[at(i, j, k)] ? 0 : Number.POSITIVE_INFINITY;
  const longest = Math.max(bx, by, bz);
  const line = new Float64Array(longest);
  const out = new Float64Array(longest);
  const hull = new Int32Array(longest);
  const cuts = new Float64Array(longest + 1);
  // one pass per axis over every line of the box along it: `count` voxels `stride` apart
  const pass = (count: number, stride: number, mm: number, starts: number[]) => {
    if (count < 2) return;
    for (const start of starts) {
      for (let q = 0; q < count; q++) line[q] = d2[start + q * stride];
      envelope(line, count, mm, out, hull, cuts);
      for (let q = 0; q < count; q++) d2[start + q * stride] = out[q];
    }
  };
  const sxy = bx * by;
  pass(bx, 1, spacing[0], lineStarts(by, bx, bz, sxy));
  pass(by, bx, spacing[1], lineStarts(bx, 1, bz, sxy));
  pass(bz, sxy, spacing[2], lineStarts(bx, 1, by, bx));
  for (let k = 0, b = 0; k < bz; k++)
    for (let j = 0; j < by; j++) for (let i = 0; i < bx; i++, b++) dist[at(i, j, k)] = Math.sqrt(d2[b]);
  return dist;
}

/** The first and last index per axis of the mask's voxels; undefined when it has none. */
function boundingBox(mask: ArrayLike<number>, dims: Vec3): [Vec3, Vec3] | undefined {
  const [nx, ny] = dims;
  const lo: Vec3 = [...dims];
  const hi: Vec3 = [-1, -1, -1];
  for (let v = 0; v < mask.length; v++) {
    if (!mask[v]) continue;
    const ijk = [v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny))];
    for (let a = 0; a < 3; a++) {
      if (ijk[a] < lo[a]) lo[a] = ijk[a];
      if (ijk[a] > hi[a]) hi[a] = ijk[a];
    }
  }
  return hi[0] < 0 ? undefined : [lo, hi];
}

/** The first voxel of each line: an `an` x `bn` grid of starts, `as` and `bs` apart. */
function lineStarts(an: number, as: number, bn: number, bs: number): number[] {
  const starts: number[] = [];
  for (let b = 0; b < bn; b++) for (let a = 0; a < an; a++) starts.push(a * as + b * bs);
  return starts;
}

/**
 * out[q] = min over p of f[p] + (mm (q - p))^2 (the 1-D squared distance transform of sampled
 * function f, positions mm apart). Points with f = Infinity take no part; none left: Infinity.
 */
function envelope(
  f: Float64Array,
  count: number,
  mm: number,
  out: Float64Array,
  hull: Int32Array,
  cuts: Float64Array,
): void {
  let k = -1;
  // where the parabolas of p and q (p < q) cross, in units of positions
  const cross = (p: number, q: number) =>
    (f[q] / (mm * mm) + q * q - (f[p] / (mm * mm) + p * p)) / (2 * q - 2 * p);
  for (let q = 0; q < count; q++) {
    if (f[q] === Number.POSITIVE_INFINITY) continue;
    if (k < 0) {
      k = 0;
      hull[0] = q;
      cuts[0] = Number.NEGATIVE_INFINITY;
      cuts[1] = Number.POSITIVE_INFINITY;
      continue;
    }
    let s = cross(hull[k], q);
    while (s <= cuts[k]) {
      k--;
      if (k < 0) break;
      s = cross(hull[k], q);
    }
    k++;
    hull[k] = q;
    cuts[k] = k === 0 ? Number.NEGATIVE_INFINITY : s;
    cuts[k + 1] = Number.POSITIVE_INFINITY;
  }
  if (k < 0) {
    out.fill(Number.POSITIVE_INFINITY, 0, count);
    return;
  }
  let j = 0;
  for (let q = 0; q < count; q++) {
    while (cuts[j + 1] < q) j++;
    const dq = mm * (q - hull[j]);
    out[q] = dq * dq + f[hull[j]];
  }
}
