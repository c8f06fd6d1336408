import { Gunzip, Unzlib } from 'fflate';
import * as niftiReader from 'nifti-reader-js';
import { MAX_DECOMPRESSED_BYTES, MAX_VOXELS, QuorumError } from '../errors.ts';
import { geometryFromAffine } from '../geometry.ts';
import { classifySeries } from '../sequence.ts';
import type { Vec3, Volume, VoxelArray } from '../volume.ts';
import { bestAffine, NIFTI_TYPES, NIFTI_UNSUPPORTED } from './header.ts';

const GZIP_MAGIC = [0x1f, 0x8b];

export function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === GZIP_MAGIC[0] && b[1] === GZIP_MAGIC[1];
}

/**
 * The first `limit` bytes of a gzip stream (all of it when shorter), inflated a few KiB of input
 * at a time and stopped once `limit` bytes are out: a NIfTI file is inflated only as far as its
 * header says the image goes, so a gzip bomb (or a header that lies small) costs no more than
 * that. A stream that ends early is "file is truncated"; damaged data says so. Neither trusts
 * the gzip footer's size (on a cut file those 4 bytes are image data).
 */
export function gunzipUpTo(
  b: Uint8Array,
  fileName: string,
  limit: number,
  /** 'zlib': a zlib stream (MetaImage's CompressedData) instead of gzip. */
  wrapper: 'gzip' | 'zlib' = 'gzip',
): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const g = new (wrapper === 'zlib' ? Unzlib : Gunzip)((chunk) => {
    if (total < limit) chunks.push(total + chunk.length > limit ? chunk.subarray(0, limit - total) : chunk);
    total += chunk.length;
  });
  // 4 KiB of input inflates to at most ~4 MiB, the most ever held beyond `limit`. A header alone
  // (`limit` of a few hundred bytes) is read 256 bytes at a time: a label file's run of zeros
  // would otherwise inflate 4 MiB (~50 ms) for 544 bytes.
  const STEP = limit <= 1 << 16 ? 256 : 4096;
  try {
    for (let off = 0; off < b.length && total < limit; off += STEP) {
      const end = Math.min(b.length, off + STEP);
      g.push(b.subarray(off, end), end === b.length);
    }
  } catch (e) {
    if (total < limit) {
      const eof = (e as { code?: number }).code === 0;
      throw new QuorumError(
        eof ? 'truncated' : 'corrupt',
        eof
          ? `file is truncated: the compressed data ends after ${Math.min(total, limit)} bytes of image data (a copy or download cut short?)`
          : `the compressed data is damaged (${(e as Error).message})`,
        fileName,
      );
    }
  }
  const out = new Uint8Array(Math.min(total, limit));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * A faster inflater the caller may lend (Node's zlib, core/src/node/gzip.ts): the first `limit`
 * bytes of the stream, or undefined when it cannot give them exactly (damaged, cut short, or more
 * data than `limit`), and then gunzipUpTo decides, with its bounded memory and its messages.
 */
export type InflateUpTo = (gz: Uint8Array, limit: number) => Uint8Array | undefined;

/** Inflated bytes enough for any NIfTI-1 or -2 header (540) and the extension flag after it. */
const HEADER_BYTES = 544;

export function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
    ? (b.buffer as ArrayBuffer)
    : // not b.slice(): on a Node Buffer that is a view, and .buffer would be the whole pool
      (b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
}

type Header = ReturnType<typeof niftiReader.readHeader>;

/** NIfTI-1: sizeof_hdr 348 and "n+1"/"ni1" at 344; NIfTI-2: 540 and "n+2"/"ni2" at 4. Either endian. */
function niftiMagic(b: Uint8Array): { version: 1 | 2; pair: boolean } | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const size = (le: boolean) => v.getInt32(0, le);
  const str = (o: number) => String.fromCharCode(b[o], b[o + 1], b[o + 2]);
  if ((size(true) === 348 || size(false) === 348) && b.length >= 348) {
    const m = str(344);
    if (m === 'n+1' || m === 'ni1') return { version: 1, pair: m === 'ni1' };
  }
  if ((size(true) === 540 || size(false) === 540) && b.length >= 540) {
    const m = str(4);
    if (m === 'n+2' || m === 'ni2') return { version: 2, pair: m === 'ni2' };
  }
  return undefined;
}

function readHeaderOrThrow(buf: ArrayBuffer, fileName: string, pairOk: boolean): Header {
  if (buf.byteLength < 348) {
    throw new QuorumError(
      buf.byteLength === 0 ? 'truncated' : 'not-nifti',
      `only ${buf.byteLength} bytes: too short for a NIfTI header (348)`,
      fileName,
    );
  }
  // Our own magic check: nifti-reader-js's isNIFTI rejects some valid small files and pairs.
  const magic = niftiMagic(new Uint8Array(buf));
  if (!magic)
    throw new QuorumError('not-nifti', 'not a NIfTI-1/NIfTI-2 file (no valid header magic)', fileName);
  if (magic.pair && !pairOk) {
    throw new QuorumError(
      'not-nifti',
      'this is the header of a .hdr/.img pair; open the .hdr with its .img beside it',
      fileName,
    );
  }
  // nifti-reader-js follows the extension chain when the flag after the header is set, and a
  // negative esize walks it backwards: a crafted or bit-flipped file looped forever, growing
  // memory. Quorum uses no extensions, so the header is parsed alone with that flag cleared.
  const size = magic.version === 1 ? 348 : 540;
  const head = new Uint8Array(size + 4);
  head.set(new Uint8Array(buf, 0, size));
  let h: Header;
  try {
    h = niftiReader.readHeader(head.buffer, pairOk);
  } catch (e) {
    throw new QuorumError('corrupt', `unreadable NIfTI header (${(e as Error).message})`, fileName);
  }
  if (!h) throw new QuorumError('not-nifti', 'not a NIfTI-1/NIfTI-2 header', fileName);
  return h;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Bytes besides the voxels a volume may keep alive as a view: a header with its extensions. */
const VIEW_SLACK_BYTES = 1 << 16;

/** `n` voxels of NIfTI datatype `code` from `offset` (also the NRRD and MetaImage readers' decoder). */
export function voxelArray(
  raw: ArrayBuffer,
  offset: number,
  n: number,
  code: number,
  little: boolean,
): VoxelArray | Float64Array {
  const view = new DataView(raw, offset);
  switch (code) {
    case 2:
      return new Uint8Array(raw, offset, n).slice();
    case 256:
      return new Int8Array(raw, offset, n).slice();
  }
  type Ctor = {
    new (n: number): VoxelArray | Float64Array;
    new (b: ArrayBuffer, offset?: number, length?: number): VoxelArray | Float64Array;
  };
  // In this machine's byte order the stored bytes are the array, ~10x faster than a DataView read
  // per voxel: a view onto them when they are aligned and all but the volume is the header (a
  // freshly inflated .nii.gz: no 36 MB copy, ~0.1 s a volume), else one copy, so that a volume
  // never keeps a larger buffer alive (the other volumes of a 4-D file) or carries it when cloned.
  const read = (C: Ctor, bytes: number, get: (o: number) => number) => {
    if (little !== LITTLE_ENDIAN_HOST) return convert(C, bytes, get);
    if (offset % bytes === 0 && raw.byteLength - n * bytes <= VIEW_SLACK_BYTES) return new C(raw, offset, n);
    return new C(raw.slice(offset, offset + n * bytes));
  };
  const convert = (C: Ctor, bytes: number, get: (o: number) => number) => {
    const out = new C(n);
    for (let i = 0; i < n; i++) out[i] = get(i * bytes);
    return out;
  };
  switch (code) {
    case 4:
      return read(Int16Array, 2, (o) => view.getInt16(o, little));
    case 512:
      return read(Uint16Array, 2, (o) => view.getUint16(o, little));
    case 8:
      return read(Int32Array, 4, (o) => view.getInt32(o, little));
    case 768:
      return read(Uint32Array, 4, (o) => view.getUint32(o, little));
    case 16:
      return read(Float32Array, 4, (o) => view.getFloat32(o, little));
    case 64:
      return read(Float64Array, 8, (o) => view.getFloat64(o, little));
    case 1024:
      return convert(Float64Array, 8, (o) => Number(view.getBigInt64(o, little)));
    case 1280:
      return convert(Float64Array, 8, (o) => Number(view.getBigUint64(o, little)));
  }
  throw new Error(`unreachable datatype ${code}`);
}

/**
 * How many 3-D volumes a NIfTI file holds (dim[4] x dim[5] ...; 1 for a 3-D file), from its header
 * alone: a multi-channel file (the Decathlon's 4 sequences in one file) is told from a 3-D one
 * before any voxel is inflated.
 */
export function niftiVolumeCount(bytes: Uint8Array, fileName: string, headerOnly = false): number {
  const buf = toArrayBuffer(isGzip(bytes) ? gunzipUpTo(bytes, fileName, HEADER_BYTES) : bytes);
  const h = readHeaderOrThrow(buf, fileName, headerOnly);
  const ndim = h.dims[0];
  return h.dims.slice(4, ndim + 1).reduce((a: number, d: number) => a * Math.max(1, d), 1);
}

/**
 * Reads a NIfTI-1/2 volume (.nii, .nii.gz; for .hdr/.img pairs pass the image bytes as `imageBytes`).
 * 4-D and 5-D files load volume `volume` (0, the first, unless asked) and say so in `source.warnings`.
 */
export function readNifti(
  bytes: Uint8Array,
  fileName: string,
  imageBytes?: Uint8Array,
  inflate?: InflateUpTo,
  volume = 0,
): Volume {
  // A .nii.gz is inflated twice: its header first, then as far as the header says the image goes.
  const gz = isGzip(bytes);
  const buf = toArrayBuffer(gz ? gunzipUpTo(bytes, fileName, HEADER_BYTES) : bytes);
  const h = readHeaderOrThrow(buf, fileName, imageBytes !== undefined);
  const intent = (h as { intent_code?: number }).intent_code ?? 0;
  if (intent >= 3000 && intent < 3100) {
    throw new QuorumError(
      'unsupported',
      `CIFTI-2 file (intent code ${intent}): a surface/connectivity matrix, not an image volume`,
      fileName,
    );
  }
  const code = h.datatypeCode;
  if (NIFTI_UNSUPPORTED[code]) {
    throw new QuorumError(
      'unsupported',
      `datatype ${NIFTI_UNSUPPORTED[code]} is not a scalar image Quorum can use`,
      fileName,
    );
  }
  const type = NIFTI_TYPES[code];
  if (!type) throw new QuorumError('corrupt', `unknown NIfTI datatype code ${code}`, fileName);

  const ndim = h.dims[0];
  if (!(ndim >= 1 && ndim <= 7))
    throw new QuorumError('corrupt', `dim[0] = ${ndim} is outside 1..7`, fileName);
  const dims = [1, 2, 3].map((i) => (i <= ndim ? h.dims[i] : 1)) as Vec3;
  const extra = h.dims.slice(4, ndim + 1).reduce((a: number, d: number) => a * Math.max(1, d), 1);
  if (dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new QuorumError('corrupt', `invalid dimensions ${dims.join('x')}`, fileName);
  }
  const n = dims[0] * dims[1] * dims[2];
  if (n > MAX_VOXELS)
    throw new QuorumError(
      'too-large',
      `${dims.join('x')} = ${n} voxels exceeds the ${MAX_VOXELS}-voxel limit`,
      fileName,
    );

  if (!(Number.isInteger(volume) && volume >= 0 && volume < extra))
    throw new QuorumError('bad-argument', `volume ${volume} asked of a file with ${extra}`, fileName);
  const offset = imageBytes ? Math.max(0, Math.floor(h.vox_offset)) : Math.floor(h.vox_offset);
  if (!imageBytes && !(offset >= 348))
    throw new QuorumError('corrupt', `vox_offset ${h.vox_offset} points inside the header`, fileName);
  // The volume asked for is all that is read: nothing past it is inflated or allocated.
  const start = offset + volume * n * type.bytes;
  const need = start + n * type.bytes;
  if (need > MAX_DECOMPRESSED_BYTES)
    throw new QuorumError('too-large', `the header puts the image ${need} bytes into the file`, fileName);
  const source = imageBytes ?? bytes;
  const data =
    imageBytes || gz
      ? toArrayBuffer(
          isGzip(source) ? (inflate?.(source, need) ?? gunzipUpTo(source, fileName, need)) : source,
        )
      : buf;
  if (need > data.byteLength) {
    throw new QuorumError(
      'truncated',
      `file is truncated: its image data ends at byte ${data.byteLength}, the header needs ${need} (${dims.join('x')} ${type.name})`,
      fileName,
    );
  }

  let values: VoxelArray | Float64Array = voxelArray(data, start, n, code, h.littleEndian);
  const slope = h.scl_slope;
  const inter = h.scl_inter;
  // NIfTI: slope 0 (or non-finite) means "no scaling"; identity scaling keeps the stored type.
  if (Number.isFinite(slope) && slope !== 0 && !(slope === 1 && (inter === 0 || !Number.isFinite(inter)))) {
    const out = values instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
    const b = Number.isFinite(inter) ? inter : 0;
    for (let i = 0; i < n; i++) out[i] = values[i] * slope + b;
    values = out;
  }

  const { affine, from } = bestAffine(h);
  if (affine.some((v) => !Number.isFinite(v)))
    throw new QuorumError('corrupt', `${from} affine has non-finite values`, fileName);
  const warnings: string[] = [];
  if (extra > 1) warnings.push(`${ndim}-D file with ${extra} volumes: volume ${volume} loaded`);
  if (from === 'base') warnings.push('no qform or sform: orientation guessed from voxel sizes (as nibabel)');
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const seq = classifySeries({ fileName: base, description: h.description });
  return {
    dims,
    ...geometryFromAffine(affine),
    data: values as VoxelArray,
    source: {
      path: fileName,
      format: 'nifti',
      datatype: type.name,
      sequence: seq.sequence,
      sequenceReason: seq.reason,
      description: h.description?.trim() || undefined,
      warnings,
      nifti: { qformCode: h.qform_code, sformCode: h.sform_code },
    },
  };
}
