import type { PreprocessHeadRobustV2 } from '../../core/src/manifest.ts';
import type { Mat3, Vec3, Volume } from '../../core/src/volume.ts';

/**
 * The v2 preprocessing with every voxel sampled (sampleTarget above any test volume's voxel
 * count), so that its statistics cannot depend on the voxel order.
 */
export const EVERY_VOXEL_V2: PreprocessHeadRobustV2 = {
  kind: 'head-robust-v2',
  inputSize: [120, 120],
  spacingMm: 2,
  clip: [-2, 4],
  histogramBins: 256,
  sampleTarget: 1 << 23,
  minSliceForegroundMm2: 400,
};

/**
 * An axially stored scan stored instead in coronal slices: voxel axes (S-I, L-R, A-P reversed),
 * as reorder(v, ...CORONAL) writes it.
 */
export const CORONAL: [Vec3, [boolean, boolean, boolean]] = [
  [2, 0, 1],
  [false, false, true],
];

/**
 * The same scan stored in another voxel order: new axis a is old axis perm[a], reversed where
 * flip[a]; origin, spacing and direction follow, so every voxel keeps its world position.
 * `toOld` and `toNew` map voxel indices between the two orders.
 */
export function reorder(v: Volume, perm: Vec3, flip: [boolean, boolean, boolean]) {
  const dims = perm.map((p) => v.dims[p]) as Vec3;
  const toOld = (n: Vec3): Vec3 => {
    const o: Vec3 = [0, 0, 0];
    for (let a = 0; a < 3; a++) o[perm[a]] = flip[a] ? dims[a] - 1 - n[a] : n[a];
    return o;
  };
  const toNew = (o: Vec3): Vec3 => {
    const n: Vec3 = [0, 0, 0];
    for (let a = 0; a < 3; a++) n[a] = flip[a] ? dims[a] - 1 - o[perm[a]] : o[perm[a]];
    return n;
  };
  const direction = [] as number[];
  for (let a = 0; a < 3; a++)
    for (let r = 0; r < 3; r++) direction.push((flip[a] ? -1 : 1) * v.direction[3 * perm[a] + r]);
  const data = new Float32Array(v.data.length);
  const [ox, oy] = v.dims;
  let idx = 0;
  for (let n2 = 0; n2 < dims[2]; n2++)
    for (let n1 = 0; n1 < dims[1]; n1++)
      for (let n0 = 0; n0 < dims[0]; n0++) {
        const [i, j, k] = toOld([n0, n1, n2]);
        data[idx++] = v.data[i + ox * (j + oy * k)];
      }
  const out: Volume = {
    ...v,
    dims,
    spacing: perm.map((p) => v.spacing[p]) as Vec3,
    direction: direction as Mat3,
    origin: world(v, toOld([0, 0, 0])),
    data,
  };
  return { volume: out, toOld, toNew };
}

export function world(v: Pick<Volume, 'origin' | 'spacing' | 'direction'>, ijk: Vec3): Vec3 {
  const p = [...v.origin] as Vec3;
  for (let a = 0; a < 3; a++)
    for (let r = 0; r < 3; r++) p[r] += ijk[a] * v.spacing[a] * v.direction[3 * a + r];
  return p;
}
