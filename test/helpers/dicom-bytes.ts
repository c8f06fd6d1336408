/**
 * Byte-level edits of real DICOM Part 10 files for tests (bad-input cases and fuzzing). Written
 * against PS3.5 (explicit VR little-endian file meta group), not against our parser, so that a
 * parser bug cannot hide in both.
 */

/** VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

export interface RawElement {
  group: number;
  element: number;
  vr: string;
  /** offset of the tag */
  start: number;
  /** offset and length of the value */
  valueOffset: number;
  length: number;
  /** offset and size (2 or 4) of the length field */
  lengthOffset: number;
  lengthSize: 2 | 4;
}

function hasPreamble(b: Uint8Array): boolean {
  return b.length > 132 && String.fromCharCode(b[128], b[129], b[130], b[131]) === 'DICM';
}

/**
 * Walks explicit-VR little-endian elements from `offset` while `keep(group)` holds (the file meta
 * group, or a whole explicit-LE data set). Stops at undefined lengths, at the end, or at the first
 * element that would run past the end.
 */
export function walkExplicitLE(
  b: Uint8Array,
  offset: number,
  keep: (group: number) => boolean,
): RawElement[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: RawElement[] = [];
  let o = offset;
  while (o + 8 <= b.length) {
    const group = v.getUint16(o, true);
    const element = v.getUint16(o + 2, true);
    if (!keep(group)) break;
    const vr = String.fromCharCode(b[o + 4], b[o + 5]);
    const long = LONG_VRS.has(vr);
    const lengthOffset = long ? o + 8 : o + 6;
    const lengthSize = long ? 4 : 2;
    if (lengthOffset + lengthSize > b.length) break;
    const length = long ? v.getUint32(lengthOffset, true) : v.getUint16(lengthOffset, true);
    const valueOffset = lengthOffset + lengthSize;
    out.push({ group, element, vr, start: o, valueOffset, length, lengthOffset, lengthSize });
    if (length === 0xffffffff || valueOffset + length > b.length) break;
    o = valueOffset + length;
  }
  return out;
}

/** The file meta elements (group 0002) of a Part 10 file. */
export function metaElements(b: Uint8Array): RawElement[] {
  if (!hasPreamble(b)) throw new Error('not a DICOM Part 10 file (no DICM at 128)');
  return walkExplicitLE(b, 132, (g) => g === 2);
}

export function transferSyntaxOf(b: Uint8Array): string {
  const ts = metaElements(b).find((e) => e.element === 0x0010);
  if (!ts) throw new Error('no TransferSyntaxUID');
  return String.fromCharCode(...b.subarray(ts.valueOffset, ts.valueOffset + ts.length)).replace(/\0/g, '');
}

/**
 * The same file with another TransferSyntaxUID in its meta group (padded to even length with
 * NUL, group length (0002,0000) recomputed); the data set bytes are left exactly as they were.
 */
export function withTransferSyntax(b: Uint8Array, uid: string): Uint8Array {
  const meta = metaElements(b);
  const ts = meta.find((e) => e.element === 0x0010);
  if (ts?.lengthSize !== 2) throw new Error('no TransferSyntaxUID to replace');
  const value = new TextEncoder().encode(uid.length % 2 ? `${uid}\0` : uid);
  const out = new Uint8Array(b.length - ts.length + value.length);
  out.set(b.subarray(0, ts.valueOffset));
  out.set(value, ts.valueOffset);
  out.set(b.subarray(ts.valueOffset + ts.length), ts.valueOffset + value.length);
  const v = new DataView(out.buffer);
  v.setUint16(ts.lengthOffset, value.length, true);
  const gl = meta.find((e) => e.element === 0x0000);
  if (gl) v.setUint32(gl.valueOffset, v.getUint32(gl.valueOffset, true) + value.length - ts.length, true);
  return out;
}

/**
 * Inserts one short-VR element (e.g. NumberOfFrames IS) into an explicit-VR little-endian data
 * set, in tag order, so the result is a well-formed file that differs by that element only.
 */
export function insertElementLE(
  b: Uint8Array,
  group: number,
  element: number,
  vr: string,
  value: string,
): Uint8Array {
  const meta = metaElements(b);
  const last = meta[meta.length - 1];
  const body = walkExplicitLE(b, last.valueOffset + last.length, () => true);
  const key = group * 0x10000 + element;
  const after = body.find((e) => e.group * 0x10000 + e.element > key);
  if (!after) throw new Error('no element after the insertion point');
  const val = new TextEncoder().encode(value.length % 2 ? `${value} ` : value);
  const el = new Uint8Array(8 + val.length);
  const v = new DataView(el.buffer);
  v.setUint16(0, group, true);
  v.setUint16(2, element, true);
  el[4] = vr.charCodeAt(0);
  el[5] = vr.charCodeAt(1);
  v.setUint16(6, val.length, true);
  el.set(val, 8);
  const out = new Uint8Array(b.length + el.length);
  out.set(b.subarray(0, after.start));
  out.set(el, after.start);
  out.set(b.subarray(after.start), after.start + el.length);
  return out;
}
