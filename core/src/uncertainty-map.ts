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
  const r = Math.floor(TRUNCATE * sigma + 0.5);
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

/** One in-plane pass (axis 0: x, 1: y) over every plane of a slab of nk planes. */
function inPlanePass(
  src: Float32Array,
  dst: Float32Array,
  nx: number,
  ny: number,
  nk: number,
  axis: 0 | 1,
  w: Float64Array,
) {
  const r = (w.length - 1) / 2;
  const stride = axis === 0 ? 1 : nx;
  const n = axis === 0 ? nx : ny;
  for (let k = 0; k < nk; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const at = i + nx * (j + ny * k);
        const pos = axis === 0 ? i : j;
        let s = 0;
        const lo = Math.max(-r, -pos);
        const hi = Math.min(r, n - 1 - pos);
        for (let d = lo; d <= hi; d++) s += w[d + r] * src[at + d * stride];
        dst[at] = s;
      }
}

/**
 * Writes the map of slices k0..k1 (voxel axis 2) into `out`, from `std` (the whole volume's members'
 * std, slices not proposed 0). Only slices k0 - r .. k1 + r of `std` are read, so a proposal
 * streamed slice by slice can update the slices whose neighbourhood is complete.
 */
export function uncertaintyMapSlices(
  std: Float32Array,
  dims: Vec3,
  sigma: number,
  k0: number,
  k1: number,
  out: Float32Array,
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
  const nk = b - a + 1;
  const tmp = new Float32Array(nk * plane);
  const xy = new Float32Array(nk * plane);
  inPlanePass(std.subarray(a * plane, (b + 1) * plane), tmp, nx, ny, nk, 0, w);
  inPlanePass(tmp, xy, nx, ny, nk, 1, w);
  for (let k = k0; k <= k1; k++) {
    const lo = Math.max(-r, -k);
    const hi = Math.min(r, nz - 1 - k);
    const to = k * plane;
    for (let p = 0; p < plane; p++) {
      let s = 0;
      for (let d = lo; d <= hi; d++) s += w[d + r] * xy[(k + d - a) * plane + p];
      out[to + p] = s;
    }
  }
}

/**
 * The map of a volume (a new array): of `slices` (the proposed ones), 0 on the others, so that a
 * proposal of a few slices does not spill into slices it never looked at; default every slice.
 */
export function uncertaintyMap(
  std: Float32Array,
  dims: Vec3,
  sigma: number,
  slices?: Iterable<number>,
): Float32Array {
  const out = new Float32Array(std.length);
  const ks = slices
    ? [...new Set(slices)].sort((a, b) => a - b)
    : Array.from({ length: dims[2] }, (_, k) => k);
  for (let i = 0; i < ks.length; ) {
    let j = i;
    while (j + 1 < ks.length && ks[j + 1] === ks[j] + 1) j++;
    uncertaintyMapSlices(std, dims, sigma, ks[i], ks[j], out);
    i = j + 1;
  }
  return out;
}
