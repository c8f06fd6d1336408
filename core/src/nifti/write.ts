import { gzipSync } from 'fflate';
import { QuorumError } from '../errors.ts';
import { affineFromVolume } from '../geometry.ts';
import type { Volume } from '../volume.ts';
import { quaternionRotation } from './header.ts';

export type NiftiOutType = 'uint8' | 'int16' | 'float32';
const OUT: Record<NiftiOutType, { code: number; bits: number }> = {
  uint8: { code: 2, bits: 8 },
  int16: { code: 4, bits: 16 },
  float32: { code: 16, bits: 32 },
};

/**
 * Quaternion (b, c, d), qfac for a 3x3 rotation given column-wise, following NIfTI's
 * nifti_mat44_to_quatern: a reflection is folded into qfac by flipping the third column.
 */
function quaternion(cols: number[][]): { b: number; c: number; d: number; qfac: number; m: number[][] } {
  const m = [0, 1, 2].map((r) => [cols[0][r], cols[1][r], cols[2][r]]);
  const det =
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  const qfac = det < 0 ? -1 : 1;
  if (qfac < 0) for (let r = 0; r < 3; r++) m[r][2] = -m[r][2];
  let a = 1 + m[0][0] + m[1][1] + m[2][2];
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (m[2][1] - m[1][2])) / a;
    c = (0.25 * (m[0][2] - m[2][0])) / a;
    d = (0.25 * (m[1][0] - m[0][1])) / a;
  } else {
    const xd = 1 + m[0][0] - (m[1][1] + m[2][2]);
    const yd = 1 + m[1][1] - (m[0][0] + m[2][2]);
    const zd = 1 + m[2][2] - (m[0][0] + m[1][1]);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (m[0][1] + m[1][0])) / b;
      d = (0.25 * (m[0][2] + m[2][0])) / b;
      a = (0.25 * (m[2][1] - m[1][2])) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (m[0][1] + m[1][0])) / c;
      d = (0.25 * (m[1][2] + m[2][1])) / c;
      a = (0.25 * (m[0][2] - m[2][0])) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (m[0][2] + m[2][0])) / d;
      c = (0.25 * (m[1][2] + m[2][1])) / d;
      a = (0.25 * (m[1][0] - m[0][1])) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac, m };
}

/** The float32 next to x, `steps` ulps away (x must already be a float32 value). */
function f32Step(x: number, steps: number): number {
  if (steps === 0) return x;
  const f = new Float32Array([x]);
  const i = new Int32Array(f.buffer);
  // float32 bit patterns are ordered like sign-magnitude integers
  if (x === 0) i[0] = steps > 0 ? steps : 0x80000000 | -steps;
  else i[0] += (x > 0 ? 1 : -1) * steps;
  return f[0];
}

/**
 * (b, c, d) as the float32 values the header will hold. Readers rebuild a = sqrt(1 - b²-c²-d²)
 * from those float32 values; when a is near 0 (rotations near 180°, e.g. every axial DICOM grid
 * seen from RAS) plain rounding leaves 1 - Σ around ±1e-7, i.e. a ≈ 3e-4 instead of 0, which tilts
 * the qform by ~1e-3 mm per voxel. So the neighbours (±2 ulp) of the rounded values are tried and
 * the triple whose rebuilt rotation is closest to the wanted one is kept. Σ may exceed 1 only by
 * less than nibabel's tolerance (3 float32 eps), which readers clamp to a = 0.
 */
function float32Quaternion(q: { b: number; c: number; d: number }, m: number[][]): [number, number, number] {
  const base = [q.b, q.c, q.d].map(Math.fround);
  const rebuildError = (b: number, c: number, d: number) => {
    const R = quaternionRotation(b, c, d);
    let e = 0;
    for (let r = 0; r < 3; r++)
      for (let col = 0; col < 3; col++) e = Math.max(e, Math.abs(R[r][col] - m[r][col]));
    return e;
  };
  let best = base as [number, number, number];
  let bestErr = rebuildError(base[0], base[1], base[2]);
  for (let i = -2; i <= 2; i++)
    for (let j = -2; j <= 2; j++)
      for (let k = -2; k <= 2; k++) {
        const t = [f32Step(base[0], i), f32Step(base[1], j), f32Step(base[2], k)];
        if (t[0] * t[0] + t[1] * t[1] + t[2] * t[2] - 1 > 2.5 * 2 ** -23) continue;
        const e = rebuildError(t[0], t[1], t[2]);
        if (e < bestErr) {
          bestErr = e;
          best = t as [number, number, number];
        }
      }
  return best;
}

export interface EncodeOptions {
  datatype?: NiftiOutType;
  description?: string;
  /** false writes an uncompressed .nii */
  gzip?: boolean;
  /** A faster gzip the caller may lend (Node's zlib, core/src/node/gzip.ts); fflate otherwise. */
  deflate?: (raw: Uint8Array) => Uint8Array;
}

/**
 * Encodes a volume as NIfTI-1 (.nii.gz by default) with the volume's exact geometry: the sform
 * holds the affine (float32, as NIfTI stores it), and the qform too when the axes are orthogonal.
 * Transform codes are the source's when it was NIfTI, else 1 (scanner anatomical).
 */
export function encodeNifti(
  vol: Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction' | 'data'> & { source?: Volume['source'] },
  opts: EncodeOptions = {},
): Uint8Array {
  const type =
    opts.datatype ??
    (vol.data instanceof Uint8Array ? 'uint8' : vol.data instanceof Int16Array ? 'int16' : 'float32');
  const { code, bits } = OUT[type];
  const n = vol.dims[0] * vol.dims[1] * vol.dims[2];
  if (vol.data.length !== n)
    throw new QuorumError('bad-argument', `data has ${vol.data.length} values for ${vol.dims.join('x')}`);
  const voxOffset = 352;
  const out = new Uint8Array(voxOffset + (n * bits) / 8);
  const v = new DataView(out.buffer);
  const L = true;
  v.setInt32(0, 348, L);
  v.setInt16(40, 3, L);
  for (let i = 0; i < 3; i++) v.setInt16(42 + 2 * i, vol.dims[i], L);
  for (let i = 3; i < 7; i++) v.setInt16(42 + 2 * i, 1, L);
  v.setInt16(70, code, L);
  v.setInt16(72, bits, L);
  const aff = affineFromVolume(vol);
  const cols = [0, 1, 2].map((c) => [aff[c], aff[4 + c], aff[8 + c]].map((x) => x / vol.spacing[c]));
  const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const orthogonal =
    Math.abs(dot(cols[0], cols[1])) < 1e-6 &&
    Math.abs(dot(cols[0], cols[2])) < 1e-6 &&
    Math.abs(dot(cols[1], cols[2])) < 1e-6;
  const q = quaternion(cols);
  v.setFloat32(76, q.qfac, L);
  for (let i = 0; i < 3; i++) v.setFloat32(80 + 4 * i, vol.spacing[i], L);
  v.setFloat32(108, voxOffset, L);
  v.setFloat32(112, 1, L); // scl_slope
  v.setFloat32(116, 0, L); // scl_inter
  v.setUint8(123, 10 | 8); // xyzt_units: mm + s
  const descrip = (opts.description ?? 'Quorum').slice(0, 79);
  for (let i = 0; i < descrip.length; i++) v.setUint8(148 + i, descrip.charCodeAt(i) & 0x7f);
  const srcCodes = vol.source?.nifti;
  const sformCode = srcCodes && srcCodes.sformCode > 0 ? srcCodes.sformCode : srcCodes?.qformCode || 1;
  const qformCode = orthogonal ? (srcCodes && srcCodes.qformCode > 0 ? srcCodes.qformCode : sformCode) : 0;
  v.setInt16(252, qformCode, L);
  v.setInt16(254, sformCode, L);
  const [qb, qc, qd] = float32Quaternion(q, q.m);
  v.setFloat32(256, qb, L);
  v.setFloat32(260, qc, L);
  v.setFloat32(264, qd, L);
  for (let i = 0; i < 3; i++) v.setFloat32(268 + 4 * i, aff[i * 4 + 3], L);
  for (let i = 0; i < 12; i++) v.setFloat32(280 + 4 * i, aff[i], L);
  out.set([0x6e, 0x2b, 0x31, 0x00], 344); // "n+1\0"
  const body = new DataView(out.buffer, voxOffset);
  const d = vol.data;
  if (type === 'uint8') for (let i = 0; i < n; i++) out[voxOffset + i] = d[i];
  else if (type === 'int16') for (let i = 0; i < n; i++) body.setInt16(2 * i, d[i], L);
  else for (let i = 0; i < n; i++) body.setFloat32(4 * i, d[i], L);
  if (opts.gzip === false) return out;
  return opts.deflate ? opts.deflate(out) : gzipSync(out, { level: 6 });
}
