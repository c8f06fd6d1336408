import type { Affine } from '../geometry.ts';

/** NIfTI datatype codes Quorum reads, with their byte sizes. Complex and RGB are refused. */
export const NIFTI_TYPES: Record<number, { name: string; bytes: number }> = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
  1024: { name: 'int64', bytes: 8 },
  1280: { name: 'uint64', bytes: 8 },
};
export const NIFTI_UNSUPPORTED: Record<number, string> = {
  32: 'complex64',
  128: 'RGB24',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

export interface TransformFields {
  dims: number[];
  pixDims: number[];
  qform_code: number;
  sform_code: number;
  quatern_b: number;
  quatern_c: number;
  quatern_d: number;
  qoffset_x: number;
  qoffset_y: number;
  qoffset_z: number;
  affine: number[][];
}

/** qform affine as nibabel computes it (quaternion, pixdims, qfac from pixdim[0]). */
/** The qform rotation of quaternion (b, c, d); also used by the writer to check its float32 rounding. */
export function quaternionRotation(b: number, c: number, d: number): number[][] {
  // nibabel's fillpositive: a = sqrt(1 - b²-c²-d²), tiny negative round-off treated as 0
  const w2 = 1 - (b * b + c * c + d * d);
  const a = w2 < 0 ? 0 : Math.sqrt(w2);
  return [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
}

export function qformAffine(h: TransformFields): Affine {
  const R = quaternionRotation(h.quatern_b, h.quatern_c, h.quatern_d);
  const qfac = h.pixDims[0] === -1 ? -1 : 1;
  const zooms = [h.pixDims[1], h.pixDims[2], h.pixDims[3] * qfac].map((z) => (z > 0 || z < 0 ? z : 1));
  const off = [h.qoffset_x, h.qoffset_y, h.qoffset_z];
  const out: Affine = new Array(16).fill(0);
  for (let r = 0; r < 3; r++) {
    for (let col = 0; col < 3; col++) out[r * 4 + col] = R[r][col] * zooms[col];
    out[r * 4 + 3] = off[r];
  }
  out[15] = 1;
  return out;
}

/** nibabel's fall-back when neither code is set: pixdim scaling, x flipped, centred on the volume. */
export function baseAffine(h: TransformFields): Affine {
  const zooms = [1, 2, 3].map((i) => (h.pixDims[i] > 0 ? h.pixDims[i] : 1));
  const shape = [1, 2, 3].map((i) => Math.max(1, h.dims[i] || 1));
  const diag = [-zooms[0], zooms[1], zooms[2]];
  const out: Affine = new Array(16).fill(0);
  for (let r = 0; r < 3; r++) {
    out[r * 5] = diag[r];
    out[r * 4 + 3] = (-diag[r] * (shape[r] - 1)) / 2;
  }
  out[15] = 1;
  return out;
}

/** The affine nibabel's get_best_affine returns: sform if its code > 0, else qform, else base. */
export function bestAffine(h: TransformFields): { affine: Affine; from: 'sform' | 'qform' | 'base' } {
  if (h.sform_code > 0)
    return { affine: [...h.affine[0], ...h.affine[1], ...h.affine[2], 0, 0, 0, 1], from: 'sform' };
  if (h.qform_code > 0) return { affine: qformAffine(h), from: 'qform' };
  return { affine: baseAffine(h), from: 'base' };
}
