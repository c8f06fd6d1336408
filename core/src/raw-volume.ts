import { MAX_DECOMPRESSED_BYTES, MAX_VOXELS, QuorumError } from './errors.ts';
import { NIFTI_TYPES } from './nifti/header.ts';
import { toArrayBuffer, voxelArray } from './nifti/read.ts';
import { classifySeries } from './sequence.ts';
import type { Mat3, Vec3, Volume, VoxelArray } from './volume.ts';

/**
 * A block of voxels described by a text header (NRRD, MetaImage): the parts both readers share.
 * Voxel types are named by NIfTI's datatype codes, so one decoder (core/src/nifti/read.ts) serves
 * every format; world coordinates are LPS (core/src/volume.ts).
 */

/** The voxel types a text header may name, as NIfTI datatype codes. */
export const RAW_TYPE_CODES = {
  uint8: 2,
  int8: 256,
  int16: 4,
  uint16: 512,
  int32: 8,
  uint32: 768,
  int64: 1024,
  uint64: 1280,
  float32: 16,
  float64: 64,
} as const;
export type RawType = keyof typeof RAW_TYPE_CODES;

export interface RawLayout {
  /** Size of every axis, the first fastest. */
  sizes: number[];
  /** The axes that are space (i, j, k in this order; 2 for a single slice); the others are volumes or components. */
  spatial: number[];
  type: RawType;
  littleEndian: boolean;
}

/** Bytes the whole block takes (checked against the limits before anything is read). */
export function rawByteLength(layout: RawLayout, fileName: string): number {
  const n = layout.sizes.reduce((a, b) => a * b, 1);
  const spatial = layout.spatial.reduce((a, ax) => a * layout.sizes[ax], 1);
  if (layout.sizes.some((s) => !Number.isInteger(s) || s < 1))
    throw new QuorumError('corrupt', `invalid sizes ${layout.sizes.join(' ')}`, fileName);
  if (spatial > MAX_VOXELS)
    throw new QuorumError('too-large', `${spatial} voxels exceeds the ${MAX_VOXELS}-voxel limit`, fileName);
  const bytes = n * NIFTI_TYPES[RAW_TYPE_CODES[layout.type]].bytes;
  if (bytes > MAX_DECOMPRESSED_BYTES)
    throw new QuorumError('too-large', `the header describes ${bytes} bytes of voxels`, fileName);
  return bytes;
}

/**
 * Volume `volume` of the block at `offset` of `data` (the non-spatial axes counted together, the
 * first fastest): its voxels, i fastest, and how many volumes there are.
 */
export function rawVolume(
  data: ArrayBuffer,
  offset: number,
  layout: RawLayout,
  volume: number,
  fileName: string,
): { values: VoxelArray; dims: Vec3; volumes: number } {
  const { sizes, spatial } = layout;
  const need = rawByteLength(layout, fileName);
  if (offset + need > data.byteLength)
    throw new QuorumError(
      'truncated',
      `file is truncated: its voxel data ends at byte ${data.byteLength}, the header needs ${offset + need}`,
      fileName,
    );
  const code = RAW_TYPE_CODES[layout.type];
  const other = sizes.map((_, a) => a).filter((a) => !spatial.includes(a));
  const volumes = other.reduce((a, ax) => a * sizes[ax], 1);
  if (!(Number.isInteger(volume) && volume >= 0 && volume < volumes))
    throw new QuorumError('bad-argument', `volume ${volume} asked of a file with ${volumes}`, fileName);
  const dims = [...spatial.map((a) => sizes[a]), 1, 1].slice(0, 3) as Vec3;
  const n = dims[0] * dims[1] * dims[2];
  const stride: number[] = [];
  sizes.reduce((acc, s, a) => {
    stride[a] = acc;
    return acc * s;
  }, 1);
  // the first voxel of the volume asked for
  let base = 0;
  let rest = volume;
  for (const ax of other) {
    base += (rest % sizes[ax]) * stride[ax];
    rest = Math.floor(rest / sizes[ax]);
  }
  const contiguous = spatial.every((ax, i) => ax === i);
  const bytes = NIFTI_TYPES[code].bytes;
  if (contiguous) {
    // Space first, volumes after (a 3-D file, or a time series): one slice of the block.
    return {
      values: voxelArray(data, offset + base * bytes, n, code, layout.littleEndian) as VoxelArray,
      dims,
      volumes,
    };
  }
  // Components first (a vector or list axis interleaved with space): gathered voxel by voxel.
  const all = voxelArray(data, offset, need / bytes, code, layout.littleEndian);
  const out = new (all.constructor as { new (n: number): VoxelArray })(n);
  const [si, sj, sk] = [0, 1, 2].map((i) => (spatial[i] === undefined ? 0 : stride[spatial[i]]));
  let at = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) out[at++] = all[base + i * si + j * sj + k * sk];
  return { values: out, dims, volumes };
}

/**
 * Spacing, direction and origin from each spatial axis's step vector in LPS millimetres (its length
 * the spacing). A single slice (two axes) gets the third axis across it, 1 mm.
 */
export function geometryFromAxes(
  axes: Vec3[],
  origin: Vec3,
  fileName: string,
): { spacing: Vec3; direction: Mat3; origin: Vec3 } {
  const steps = [...axes];
  if (steps.length === 2) {
    const [a, b] = steps;
    steps.push([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]);
  }
  const spacing = [0, 0, 0] as Vec3;
  const direction = new Array(9).fill(0) as Mat3;
  steps.forEach((v, c) => {
    const norm = Math.hypot(v[0], v[1], v[2]);
    if (!(norm > 0) || !Number.isFinite(norm))
      throw new QuorumError('corrupt', `axis ${c} has no length in space (${v.join(', ')})`, fileName);
    spacing[c] = axes.length === 2 && c === 2 ? 1 : norm;
    for (let r = 0; r < 3; r++) direction[c * 3 + r] = v[r] / norm;
  });
  if (origin.some((x) => !Number.isFinite(x)))
    throw new QuorumError('corrupt', `the origin (${origin.join(', ')}) is not a position`, fileName);
  return { spacing, direction, origin };
}

/** Numbers of a header value ("1 0.5 2", "(1,0,0)"); NaN for anything else, for the caller to refuse. */
export function numbers(text: string): number[] {
  return text.replace(/[(),]/g, ' ').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** The header text of a file whose voxels follow it: up to `end` (exclusive), as Latin-1. */
export function headerText(bytes: Uint8Array, end: number): string {
  let s = '';
  for (let i = 0; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/**
 * The Volume a text-header reader returns: volume `volume` of the decoded block, placed by its axes'
 * step vectors (LPS mm), its sequence guessed from the file name and description. `stack` names what
 * the extra volumes are in the warning ("4-D", "3-channel").
 */
export function volumeOfRaw(
  data: Uint8Array,
  layout: RawLayout,
  volume: number,
  space: { axes: Vec3[]; origin: Vec3 },
  source: {
    fileName: string;
    format: 'nrrd' | 'metaimage';
    description?: string;
    warnings: string[];
    stack: string;
  },
): Volume {
  const { fileName } = source;
  const picked = rawVolume(toArrayBuffer(data), 0, layout, volume, fileName);
  const warnings = [...source.warnings];
  if (picked.volumes > 1)
    warnings.push(`${source.stack} file with ${picked.volumes} volumes: volume ${volume} loaded`);
  const seq = classifySeries({
    fileName: fileName.split(/[\\/]/).pop() ?? fileName,
    description: source.description,
  });
  return {
    dims: picked.dims,
    ...geometryFromAxes(space.axes, space.origin, fileName),
    data: picked.values,
    source: {
      path: fileName,
      format: source.format,
      datatype: layout.type,
      sequence: seq.sequence,
      sequenceReason: seq.reason,
      description: source.description || undefined,
      warnings,
    },
  };
}
