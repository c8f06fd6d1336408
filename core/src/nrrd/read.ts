import { QuorumError } from '../errors.ts';
import { gunzipUpTo, type InflateUpTo, isGzip } from '../nifti/read.ts';
import {
  headerText,
  numbers,
  type RawLayout,
  type RawType,
  rawByteLength,
  volumeOfRaw,
} from '../raw-volume.ts';
import { fromUtf8Bytes } from '../utf8.ts';
import type { Vec3, Volume } from '../volume.ts';

/**
 * NRRD (teem's "nearly raw raster data"; 3D Slicer saves volumes and segmentations as .nrrd): a text
 * header, a blank line, then the voxels (attached, .nrrd) or a `data file:` beside it (.nhdr). Read:
 * every scalar type, raw / gzip / text / hex encodings, either endian, `space` in RAS, LAS or LPS
 * (converted to Quorum's LPS), `space directions` with a `none` axis (a list or vector axis: one
 * volume of it is loaded, as for a 4-D NIfTI), or plain `spacings` (no orientation: said).
 * Refused with what to do: bzip2, block types, multi-file data.
 */

/** NRRD's type names (the spec's synonyms) → voxel type. */
const NRRD_TYPES: Record<string, RawType> = {};
for (const [type, names] of Object.entries({
  int8: ['signed char', 'int8', 'int8_t'],
  uint8: ['uchar', 'unsigned char', 'uint8', 'uint8_t'],
  int16: ['short', 'short int', 'signed short', 'signed short int', 'int16', 'int16_t'],
  uint16: ['ushort', 'unsigned short', 'unsigned short int', 'uint16', 'uint16_t'],
  int32: ['int', 'signed int', 'int32', 'int32_t'],
  uint32: ['uint', 'unsigned int', 'uint32', 'uint32_t'],
  int64: [
    'longlong',
    'long long',
    'long long int',
    'signed long long',
    'signed long long int',
    'int64',
    'int64_t',
  ],
  uint64: ['ulonglong', 'unsigned long long', 'unsigned long long int', 'uint64', 'uint64_t'],
  float32: ['float'],
  float64: ['double'],
} satisfies Record<RawType, string[]>))
  for (const n of names) NRRD_TYPES[n] = type as RawType;

/** Each `space` → the signs that turn its vectors into LPS; the patient spaces only. */
const SPACE_TO_LPS: Record<string, Vec3> = {
  'left-posterior-superior': [1, 1, 1],
  'right-anterior-superior': [-1, -1, 1],
  'left-anterior-superior': [1, -1, 1],
};
const SPACE_ALIASES: Record<string, string> = {
  lps: 'left-posterior-superior',
  ras: 'right-anterior-superior',
  las: 'left-anterior-superior',
  'left-posterior-superior-time': 'left-posterior-superior',
  'right-anterior-superior-time': 'right-anterior-superior',
  'left-anterior-superior-time': 'left-anterior-superior',
  lpst: 'left-posterior-superior',
  rast: 'right-anterior-superior',
  last: 'left-anterior-superior',
};

const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Where the header ends: the byte after its blank line (attached data starts there). */
function headerEnd(bytes: Uint8Array, fileName: string): number {
  const limit = Math.min(bytes.length, 1 << 20);
  for (let i = 0; i + 1 < limit; i++) {
    if (bytes[i] !== 0x0a) continue;
    if (bytes[i + 1] === 0x0a) return i + 2;
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return i + 3;
  }
  // a detached header (.nhdr) may end without a blank line
  if (bytes.length <= 1 << 20) return bytes.length;
  throw new QuorumError('corrupt', 'no end to the NRRD header in its first MiB', fileName);
}

/** Field name → value; `key:=value` pairs and comments are left out. */
function fields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/).slice(1)) {
    if (!line || line.startsWith('#') || /^[^:]*:=/.test(line)) continue;
    const at = line.indexOf(': ');
    if (at < 0) continue;
    out.set(line.slice(0, at).trim().toLowerCase(), line.slice(at + 2).trim());
  }
  return out;
}

/**
 * The header's `key:=value` lines (NRRD's free key/value pairs, where 3D Slicer keeps a
 * segmentation's segment names, colours and label values: core/src/nrrd/segmentation.ts).
 */
export function nrrdKeyValues(bytes: Uint8Array, fileName: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of headerText(bytes, headerEnd(bytes, fileName)).split(/\r?\n/).slice(1)) {
    const at = line.indexOf(':=');
    if (at > 0 && !line.startsWith('#')) out.set(line.slice(0, at), fromUtf8Bytes(line.slice(at + 2)));
  }
  return out;
}

/**
 * Reads a NRRD volume. `readBeside(name)` reads a detached data file named in the header (relative
 * to the header's folder); `inflate` is a faster gunzip the caller may lend (core/src/node/gzip.ts).
 */
export function readNrrd(
  bytes: Uint8Array,
  fileName: string,
  readBeside?: (name: string) => Uint8Array,
  inflate?: InflateUpTo,
  volume = 0,
): Volume {
  if (!/^NRRD000\d/.test(headerText(bytes, Math.min(8, bytes.length))))
    throw new QuorumError('corrupt', 'not a NRRD file (no "NRRD000x" magic)', fileName);
  const end = headerEnd(bytes, fileName);
  const f = fields(headerText(bytes, end));
  const need = (k: string) => {
    const v = f.get(k);
    if (v === undefined) throw new QuorumError('corrupt', `the NRRD header has no "${k}" field`, fileName);
    return v;
  };
  const typeName = need('type').toLowerCase();
  if (typeName === 'block')
    throw new QuorumError('unsupported', 'NRRD "block" voxels are not an image Quorum can use', fileName);
  const type = NRRD_TYPES[typeName];
  if (!type) throw new QuorumError('corrupt', `unknown NRRD type "${typeName}"`, fileName);
  const dimension = Number(need('dimension'));
  const sizes = numbers(need('sizes'));
  if (!(dimension >= 1 && dimension <= 16) || sizes.length !== dimension)
    throw new QuorumError(
      'corrupt',
      `dimension ${dimension} and sizes "${f.get('sizes')}" disagree`,
      fileName,
    );
  const kinds = f
    .get('kinds')
    ?.split(/\s+/)
    .map((k) => k.toLowerCase());
  const warnings: string[] = [];

  // Which axes are space, and their step vectors in LPS.
  const spaceName = f.get('space')?.toLowerCase();
  const space = spaceName ? (SPACE_ALIASES[spaceName] ?? spaceName) : undefined;
  const dirs = f.get('space directions')?.match(/\([^)]*\)|none/gi);
  let spatial: number[];
  let axes: Vec3[];
  let origin: Vec3 = [0, 0, 0];
  if (dirs) {
    if (dirs.length !== dimension)
      throw new QuorumError(
        'corrupt',
        `"space directions" has ${dirs.length} entries for ${dimension} axes`,
        fileName,
      );
    const signs: Vec3 = (space ? SPACE_TO_LPS[space] : undefined) ?? [1, 1, 1];
    if (!space || !SPACE_TO_LPS[space])
      warnings.push(
        `space "${f.get('space') ?? f.get('space dimension') ?? '?'}" is not a patient space: taken as LPS`,
      );
    spatial = dirs.flatMap((d, a) => (/none/i.test(d) ? [] : [a]));
    axes = spatial.map((a) => {
      const v = numbers(dirs[a]);
      return [0, 1, 2].map((r) => signs[r] * v[r]) as Vec3;
    });
    const o = f.get('space origin');
    if (o) {
      const v = numbers(o);
      origin = [0, 1, 2].map((r) => signs[r] * v[r]) as Vec3;
    }
  } else {
    // no orientation: the domain axes in file order, with their spacings (1 mm where none)
    const isSpace = (a: number) => !kinds || kinds[a] === 'domain' || kinds[a] === 'space';
    spatial = sizes
      .map((_, a) => a)
      .filter(isSpace)
      .slice(0, 3);
    const spacings = numbers(f.get('spacings') ?? '');
    axes = spatial.map((a, c) => {
      const s = Number.isFinite(spacings[a]) && spacings[a] > 0 ? spacings[a] : 1;
      return [0, 1, 2].map((r) => (r === c ? s : 0)) as Vec3;
    });
    warnings.push('no orientation in the NRRD header (no "space directions"): axes taken as L, P, S');
  }
  if (spatial.length < 2 || spatial.length > 3)
    throw new QuorumError('unsupported', `${spatial.length} spatial axes: not a 2-D or 3-D image`, fileName);
  const units = [...(f.get('space units') ?? '').matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  if (units.some((u) => u.toLowerCase() !== 'mm'))
    warnings.push(`space units ${units.join(', ')}: read as millimetres`);

  const endian = f.get('endian')?.toLowerCase();
  const layout: RawLayout = { sizes, spatial, type, littleEndian: endian !== 'big' };
  const voxelBytes = rawByteLength(layout, fileName);

  // The voxel bytes: attached after the header, or in the data file.
  const dataFile = f.get('data file') ?? f.get('datafile');
  let raw: Uint8Array;
  let rawName = fileName;
  if (dataFile) {
    if (/^LIST\b/i.test(dataFile) || /%/.test(dataFile) || /\s/.test(dataFile.trim()))
      throw new QuorumError(
        'unsupported',
        `the voxels are spread over several files ("data file: ${dataFile}"): save the volume as one .nrrd`,
        fileName,
      );
    if (!readBeside)
      throw new QuorumError(
        'unsupported',
        `a detached header: its data file ${dataFile} cannot be read here`,
        fileName,
      );
    raw = readBeside(dataFile);
    rawName = dataFile;
  } else raw = bytes.subarray(end);

  const encoding = (f.get('encoding') ?? 'raw').toLowerCase();
  let data: Uint8Array;
  let little = layout.littleEndian;
  const lineSkip = Number(f.get('line skip') ?? f.get('lineskip') ?? 0);
  if (lineSkip > 0) {
    let at = 0;
    for (let l = 0; l < lineSkip && at < raw.length; at++) if (raw[at] === 0x0a) l++;
    raw = raw.subarray(at);
  }
  const byteSkip = Number(f.get('byte skip') ?? f.get('byteskip') ?? 0);
  if (encoding === 'raw')
    data = byteSkip === -1 ? raw.subarray(Math.max(0, raw.length - voxelBytes)) : raw.subarray(byteSkip);
  else if (encoding === 'gzip' || encoding === 'gz') {
    if (!isGzip(raw))
      throw new QuorumError('corrupt', `${rawName}: "encoding: gzip" but the data is not gzip`, fileName);
    const limit = voxelBytes + Math.max(0, byteSkip);
    data = (inflate?.(raw, limit) ?? gunzipUpTo(raw, fileName, limit)).subarray(Math.max(0, byteSkip));
  } else if (encoding === 'ascii' || encoding === 'text' || encoding === 'txt') {
    const values = numbers(headerText(raw, raw.length));
    const Ctor = {
      uint8: Uint8Array,
      int8: Int8Array,
      int16: Int16Array,
      uint16: Uint16Array,
      int32: Int32Array,
      uint32: Uint32Array,
      int64: Float64Array,
      uint64: Float64Array,
      float32: Float32Array,
      float64: Float64Array,
    }[type];
    const typed = new Ctor(values.length);
    typed.set(values);
    data = new Uint8Array(typed.buffer);
    little = HOST_LITTLE;
    if (type === 'int64' || type === 'uint64') layout.type = 'float64';
  } else if (encoding === 'hex') {
    const hex = headerText(raw, raw.length).replace(/[^0-9a-f]/gi, '');
    data = new Uint8Array(hex.length >> 1);
    for (let i = 0; i < data.length; i++) data[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  } else if (encoding === 'bzip2' || encoding === 'bz2')
    throw new QuorumError(
      'unsupported',
      'bzip2-compressed NRRD is not read: save it again gzip-compressed or raw (3D Slicer: Save, "Compress")',
      fileName,
    );
  else throw new QuorumError('corrupt', `unknown NRRD encoding "${encoding}"`, fileName);

  return volumeOfRaw(
    data,
    { ...layout, littleEndian: little },
    volume,
    { axes, origin },
    { fileName, format: 'nrrd', description: f.get('content'), warnings, stack: `${dimension}-D` },
  );
}
