import type { Mat3, Vec3, Volume } from './volume.ts';

/** A 4x4 matrix, row-major, 16 numbers. */
export type Affine = number[];

export interface Geometry {
  dims: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
}

/** The anatomical planes, each at the index of the scanner axis normal to it (0 x/L-R, 1 y/A-P, 2 z/S-I). */
export const PLANES = ['sagittal', 'coronal', 'axial'] as const;
export type Plane = (typeof PLANES)[number];

/** The scanner axis (0 x/L, 1 y/P, 2 z/S) a direction is closest to, and the sign along it. */
export function nearestScannerAxis(v: ArrayLike<number>): [number, number] {
  let a = 0;
  for (let r = 1; r < 3; r++) if (Math.abs(v[r]) > Math.abs(v[a])) a = r;
  return [a, Math.sign(v[a]) || 1];
}

/** The plane the slices across voxel axis `axis` lie in: the one whose normal that axis is closest to. */
export function planeAcross(direction: ArrayLike<number>, axis: number): Plane {
  const d = [direction[3 * axis], direction[3 * axis + 1], direction[3 * axis + 2]];
  return PLANES[nearestScannerAxis(d)[0]];
}

/** One voxel's volume in mL: spacing times |det direction|, so that sheared grids are measured right. */
export function voxelVolumeMl(g: Pick<Geometry, 'spacing' | 'direction'>): number {
  const d = g.direction;
  const det = Math.abs(
    d[0] * (d[4] * d[8] - d[5] * d[7]) -
      d[1] * (d[3] * d[8] - d[5] * d[6]) +
      d[2] * (d[3] * d[7] - d[4] * d[6]),
  );
  return (g.spacing[0] * g.spacing[1] * g.spacing[2] * det) / 1000;
}

/**
 * Volume geometry (LPS) -> NIfTI affine (RAS, row-major). RAS = diag(-1,-1,1) * LPS, so the
 * first two rows change sign; column c of the 3x3 part is spacing[c] * direction axis c.
 */
export function affineFromVolume(v: Pick<Geometry, 'spacing' | 'origin' | 'direction'>): Affine {
  const a: Affine = new Array(16).fill(0);
  const flip = [-1, -1, 1];
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) a[r * 4 + c] = flip[r] * v.direction[c * 3 + r] * v.spacing[c];
    a[r * 4 + 3] = flip[r] * v.origin[r];
  }
  a[15] = 1;
  return a;
}

/** NIfTI affine (RAS, row-major) -> LPS spacing/origin/direction. Exact inverse of affineFromVolume. */
export function geometryFromAffine(affine: Affine): Omit<Geometry, 'dims'> {
  const flip = [-1, -1, 1];
  const spacing: Vec3 = [0, 0, 0];
  const direction = new Array(9).fill(0) as Mat3;
  const origin: Vec3 = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    const col = [0, 1, 2].map((r) => flip[r] * affine[r * 4 + c]);
    const norm = Math.hypot(col[0], col[1], col[2]);
    // A zero column (broken header) keeps a unit axis so the volume stays displayable.
    spacing[c] = norm > 0 ? norm : 1;
    for (let r = 0; r < 3; r++) direction[c * 3 + r] = norm > 0 ? col[r] / norm : r === c ? 1 : 0;
  }
  for (let r = 0; r < 3; r++) origin[r] = flip[r] * affine[r * 4 + 3];
  return { spacing, origin, direction };
}

/** World (LPS mm) position of voxel (i, j, k). */
export function voxelToWorld(v: Pick<Geometry, 'spacing' | 'origin' | 'direction'>, ijk: Vec3): Vec3 {
  const out: Vec3 = [v.origin[0], v.origin[1], v.origin[2]];
  for (let c = 0; c < 3; c++)
    for (let r = 0; r < 3; r++) out[r] += v.direction[c * 3 + r] * v.spacing[c] * ijk[c];
  return out;
}

/**
 * Voxel (continuous) index of a world (LPS mm) position: the inverse of voxelToWorld. The 3x3
 * part (direction axis c times spacing[c], column c) is inverted by its adjugate, so sheared
 * (non-orthogonal) grids invert exactly too.
 */
export function worldToVoxel(v: Pick<Geometry, 'spacing' | 'origin' | 'direction'>, xyz: Vec3): Vec3 {
  // m[r][c]: world component r per unit step along voxel axis c
  const m = [0, 1, 2].map((r) => [0, 1, 2].map((c) => v.direction[c * 3 + r] * v.spacing[c]));
  const d = [0, 1, 2].map((r) => xyz[r] - v.origin[r]);
  const cof = (r: number, c: number) => {
    const r1 = (r + 1) % 3;
    const r2 = (r + 2) % 3;
    const c1 = (c + 1) % 3;
    const c2 = (c + 2) % 3;
    return m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1];
  };
  const det = m[0][0] * cof(0, 0) + m[0][1] * cof(0, 1) + m[0][2] * cof(0, 2);
  // inverse[c][r] = cof(r, c) / det
  const out: Vec3 = [0, 0, 0];
  for (let c = 0; c < 3; c++) out[c] = (cof(0, c) * d[0] + cof(1, c) * d[1] + cof(2, c) * d[2]) / det;
  return out;
}

/** Largest absolute difference between two volumes' affines, in mm (same-grid check). */
export function affineDistance(a: Pick<Volume, 'spacing' | 'origin' | 'direction'>, b: typeof a): number {
  const x = affineFromVolume(a);
  const y = affineFromVolume(b);
  return Math.max(...x.map((v, i) => Math.abs(v - y[i])));
}

export function sameGrid(a: Geometry, b: Geometry, toleranceMm = 1e-3): boolean {
  return a.dims.every((d, i) => d === b.dims[i]) && affineDistance(a, b) <= toleranceMm;
}
