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
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (labels.length !== n) throw new RangeError(`labels have ${labels.length} voxels, dims say ${n}`);
  if (!(seed >= 0 && seed < n) || labels[seed] !== value) return new Uint32Array(0);
  const seen = new Uint8Array(n);
  const out: number[] = [seed];
  seen[seed] = 1;
  const sxy = nx * ny;
  // `out` doubles as the BFS queue: everything pushed is in the component.
  for (let q = 0; q < out.length; q++) {
    const v = out[q];
    const i = v % nx;
    const j = Math.floor(v / nx) % ny;
    const k = Math.floor(v / sxy);
    const visit = (w: number) => {
      if (!seen[w] && labels[w] === value) {
        seen[w] = 1;
        out.push(w);
      }
    };
    if (i > 0) visit(v - 1);
    if (i < nx - 1) visit(v + 1);
    if (j > 0) visit(v - nx);
    if (j < ny - 1) visit(v + nx);
    if (k > 0) visit(v - sxy);
    if (k < nz - 1) visit(v + sxy);
  }
  return Uint32Array.from(out).sort();
}
