import { type Geometry, worldToVoxel } from './geometry.ts';
import type { Mat3, Vec3, Volume, VoxelArray } from './volume.ts';

/**
 * Bringing a volume onto another grid through world (LPS) coordinates: what a viewer shows when
 * it overlays two series of one study, and what dcm2niix + any viewer would agree on. Each voxel
 * centre of the target grid is mapped into the moving volume's continuous voxel index and sampled
 * there (trilinear for images, nearest for labels). No registration: a patient who moved between
 * series stays moved.
 */

export type Interpolation = 'linear' | 'nearest';

export interface GridRelation {
  /** Fraction (0..1) of the target grid's voxel centres that fall inside the moving volume. */
  overlap: number;
  /** Rotation (degrees) between the two grids' axes, ignoring which axis is which and flips. */
  angleDeg: number;
}

export interface Resampled extends GridRelation {
  volume: Volume;
}

type Grid = Pick<Geometry, 'dims' | 'spacing' | 'origin' | 'direction'>;

/** The 24 proper signed permutation matrices (column c of P picks moving axis perm[c] with sign). */
function signedPermutations(): number[][][] {
  const perms = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
  ];
  const out: number[][][] = [];
  for (const p of perms)
    for (let s = 0; s < 8; s++) {
      const m = [0, 1, 2].map(() => [0, 0, 0]);
      for (let c = 0; c < 3; c++) m[p[c]][c] = (s >> c) & 1 ? -1 : 1;
      out.push(m);
    }
  return out;
}
const PERMS = signedPermutations();

const axis = (d: Mat3, c: number): Vec3 => [d[c * 3], d[c * 3 + 1], d[c * 3 + 2]];
const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/**
 * The angle between two grids' orientations, modulo relabelling of axes: an axial and a sagittal
 * acquisition on the scanner's axes are 0° apart, a 10°-tilted axial is 10° from a straight one.
 * It is the smallest rotation angle of Dref^T · Dmov · P over the proper signed permutations P.
 */
export function gridAngleDeg(reference: Pick<Grid, 'direction'>, moving: Pick<Grid, 'direction'>): number {
  // m[r][c] = reference axis r · moving axis c
  const m = [0, 1, 2].map((r) =>
    [0, 1, 2].map((c) => dot(axis(reference.direction, r), axis(moving.direction, c))),
  );
  let best = 180;
  for (const p of PERMS) {
    // m·p must be a rotation (det +1); its trace gives the rotation angle
    const mp = [0, 1, 2].map((r) =>
      [0, 1, 2].map((c) => m[r][0] * p[0][c] + m[r][1] * p[1][c] + m[r][2] * p[2][c]),
    );
    const trace = mp[0][0] + mp[1][1] + mp[2][2];
    const det =
      mp[0][0] * (mp[1][1] * mp[2][2] - mp[1][2] * mp[2][1]) -
      mp[0][1] * (mp[1][0] * mp[2][2] - mp[1][2] * mp[2][0]) +
      mp[0][2] * (mp[1][0] * mp[2][1] - mp[1][1] * mp[2][0]);
    if (det <= 0) continue;
    const angle = (Math.acos(Math.max(-1, Math.min(1, (trace - 1) / 2))) * 180) / Math.PI;
    if (angle < best) best = angle;
  }
  return best;
}

/**
 * The value outside the moving volume's field of view: the most frequent value on its faces
 * (its background: 0 in raw scans, a negative constant in BraTS z-scored files), so that filled
 * voxels read as background to brain masks computed from the mode.
 */
export function backgroundValue(v: Pick<Volume, 'dims' | 'data'>): number {
  const [nx, ny, nz] = v.dims;
  const counts = new Map<number, number>();
  const add = (i: number, j: number, k: number) => {
    const x = v.data[i + nx * (j + ny * k)];
    counts.set(x, (counts.get(x) ?? 0) + 1);
  };
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) {
      add(0, j, k);
      add(nx - 1, j, k);
    }
  for (let k = 0; k < nz; k++)
    for (let i = 0; i < nx; i++) {
      add(i, 0, k);
      add(i, ny - 1, k);
    }
  for (let j = 0; j < ny; j++)
    for (let i = 0; i < nx; i++) {
      add(i, j, 0);
      add(i, j, nz - 1);
    }
  let best = 0;
  let n = -1;
  for (const [x, c] of counts) if (c > n || (c === n && x < best)) [best, n] = [x, c];
  return best;
}

/**
 * `moving` sampled on `target`'s grid. Target voxel centres more than half a voxel outside the
 * moving volume get `fill` (default: its background value) and do not count towards `overlap`;
 * within half a voxel of its edge they take the edge value. Linear output is float32; nearest
 * keeps the moving volume's data type (labels stay labels).
 */
export function resampleToGrid(
  moving: Volume,
  target: Grid,
  opts: { interpolation?: Interpolation; fill?: number } = {},
): Resampled {
  const interpolation = opts.interpolation ?? 'linear';
  const fill = opts.fill ?? backgroundValue(moving);
  const [tx, ty, tz] = target.dims;
  const [mx, my, mz] = moving.dims;
  // Target voxel (i,j,k) -> moving index c0 + i*ci + j*cj + k*ck (both maps are affine).
  const toMoving = (ijk: Vec3): Vec3 => {
    const w: Vec3 = [target.origin[0], target.origin[1], target.origin[2]];
    for (let c = 0; c < 3; c++)
      for (let r = 0; r < 3; r++) w[r] += target.direction[c * 3 + r] * target.spacing[c] * ijk[c];
    return worldToVoxel(moving, w);
  };
  const c0 = toMoving([0, 0, 0]);
  const step = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ].map((e) => {
    const p = toMoving(e as Vec3);
    return [p[0] - c0[0], p[1] - c0[1], p[2] - c0[2]];
  });
  const n = tx * ty * tz;
  const src = moving.data;
  const out: VoxelArray =
    interpolation === 'linear'
      ? new Float32Array(n)
      : new (src.constructor as new (n: number) => VoxelArray)(n);
  const plane = mx * my;
  // Lower corner of the interpolation cell; a one-voxel-thick axis interpolates with itself.
  const lastX = Math.max(mx - 2, 0);
  const lastY = Math.max(my - 2, 0);
  const lastZ = Math.max(mz - 2, 0);
  const dx = mx > 1 ? 1 : 0;
  const dy = my > 1 ? mx : 0;
  const dz = mz > 1 ? plane : 0;
  let inside = 0;
  let o = 0;
  for (let k = 0; k < tz; k++)
    for (let j = 0; j < ty; j++) {
      let x = c0[0] + j * step[1][0] + k * step[2][0];
      let y = c0[1] + j * step[1][1] + k * step[2][1];
      let z = c0[2] + j * step[1][2] + k * step[2][2];
      for (let i = 0; i < tx; i++, o++, x += step[0][0], y += step[0][1], z += step[0][2]) {
        if (x < -0.5 || y < -0.5 || z < -0.5 || x > mx - 0.5 || y > my - 0.5 || z > mz - 0.5) {
          out[o] = fill;
          continue;
        }
        inside++;
        const cx = Math.min(Math.max(x, 0), mx - 1);
        const cy = Math.min(Math.max(y, 0), my - 1);
        const cz = Math.min(Math.max(z, 0), mz - 1);
        if (interpolation === 'nearest') {
          out[o] = src[Math.round(cx) + mx * Math.round(cy) + plane * Math.round(cz)];
          continue;
        }
        const x0 = Math.min(Math.floor(cx), lastX);
        const y0 = Math.min(Math.floor(cy), lastY);
        const z0 = Math.min(Math.floor(cz), lastZ);
        const fx = cx - x0;
        const fy = cy - y0;
        const fz = cz - z0;
        const b = x0 + mx * y0 + plane * z0;
        const c00 = src[b] * (1 - fx) + src[b + dx] * fx;
        const c10 = src[b + dy] * (1 - fx) + src[b + dy + dx] * fx;
        const c01 = src[b + dz] * (1 - fx) + src[b + dz + dx] * fx;
        const c11 = src[b + dz + dy] * (1 - fx) + src[b + dz + dy + dx] * fx;
        out[o] = (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
      }
    }
  return {
    volume: {
      dims: [...target.dims] as Vec3,
      spacing: [...target.spacing] as Vec3,
      origin: [...target.origin] as Vec3,
      direction: [...target.direction] as Mat3,
      data: out,
      source: {
        ...moving.source,
        datatype: interpolation === 'linear' ? 'float32' : moving.source.datatype,
      },
    },
    overlap: n ? inside / n : 0,
    angleDeg: gridAngleDeg(target, moving),
  };
}
