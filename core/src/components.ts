import type { Vec3 } from './volume.ts';

/**
 * The 3D connected component (6-connected: faces, not edges or corners, as ITK-SNAP and
 * Slicer's "islands" default to) of voxels equal to `value` that contains `seed`, as sorted flat
 * indices (i fastest). Empty when the seed voxel does not hold `value`. Used to accept or reject
 * one proposed lesion at a time.
 */
export function connectedComponent(
  labels: ArrayLike<number>,
  dims: Vec3,
  seed: number,
  value: number,
): Uint32Array {
  const n = dims[0] * dims[1] * dims[2];
  if (labels.length !== n) throw new RangeError(`labels have ${labels.length} voxels, dims say ${n}`);
  if (!(seed >= 0 && seed < n) || labels[seed] !== value) return new Uint32Array(0);
  const out: number[] = [];
  grow(labels, dims, seed, value, new Uint8Array(n), out);
  return Uint32Array.from(out).sort();
}

/**
 * Breadth-first from `seed` (which holds `value` and is not yet `seen`): every voxel of its
 * 6-connected component is marked in `seen` and left in `out`, which doubles as the queue.
 */
function grow(
  labels: ArrayLike<number>,
  dims: Vec3,
  seed: number,
  value: number,
  seen: Uint8Array,
  out: number[],
) {
  out.length = 0;
  out.push(seed);
  seen[seed] = 1;
  floodFaces(dims, out, (w) => {
    if (seen[w] || labels[w] !== value) return false;
    seen[w] = 1;
    return true;
  });
}

/**
 * Breadth-first by faces (6-connected) from the voxels in `queue` (flat indices, i fastest): each
 * face neighbour for which `joins` says true (it marks its own visited set) is appended to `queue`,
 * which then holds every voxel reached.
 */
export function floodFaces(dims: Vec3, queue: number[], joins: (w: number) => boolean): void {
  const [nx, ny, nz] = dims;
  const sxy = nx * ny;
  const visit = (w: number) => {
    if (joins(w)) queue.push(w);
  };
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q];
    const i = v % nx;
    const j = ((v - i) / nx) % ny;
    const k = Math.floor(v / sxy);
    if (i > 0) visit(v - 1);
    if (i < nx - 1) visit(v + 1);
    if (j > 0) visit(v - nx);
    if (j < ny - 1) visit(v + nx);
    if (k > 0) visit(v - sxy);
    if (k < nz - 1) visit(v + sxy);
  }
}

/** One 3D connected component of a label value (labelComponents). */
export interface Component {
  /** Its lowest flat index: a voxel of it, for connectedComponent or a click. */
  seed: number;
  voxels: number;
  /** First and last slice k it reaches. */
  kRange: [number, number];
  /** Voxel-index centre of mass. */
  centroid: Vec3;
}

/**
 * Every 6-connected component of voxels equal to `value`, largest first (ties: lowest seed).
 * `slices`: the only slices k that hold `value`, when the caller counts per slice (the rest are not
 * read). The lesion list of the Proposal panel: each proposed lesion, to go to, accept or reject.
 */
export function labelComponents(
  labels: ArrayLike<number>,
  dims: Vec3,
  value: number,
  slices?: Iterable<number>,
): Component[] {
  const [nx, ny, nz] = dims;
  const sxy = nx * ny;
  if (labels.length !== sxy * nz)
    throw new RangeError(`labels have ${labels.length} voxels, dims say ${sxy * nz}`);
  const seen = new Uint8Array(labels.length);
  const out: Component[] = [];
  const voxels: number[] = [];
  const ks = [...(slices ?? Array.from({ length: nz }, (_, k) => k))].sort((a, b) => a - b);
  for (const k0 of ks)
    for (let s = k0 * sxy, e = s + sxy; s < e; s++) {
      if (seen[s] || labels[s] !== value) continue;
      grow(labels, dims, s, value, seen, voxels);
      let [si, sj, sk, k1, k2] = [0, 0, 0, nz, -1];
      for (const v of voxels) {
        const i = v % nx;
        const j = ((v - i) / nx) % ny;
        const k = Math.floor(v / sxy);
        si += i;
        sj += j;
        sk += k;
        if (k < k1) k1 = k;
        if (k > k2) k2 = k;
      }
      const n = voxels.length;
      out.push({ seed: s, voxels: n, kRange: [k1, k2], centroid: [si / n, sj / n, sk / n] });
    }
  return out.sort((a, b) => b.voxels - a.voxels || a.seed - b.seed);
}
