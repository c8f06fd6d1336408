import type { Vec3 } from './volume.ts';

/**
 * The uncertainty map of a proposal, from its members' per-voxel std.
 *
 * The network sees one axial slice at a time, so the members' disagreement about whether a lesion
 * goes on into the next slice shows in this slice's std, not in that one's: where every member
 * missed a lesion's top or bottom slice, its std is 0 although its voxels are wrong. A 3-D
 * Gaussian of the std (sigma in voxels on every axis, truncated at 3 sigma, zero outside the
 * volume: scipy's gaussian_filter(std, sigma, mode='constant', truncate=3)) spreads each voxel's
 * disagreement to its neighbours. The model's manifest asks for it (recommended
 * .uncertaintySigmaVoxels); models/train/uncertainty.py is the training side's copy, and
 * test/unit/uncertainty-map.test.ts checks the two equal on a fixture. The mask and the case
 * confidence come from the members themselves; the slice scores (and so the uncertain mL) are the
 * map's, as the viewer shows it.
 */

const TRUNCATE = 3;

/** Normalised Gaussian weights, index r + d for offset d in [-r, r] (scipy's radius rule). */
export function gaussianKernel(sigma: number): Float64Array {
  const r = uncertaintyRadius(sigma);
  const w = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let d = -r; d <= r; d++) sum += w[d + r] = Math.exp((-0.5 * d * d) / (sigma * sigma));
  for (let i = 0; i < w.length; i++) w[i] /= sum;
  return w;
}

/** Slices of the std a map slice depends on: the kernel's radius on either side. */
export function uncertaintyRadius(sigma: number): number {
  return sigma > 0 ? Math.floor(TRUNCATE * sigma + 0.5) : 0;
}

/** [i0, i1, j0, j1] of a plane's non-zero voxels, or undefined when it has none. */
type Box = [number, number, number, number] | undefined;

function nonZeroBox(v: Float32Array, at: number, nx: number, ny: number): Box {
  let [i0, i1, j0, j1] = [nx, -1, ny, -1];
  for (let j = 0; j < ny; j++)
    for (let i = 0, p = at + j * nx; i < nx; i++, p++)
      if (v[p] !== 0) {
        if (i < i0) i0 = i;
        if (i > i1) i1 = i;
        if (j < j0) j0 = j;
        if (j > j1) j1 = j;
      }
  return i1 < 0 ? undefined : [i0, i1, j0, j1];
}

/** `box` grown by r on each side, within the plane; the union with `other`. */
function grow(box: Box, r: number, nx: number, ny: number, other?: Box): Box {
  if (!box) return other;
  const g: Box = [
    Math.max(0, box[0] - r),
    Math.min(nx - 1, box[1] + r),
    Math.max(0, box[2] - r),
    Math.min(ny - 1, box[3] + r),
  ];
  return other
    ? [Math.min(g[0], other[0]), Math.max(g[1], other[1]), Math.min(g[2], other[2]), Math.max(g[3], other[3])]
    : g;
}

/**
 * One in-plane pass (axis 0: x, 1: y) of plane `at`, over the voxels of `box` only: outside it the
 * source is 0 within the kernel's reach, so the sums there are exactly 0 (dst starts zeroed).
 */
function inPlanePass(
  src: Float32Array,
  dst: Float32Array,
  at: number,
  nx: number,
  ny: number,
  axis: 0 | 1,
  w: Float64Array,
  box: NonNullable<Box>,
) {
  const r = (w.length - 1) / 2;
  const stride = axis === 0 ? 1 : nx;
  const n = axis === 0 ? nx : ny;
  for (let j = box[2]; j <= box[3]; j++)
    for (let i = box[0]; i <= box[1]; i++) {
      const p = at + i + nx * j;
      const pos = axis === 0 ? i : j;
      let s = 0;
      const lo = Math.max(-r, -pos);
      const hi = Math.min(r, n - 1 - pos);
      for (let d = lo; d <= hi; d++) s += w[d + r] * src[p + d * stride];
      dst[p] = s;
    }
}

/**
 * Writes the map of slices k0..k1 (voxel axis 2) into `out`, from `std` (the whole volume's members'
 * std). Only slices k0 - r .. k1 + r of `std` are read, so a proposal streamed slice by slice can
 * update the slices whose neighbourhood is complete. `known`: the slices whose std there is (the
 * proposed ones); a neighbour not proposed is not known to be certain, so the across-slice weight
 * of unknown neighbours goes to the known ones (a one-slice proposal keeps its own level of
 * doubt). Default: every slice known (scipy's result exactly). Work is limited to each plane's
 * non-zero box grown by the kernel (the std is 0 on most of a slice).
 */
export function uncertaintyMapSlices(
  std: Float32Array,
  dims: Vec3,
  sigma: number,
  k0: number,
  k1: number,
  out: Float32Array,
  known?: (k: number) => boolean,
): void {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  if (!(sigma > 0)) {
    out.set(std.subarray(k0 * plane, (k1 + 1) * plane), k0 * plane);
    return;
  }
  const w = gaussianKernel(sigma);
  const r = uncertaintyRadius(sigma);
  // the slab the z pass reads; in-plane passes (x, then y: scipy's axis order) kept as float32
  // between passes, as scipy does for a float32 input
  const a = Math.max(0, k0 - r);
  const b = Math.min(nz - 1, k1 + r);
  const slab = std.subarray(a * plane, (b + 1) * plane);
  const tmp = new Float32Array(slab.length);
  const xy = new Float32Array(slab.length);
  const boxes: Box[] = [];
  for (let q = 0; q <= b - a; q++) {
    const box = nonZeroBox(slab, q * plane, nx, ny);
    // after both passes the plane is non-zero within its box grown by r on each side
    boxes.push(grow(box, r, nx, ny));
    if (!box) continue;
    inPlanePass(slab, tmp, q * plane, nx, ny, 0, w, [boxes[q]![0], boxes[q]![1], box[2], box[3]]);
    inPlanePass(tmp, xy, q * plane, nx, ny, 1, w, boxes[q]!);
  }
  for (let k = k0; k <= k1; k++) {
    const to = k * plane;
    out.fill(0, to, to + plane);
    // offsets of the neighbours that count, and the factor that gives them the others' weight
    const use: number[] = [];
    let inside = 0;
    let counted = 0;
    for (let d = Math.max(-r, -k); d <= Math.min(r, nz - 1 - k); d++) {
      inside += w[d + r];
      if (known && !known(k + d)) continue;
      counted += w[d + r];
      use.push(d);
    }
    if (!use.length) continue;
    const scale = counted === inside ? 1 : inside / counted;
    let box: Box;
    for (const d of use) box = grow(boxes[k + d - a], 0, nx, ny, box);
    if (!box) continue;
    for (let j = box[2]; j <= box[3]; j++)
      for (let i = box[0], p = i + nx * j; i <= box[1]; i++, p++) {
        let s = 0;
        for (const d of use) s += w[d + r] * xy[(k + d - a) * plane + p];
        out[to + p] = scale === 1 ? s : s * scale;
      }
  }
}

/**
 * The map of a volume (a new array): of `slices` (the proposed ones), 0 on the others, so that a
 * proposal of a few slices does not spill into slices it never looked at; default every slice.
 * Known slices (uncertaintyMapSlices): `slices` and `certain` (slices the engine skipped for
 * having no head in them: their std is 0 for sure).
 */
export function uncertaintyMap(
  std: Float32Array,
  dims: Vec3,
  sigma: number,
  slices?: Iterable<number>,
  certain: Iterable<number> = [],
): Float32Array {
  const out = new Float32Array(std.length);
  const ks = slices ? [...slices] : Array.from({ length: dims[2] }, (_, k) => k);
  const known = slices ? new Set([...ks, ...certain]) : undefined;
  uncertaintyMapOf(std, dims, sigma, ks, out, known && ((k) => known.has(k)));
  return out;
}

/** uncertaintyMapSlices for `slices` (any order), one call per run of consecutive ones. */
export function uncertaintyMapOf(
  std: Float32Array,
  dims: Vec3,
  sigma: number,
  slices: Iterable<number>,
  out: Float32Array,
  known?: (k: number) => boolean,
): void {
  const ks = [...new Set(slices)].sort((a, b) => a - b);
  for (let i = 0; i < ks.length; ) {
    let j = i;
    while (j + 1 < ks.length && ks[j + 1] === ks[j] + 1) j++;
    uncertaintyMapSlices(std, dims, sigma, ks[i], ks[j], out, known);
    i = j + 1;
  }
}
