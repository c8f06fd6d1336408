/**
 * Mutation fuzzing of the NIfTI and DICOM readers, run in a child process by
 * test/integration/fuzz.test.ts (so that a hang can be killed and memory measured on its own).
 *
 *   node --import tsx test/helpers/fuzz-child.ts <nifti|dicom> <seed> <budget-ms> <max-cases>
 *
 * Case i is generated from its own RNG (seed, i), so any case can be replayed alone. Before a case
 * the child sends {type:'start', i, desc}; after it {type:'end', i, outcome, ms, rss}. outcome is
 * 'ok', a QuorumError code, or 'BUG: ...' for anything else (a foreign exception, a volume with
 * impossible geometry, an error message that does not name the file).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'fflate';
import { type DicomImage, parseDicom } from '../../core/src/dicom/parse.ts';
import { groupSeries, seriesToVolume } from '../../core/src/dicom/series.ts';
import { QuorumError } from '../../core/src/errors.ts';
import { readNifti } from '../../core/src/nifti/read.ts';
import { NODE_CODECS } from '../../core/src/node/dicom-codecs.ts';
import { Rng } from '../../core/src/rng.ts';
import type { Volume } from '../../core/src/volume.ts';
import { withTransferSyntax } from './dicom-bytes.ts';
import { DATA } from './paths.ts';

const [kind, seedArg, budgetArg, maxArg] = process.argv.slice(2);
const SEED = Number(seedArg);
const BUDGET_MS = Number(budgetArg);
const MAX_CASES = Number(maxArg);

// The codecs (emscripten) print to stdout; the parent listens on IPC only.
const send = (m: object) => process.send?.(m);

const NIFTI_CORPUS = [
  'nifti-reader-js/5D_small.nii',
  'nifti-reader-js/little.nii.gz',
  'nifti-reader-js/big.nii.gz', // big-endian
  'nibabel/standard.nii.gz',
  'nibabel/example_nifti2.nii.gz', // NIfTI-2
  'nibabel/functional.nii', // 4-D
  'nibabel/anatomical.nii',
  'nibabel/row_major.dconn.nii', // CIFTI (refused)
  'niivue/low_res.nii.gz',
  'niivue/minimal.nii.gz',
  'niivue/complex_image.nii.gz', // complex (refused)
].map((f) => join(DATA, 'nifti', f));

const DICOM_CORPUS = [
  'pydicom-testfiles/MR_small.dcm',
  'pydicom-testfiles/MR_small_implicit.dcm',
  'pydicom-testfiles/MR_small_bigendian.dcm',
  'pydicom-testfiles/MR_small_RLE.dcm',
  'pydicom-testfiles/MR_small_jp2klossless.dcm',
  'pydicom-testfiles/MR_small_jpeg_ls_lossless.dcm',
  'pydicom-testfiles/CT_small.dcm',
  'dcm_qa_ts/In/1.dcm', // Siemens mosaic
  'dcm_qa_ts/In/5.dcm', // JPEG lossless
  'dcm_qa_nih/In/20180918GE/mr_0004/axial_epi_fmri_interleaved_i_to_s-00001.dcm',
].map((f) => join(DATA, 'dicom', f));

const SYNTAXES = [
  '1.2.840.10008.1.2',
  '1.2.840.10008.1.2.1',
  '1.2.840.10008.1.2.1.99',
  '1.2.840.10008.1.2.2',
  '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.57',
  '1.2.840.10008.1.2.4.70',
  '1.2.840.10008.1.2.4.80',
  '1.2.840.10008.1.2.4.90',
  '1.2.840.10008.1.2.4.201',
  '1.2.3.4',
  '',
];

type Field = { at: number; type: 'i16' | 'i32' | 'i64' | 'f32' | 'f64'; values: number[] };
const DIM_VALUES = [0, -1, 1, 2, 3, 4, 7, 8, 32767, -32768, 10000, 65535];
const TYPE_CODES = [
  0, 1, 2, 4, 8, 16, 32, 64, 128, 255, 256, 511, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304,
];
const FLOATS = [0, -1, 1, 0.5, 1e-30, 1e30, 3.4e38, -3.4e38, Number.NaN, Number.POSITIVE_INFINITY];
const OFFSETS = [0, 1, 4, 347, 348, 351, 352, 353, 544, 1e6, 1e9, 2 ** 31, -352, 3.5, Number.NaN];

/** The header fields worth mangling, for NIfTI-1 and NIfTI-2 layouts. */
function niftiFields(version: 1 | 2): Field[] {
  const f: Field[] = [];
  if (version === 1) {
    f.push({ at: 0, type: 'i32', values: [0, 348, 540, 0x5c010000, -1] });
    for (let i = 0; i < 8; i++) f.push({ at: 40 + 2 * i, type: 'i16', values: DIM_VALUES });
    f.push({ at: 68, type: 'i16', values: [0, 3000, 3001, 3099, 1002, -1] }); // intent_code
    f.push(
      { at: 70, type: 'i16', values: TYPE_CODES },
      { at: 72, type: 'i16', values: [0, 1, 8, 16, 24, 64, -8] },
    );
    for (let i = 0; i < 8; i++) f.push({ at: 76 + 4 * i, type: 'f32', values: FLOATS });
    f.push({ at: 108, type: 'f32', values: OFFSETS });
    f.push({ at: 112, type: 'f32', values: FLOATS }, { at: 116, type: 'f32', values: FLOATS });
    f.push({ at: 252, type: 'i16', values: [0, 1, 2, 3, 4, 5, -1, 32767] });
    f.push({ at: 254, type: 'i16', values: [0, 1, 2, 3, 4, 5, -1, 32767] });
    for (let i = 0; i < 18; i++) f.push({ at: 256 + 4 * i, type: 'f32', values: FLOATS });
    f.push({ at: 348, type: 'i32', values: [1, 0x01000000, 0] }); // extension flag
    f.push({ at: 352, type: 'i32', values: [0, -16, 16, 8, 32, 2 ** 31 - 16, -(2 ** 31)] }); // esize
  } else {
    f.push({ at: 0, type: 'i32', values: [0, 348, 540, 0x1c020000] });
    f.push({ at: 12, type: 'i16', values: TYPE_CODES }, { at: 14, type: 'i16', values: [0, 8, 16, 32, 64] });
    const dims = [...DIM_VALUES, 1e12, 2 ** 53, -(2 ** 40)];
    for (let i = 0; i < 8; i++) f.push({ at: 16 + 8 * i, type: 'i64', values: dims });
    for (let i = 0; i < 8; i++) f.push({ at: 104 + 8 * i, type: 'f64', values: FLOATS });
    f.push({ at: 168, type: 'i64', values: [0, 540, 544, 1e9, 2 ** 53, -1] });
    f.push({ at: 176, type: 'f64', values: FLOATS }, { at: 184, type: 'f64', values: FLOATS });
    f.push(
      { at: 344, type: 'i32', values: [0, 1, 2, 3, 4, -1] },
      { at: 348, type: 'i32', values: [0, 1, 2, 4, -1] },
    );
    for (let i = 0; i < 18; i++) f.push({ at: 352 + 8 * i, type: 'f64', values: FLOATS });
    f.push({ at: 504, type: 'i32', values: [0, 3000, 3001] });
    f.push(
      { at: 540, type: 'i32', values: [1, 0] },
      { at: 544, type: 'i32', values: [0, -16, 16, 2 ** 31 - 16] },
    );
  }
  return f;
}

function setField(b: Uint8Array, f: Field, value: number, little: boolean) {
  if (f.at + 8 > b.length) return;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (f.type === 'i16') v.setInt16(f.at, value, little);
  else if (f.type === 'i32') v.setInt32(f.at, value, little);
  else if (f.type === 'f32') v.setFloat32(f.at, value, little);
  else if (f.type === 'f64') v.setFloat64(f.at, value, little);
  else v.setBigInt64(f.at, BigInt(Number.isFinite(value) ? Math.trunc(value) : 0), little);
}

const pick = <T>(rng: Rng, a: readonly T[]): T => a[Math.floor(rng.next() * a.length)];
const int = (rng: Rng, n: number) => Math.floor(rng.next() * n);

function flipBits(rng: Rng, b: Uint8Array, headerBytes: number): string {
  const n = 1 + int(rng, 8);
  for (let k = 0; k < n; k++) {
    const at = rng.next() < 0.7 ? int(rng, Math.min(headerBytes, b.length)) : int(rng, b.length);
    b[at] ^= 1 << int(rng, 8);
  }
  return `${n} bit flips`;
}

/** One mutated NIfTI file: bytes, a name with the right extension, and what was done. */
function niftiCase(rng: Rng, corpus: { path: string; bytes: Uint8Array; raw?: Uint8Array }[]) {
  const { path, bytes, raw: unzipped } = pick(rng, corpus);
  const gz = path.endsWith('.gz');
  const name = `fuzz-${path.split('/').pop()}`;
  if (gz && rng.next() < 0.25) {
    // damage the compressed stream itself
    const b = bytes.slice();
    const r = rng.next();
    if (r < 0.4) return { bytes: b.subarray(0, int(rng, b.length)), name, desc: `${path}: gzip cut` };
    if (r < 0.7) {
      const v = new DataView(b.buffer);
      const isize = pick(rng, [0, 1, 348, 0x7fffffff, 0xffffffff, 0x80000000, int(rng, 2 ** 32)]);
      v.setUint32(b.length - 4, isize >>> 0, true);
      return { bytes: b, name, desc: `${path}: gzip ISIZE ${isize}` };
    }
    return { bytes: b, name, desc: `${path}: gzip ${flipBits(rng, b, 64)}` };
  }
  const raw = (unzipped ?? bytes).slice();
  const version = new DataView(raw.buffer).getInt32(0, true) === 540 || raw[4] === 0x6e ? 2 : 1;
  const little = [348, 540].includes(new DataView(raw.buffer).getInt32(0, true));
  const header = version === 1 ? 352 : 544;
  let b = raw;
  let desc: string;
  const r = rng.next();
  if (r < 0.2) {
    const cut = rng.next() < 0.5 ? int(rng, header + 16) : int(rng, b.length);
    b = b.subarray(0, cut);
    desc = `cut at ${cut} of ${raw.length}`;
  } else if (r < 0.45) {
    desc = flipBits(rng, b, header);
  } else if (r < 0.55) {
    const magic = version === 1 ? 344 : 4;
    const m = pick(rng, ['n+1\0', 'ni1\0', 'n+2\0', 'ni2\0', 'n+1\x01', '\0\0\0\0', 'xyz\0']);
    for (let i = 0; i < 4; i++) b[magic + i] = m.charCodeAt(i);
    desc = `magic ${JSON.stringify(m)}`;
  } else {
    const fields = niftiFields(version);
    const n = 1 + int(rng, 3);
    const done: string[] = [];
    for (let k = 0; k < n; k++) {
      const f = pick(rng, fields);
      const value = rng.next() < 0.85 ? pick(rng, f.values) : (rng.next() - 0.5) * 2 ** int(rng, 40);
      setField(b, f, value, little);
      done.push(`@${f.at}=${value}`);
    }
    desc = `fields ${done.join(' ')}`;
  }
  // stored (level 0) gzip: fast; real compressed streams are damaged in the branch above
  return { bytes: gz ? gzipSync(b, { level: 0 }) : b, name, desc: `${path}: ${desc}` };
}

/** Element positions of a DICOM file, from its clean parse (offsets of value and length field). */
function dicomElements(bytes: Uint8Array, file: string) {
  const im = parseDicom(bytes, file);
  const ts = im.transferSyntaxUID;
  const explicit = ts !== '1.2.840.10008.1.2';
  const little = ts !== '1.2.840.10008.1.2.2';
  const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
  return Object.entries(im.dataSet.elements).map(([tag, el]) => {
    const meta = tag.startsWith('x0002');
    const ex = meta || explicit;
    const long = !ex || LONG.has(el.vr ?? '') || el.hadUndefinedLength;
    return {
      tag,
      valueOffset: el.dataOffset,
      length: el.length,
      lengthAt: el.dataOffset - (long ? 4 : 2),
      lengthSize: long ? 4 : 2,
      little: meta || little,
    };
  });
}

function dicomCase(
  rng: Rng,
  corpus: { path: string; bytes: Uint8Array; els: ReturnType<typeof dicomElements> }[],
) {
  const { path, bytes, els } = pick(rng, corpus);
  const name = `fuzz-${path.split('/').pop()}`;
  let b: Uint8Array = bytes.slice();
  let desc: string;
  const r = rng.next();
  if (r < 0.2) {
    const cut = rng.next() < 0.5 ? int(rng, Math.min(b.length, 4096)) : int(rng, b.length);
    b = b.subarray(0, cut);
    desc = `cut at ${cut} of ${bytes.length}`;
  } else if (r < 0.45) {
    desc = flipBits(rng, b, 2048);
  } else if (r < 0.75) {
    const n = 1 + int(rng, 2);
    const done: string[] = [];
    for (let k = 0; k < n; k++) {
      const e = pick(rng, els);
      const v = new DataView(b.buffer);
      const max = e.lengthSize === 2 ? 0xffff : 0xffffffff;
      const len = pick(rng, [
        0,
        1,
        2,
        3,
        e.length + 1,
        e.length + 2,
        e.length - 2,
        max,
        max - 1,
        0x7fffffff,
        int(rng, max),
      ]);
      const value = Math.min(Math.max(0, len), max);
      if (e.lengthSize === 2) v.setUint16(e.lengthAt, value, e.little);
      else v.setUint32(e.lengthAt, value >>> 0, e.little);
      done.push(`${e.tag} length ${e.length}->${value}`);
    }
    desc = done.join(', ');
  } else if (r < 0.8) {
    // a geometry/scaling string rewritten in place (same length, space padded)
    const tags = ['x00280030', 'x00200032', 'x00200037', 'x00180088', 'x00180050', 'x00281053', 'x00281052'];
    const e = els.find((x) => x.tag === pick(rng, tags) && x.length > 0);
    if (!e) return { bytes: b, name, desc: `${path}: unchanged` };
    const n = e.tag === 'x00200037' ? 6 : e.tag === 'x00200032' ? 3 : e.tag === 'x00280030' ? 2 : 1;
    const val = () => pick(rng, ['0', '-1', '1', '1e309', 'nan', '-0', '2', '1e-30', 'x', '']);
    const text = pick(rng, [Array.from({ length: n }, val).join('\\'), val(), '0\\0\\0\\0\\0\\0']);
    for (let k = 0; k < e.length; k++) b[e.valueOffset + k] = k < text.length ? text.charCodeAt(k) : 0x20;
    desc = `${e.tag} = ${JSON.stringify(text.slice(0, e.length))}`;
  } else if (r < 0.9) {
    const uid = pick(rng, SYNTAXES);
    b = withTransferSyntax(b, uid);
    desc = `transfer syntax -> ${JSON.stringify(uid)}`;
  } else {
    // image attributes with extreme values: Rows, Columns, BitsAllocated, SamplesPerPixel, PixelRepresentation
    const tags = ['x00280010', 'x00280011', 'x00280100', 'x00280002', 'x00280103', 'x00280101'];
    const e = els.find((x) => x.tag === pick(rng, tags) && x.length === 2);
    if (!e) return { bytes: b, name, desc: `${path}: unchanged` };
    const value = pick(rng, [0, 1, 3, 7, 12, 24, 32, 64, 65535, 4096, int(rng, 65536)]);
    new DataView(b.buffer).setUint16(e.valueOffset, value, e.little);
    desc = `${e.tag} = ${value}`;
  }
  return { bytes: b, name, desc: `${path}: ${desc}` };
}

/** A loaded volume must be a usable one: positive integer dims, matching data, finite geometry. */
function checkVolume(v: Volume): string | undefined {
  if (!v.dims.every((d) => Number.isInteger(d) && d >= 1)) return `dims ${v.dims}`;
  if (v.data.length !== v.dims[0] * v.dims[1] * v.dims[2])
    return `data length ${v.data.length} for ${v.dims}`;
  if (!v.spacing.every((s) => Number.isFinite(s) && s > 0)) return `spacing ${v.spacing}`;
  if (!v.origin.every(Number.isFinite)) return `origin ${v.origin}`;
  if (!v.direction.every(Number.isFinite)) return `direction ${v.direction}`;
  for (let c = 0; c < 3; c++) {
    const norm = Math.hypot(v.direction[3 * c], v.direction[3 * c + 1], v.direction[3 * c + 2]);
    if (Math.abs(norm - 1) > 1e-3) return `direction axis ${c} has length ${norm}`;
  }
  return undefined;
}

async function loadDicomBytes(bytes: Uint8Array, name: string): Promise<Volume> {
  const im: DicomImage = parseDicom(bytes, name);
  return seriesToVolume(groupSeries([im])[0], NODE_CODECS, name);
}

async function main() {
  const nifti = kind === 'nifti';
  const corpus = (nifti ? NIFTI_CORPUS : DICOM_CORPUS).map((path) => {
    const bytes = new Uint8Array(readFileSync(path));
    return {
      path: path.slice(DATA.length + 1),
      bytes,
      raw: nifti && path.endsWith('.gz') ? gunzipSync(bytes) : undefined,
      els: nifti ? [] : dicomElements(bytes, path),
    };
  });
  // warm-up: every corpus file loads unmodified (codecs compiled, baseline memory)
  for (const c of corpus) {
    try {
      if (nifti) readNifti(c.bytes, c.path);
      else await loadDicomBytes(c.bytes, c.path);
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e;
    }
  }
  const baseline = process.memoryUsage.rss();
  send({ type: 'ready', corpus: corpus.length, rss: baseline });
  const t0 = performance.now();
  let i = 0;
  for (; i < MAX_CASES && performance.now() - t0 < BUDGET_MS; i++) {
    const rng = new Rng(SEED * 1_000_003 + i);
    const c = nifti ? niftiCase(rng, corpus) : dicomCase(rng, corpus);
    send({ type: 'start', i, desc: c.desc });
    const t = performance.now();
    let outcome: string;
    try {
      const v = nifti ? readNifti(c.bytes, c.name) : await loadDicomBytes(c.bytes, c.name);
      const bad = checkVolume(v);
      outcome = bad ? `BUG: loaded with ${bad}` : 'ok';
    } catch (e) {
      if (!(e instanceof QuorumError))
        outcome = `BUG: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message ?? e}`;
      else if (!e.message.includes(c.name)) outcome = `BUG: message does not name the file: ${e.message}`;
      else outcome = e.code;
    }
    send({ type: 'end', i, outcome, ms: performance.now() - t, rss: process.memoryUsage.rss() });
  }
  send({ type: 'done', cases: i, ms: performance.now() - t0 });
}

// the last message is sent before exiting, so none is lost with the channel
main().then(
  () => process.send?.({ type: 'exit' }, () => process.exit(0)),
  (e) => process.send?.({ type: 'crash', message: String(e?.stack ?? e) }, () => process.exit(1)),
);
