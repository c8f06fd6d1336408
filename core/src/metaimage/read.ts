import { QuorumError } from '../errors.ts';
import { gunzipUpTo } from '../nifti/read.ts';
import {
  headerText,
  numbers,
  type RawLayout,
  type RawType,
  rawByteLength,
  volumeOfRaw,
} from '../raw-volume.ts';
import type { Vec3, Volume } from '../volume.ts';

/**
 * ITK's MetaImage: `Key = Value` lines, the last `ElementDataFile`, then the voxels (`LOCAL`, a
 * .mha) or a data file beside the header (a .mhd with its .raw or .zraw). Read as ITK reads it:
 * `TransformMatrix` holds the axes' unit vectors one after another, in LPS, and
 * `AnatomicalOrientation` is not used (ITK ignores it too: writers leave it stale). Scalar types,
 * either byte order, zlib `CompressedData`, 2-D to 4-D (a 4th axis or several channels: one volume
 * loaded, said). Refused with what to do: a list of slice files, a type Quorum cannot use.
 */

const MET_TYPES: Record<string, RawType> = {
  MET_UCHAR: 'uint8',
  MET_CHAR: 'int8',
  MET_USHORT: 'uint16',
  MET_SHORT: 'int16',
  MET_UINT: 'uint32',
  MET_INT: 'int32',
  // MetaIO's LONG is 32 bits, its LONG_LONG 64
  MET_ULONG: 'uint32',
  MET_LONG: 'int32',
  MET_ULONG_LONG: 'uint64',
  MET_LONG_LONG: 'int64',
  MET_FLOAT: 'float32',
  MET_DOUBLE: 'float64',
};

/** Where the header ends: after the line that names ElementDataFile. */
function headerEnd(bytes: Uint8Array, fileName: string): number {
  const limit = Math.min(bytes.length, 1 << 20);
  const text = headerText(bytes, limit);
  const m = /(^|\n)\s*ElementDataFile\s*=[^\n]*(\n|$)/.exec(text);
  if (!m)
    throw new QuorumError(
      'corrupt',
      'not a MetaImage file (no "ElementDataFile" line in its header)',
      fileName,
    );
  return m.index + m[0].length;
}

function fields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf('=');
    if (at > 0) out.set(line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim());
  }
  return out;
}

const yes = (v: string | undefined) => /^(true|1|yes)$/i.test(v ?? '');

/**
 * Reads a MetaImage volume. `readBeside(name)` reads the data file a .mhd names (relative to its
 * folder).
 */
export function readMetaImage(
  bytes: Uint8Array,
  fileName: string,
  readBeside?: (name: string) => Uint8Array,
  volume = 0,
): Volume {
  const end = headerEnd(bytes, fileName);
  const f = fields(headerText(bytes, end));
  const need = (k: string) => {
    const v = f.get(k.toLowerCase());
    if (v === undefined) throw new QuorumError('corrupt', `the MetaImage header has no "${k}"`, fileName);
    return v;
  };
  const object = f.get('objecttype');
  if (object && !/^image$/i.test(object))
    throw new QuorumError('unsupported', `a MetaImage "${object}" object, not an image`, fileName);
  const ndims = Number(need('NDims'));
  const dimSize = numbers(need('DimSize'));
  if (!(ndims >= 2 && ndims <= 4) || dimSize.length !== ndims)
    throw new QuorumError(
      'unsupported',
      `NDims ${ndims} with DimSize "${f.get('dimsize')}": not a 2-D to 4-D image`,
      fileName,
    );
  const typeName = need('ElementType').toUpperCase();
  const type = MET_TYPES[typeName];
  if (!type)
    throw new QuorumError(
      'unsupported',
      `element type ${typeName} is not a scalar image Quorum can use`,
      fileName,
    );
  const channels = Number(f.get('elementnumberofchannels') ?? 1);
  const spatialN = Math.min(ndims, 3);
  // several channels are interleaved per voxel: a fastest axis before space
  const sizes = channels > 1 ? [channels, ...dimSize] : dimSize;
  const first = channels > 1 ? 1 : 0;
  const spatial = Array.from({ length: spatialN }, (_, i) => first + i);
  const msb = yes(f.get('binarydatabyteordermsb') ?? f.get('elementbyteordermsb'));
  const layout: RawLayout = { sizes, spatial, type, littleEndian: !msb };
  const voxelBytes = rawByteLength(layout, fileName);

  // Geometry: spacing per axis, the axes' unit vectors (TransformMatrix, row after row), offset.
  const spacing = numbers(f.get('elementspacing') ?? f.get('elementsize') ?? '1 1 1');
  const matrix = numbers(f.get('transformmatrix') ?? f.get('rotation') ?? f.get('orientation') ?? '');
  const offset = numbers(f.get('offset') ?? f.get('origin') ?? f.get('position') ?? '0 0 0');
  const warnings: string[] = [];
  if (matrix.length !== ndims * ndims)
    warnings.push('no TransformMatrix in the MetaImage header: axes taken as L, P, S');
  const axes = Array.from({ length: spatialN }, (_, c): Vec3 => {
    const s = Number.isFinite(spacing[c]) && spacing[c] > 0 ? spacing[c] : 1;
    const dir =
      matrix.length === ndims * ndims
        ? matrix.slice(c * ndims, c * ndims + spatialN)
        : [0, 1, 2].map((r) => (r === c ? 1 : 0));
    return [0, 1, 2].map((r) => s * (dir[r] ?? 0)) as Vec3;
  });
  const origin = [0, 1, 2].map((r) => offset[r] ?? 0) as Vec3;

  // The voxels: after the header (LOCAL) or in the named file, zlib-compressed or not.
  const dataFile = need('ElementDataFile');
  let raw: Uint8Array;
  if (/^local$/i.test(dataFile)) raw = bytes.subarray(end);
  else {
    if (!readBeside)
      throw new QuorumError(
        'unsupported',
        `a detached header: its data file ${dataFile} cannot be read here`,
        fileName,
      );
    const skip = Number(f.get('headersize') ?? 0);
    const files = sliceFiles(dataFile, bytes.subarray(end), fileName);
    if (files) {
      if (yes(f.get('compresseddata')))
        throw new QuorumError(
          'unsupported',
          'compressed voxels spread over several files are not read: save the image as one .mha',
          fileName,
        );
      // one file per slice (or volume), in order, each after its own HeaderSize bytes
      const parts = files.map((name) => readBeside(name).subarray(Math.max(0, skip)));
      raw = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        raw.set(p, at);
        at += p.length;
      }
    } else {
      raw = readBeside(dataFile);
      // HeaderSize -1: the voxels are the last bytes of the file
      if (skip === -1 && !yes(f.get('compresseddata')))
        raw = raw.subarray(Math.max(0, raw.length - voxelBytes));
      else if (skip > 0) raw = raw.subarray(skip);
    }
  }
  const data = yes(f.get('compresseddata')) ? gunzipUpTo(raw, fileName, voxelBytes, 'zlib') : raw;

  const stack = channels > 1 ? `${channels}-channel` : `${ndims}-D`;
  return volumeOfRaw(
    data,
    layout,
    volume,
    { axes, origin },
    { fileName, format: 'metaimage', warnings, stack },
  );
}

/**
 * The files of voxels spread over several, in order, as ITK writes them: `LIST` (the names on the
 * lines after it) or a printf pattern with first, last and step (`slice%03d.raw 1 40 1`);
 * undefined for one data file.
 */
function sliceFiles(dataFile: string, rest: Uint8Array, fileName: string): string[] | undefined {
  if (/^list\b/i.test(dataFile)) {
    const names = headerText(rest, Math.min(rest.length, 1 << 20))
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean);
    if (!names.length)
      throw new QuorumError('corrupt', 'ElementDataFile = LIST names no file after it', fileName);
    return names;
  }
  const m = /^(\S*%(0?)(\d*)d\S*)\s+(\d+)\s+(\d+)(?:\s+(-?\d+))?$/.exec(dataFile);
  if (!m) {
    if (/%/.test(dataFile))
      throw new QuorumError(
        'corrupt',
        `ElementDataFile "${dataFile}": a file pattern needs its first and last number (e.g. slice%03d.raw 1 40 1)`,
        fileName,
      );
    return undefined;
  }
  const [, pattern, zero, width, a, b, c] = m;
  const [first, last, step] = [Number(a), Number(b), Number(c ?? 1)];
  if (
    step === 0 ||
    Math.sign(last - first) * Math.sign(step) < 0 ||
    Math.abs((last - first) / step) > 100_000
  )
    throw new QuorumError(
      'corrupt',
      `ElementDataFile "${dataFile}": no files from ${first} to ${last} by ${step}`,
      fileName,
    );
  const out: string[] = [];
  for (let i = first; step > 0 ? i <= last : i >= last; i += step)
    out.push(pattern.replace(/%0?\d*d/, String(i).padStart(Number(width || 0), zero ? '0' : ' ')));
  return out;
}
