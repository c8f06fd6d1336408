import { ApiError } from './errors.ts';

/**
 * Binary wire frames for byte transports (the browser-mode WebSocket; any other byte stream).
 * A frame is: u32 LE header length | header JSON (UTF-8) | pad to 8 | blobs, each padded to 8.
 * Typed arrays and ArrayBuffers anywhere in the message are replaced in the JSON by
 * { "$bin": n, "t": "<ctor>", "n": bytes } and their bytes travel raw: no base64, no number
 * arrays, so voxels never go through JSON.
 */

// TextEncoder/Decoder exist in every runtime we target (browsers, Node, Electron) but not in the
// ES2022 lib that core compiles against; reach them through globalThis with a minimal type.
const textCodec = globalThis as unknown as {
  TextEncoder: new () => { encode(s: string): Uint8Array };
  TextDecoder: new () => { decode(b: Uint8Array): string };
};

const TYPED = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
} as const;
type TypedName = keyof typeof TYPED | 'ArrayBuffer';

function typedName(v: unknown): TypedName | undefined {
  if (v instanceof ArrayBuffer) return 'ArrayBuffer';
  if (!ArrayBuffer.isView(v)) return undefined;
  for (const name of Object.keys(TYPED) as (keyof typeof TYPED)[]) if (v instanceof TYPED[name]) return name;
  return undefined;
}

const pad8 = (n: number) => (n + 7) & ~7;

export function encodeFrame(msg: unknown): Uint8Array {
  const blobs: Uint8Array[] = [];
  const header = JSON.stringify(msg, function (this: unknown, _key, value) {
    // JSON.stringify calls toJSON first; typed arrays have none, so `value` is the array itself.
    const t = typedName(value);
    if (!t) return value;
    const view = value as ArrayBufferView | ArrayBuffer;
    const bytes =
      view instanceof ArrayBuffer
        ? new Uint8Array(view)
        : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    blobs.push(bytes);
    return { $bin: blobs.length - 1, t, n: bytes.byteLength };
  });
  const head = new textCodec.TextEncoder().encode(header);
  let total = pad8(4 + head.byteLength);
  for (const b of blobs) total += pad8(b.byteLength);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, head.byteLength, true);
  out.set(head, 4);
  let at = pad8(4 + head.byteLength);
  for (const b of blobs) {
    out.set(b, at);
    at += pad8(b.byteLength);
  }
  return out;
}

const corrupt = (message: string) => new ApiError({ code: 'corrupt', message });

/** The largest frame decodeFrame takes by default (host to page: a whole volume fits). */
export const MAX_FRAME_BYTES = 2 ** 31 - 1;
/**
 * The largest frame a page may send the browser-mode host (its WebSocket maxPayload, and the cap
 * it decodes with). The biggest legitimate one is openUploaded carrying every dropped file of a
 * case at once: a few NIfTI volumes or a DICOM series, far under 1 GiB. The page refuses bigger
 * sends itself with a clear error (api-socket.ts); cases that big open by path.
 */
export const MAX_UPLOAD_FRAME_BYTES = 2 ** 30;
/** The largest JSON header: messages carry their bulk as blobs, never as JSON. */
export const MAX_HEADER_BYTES = 256 * 2 ** 20;

/**
 * Typed arrays in the result may be views onto `frame`'s buffer (zero copy): pass a frame whose
 * buffer the caller owns and will not reuse (not a pooled Node Buffer).
 *
 * Nothing in a frame is trusted: its length is capped (`maxBytes`), and every `$bin` reference
 * must be the next index (blobs are numbered in order of appearance), with a known type and a
 * byte count that fits inside the frame, all checked while the header is parsed, before anything
 * is allocated for it (a 100-byte frame claiming blob 10^9 is refused at once).
 */
export function decodeFrame<M = unknown>(frame: Uint8Array, maxBytes = MAX_FRAME_BYTES): M {
  if (frame.byteLength < 4) throw corrupt('wire frame shorter than its header');
  if (frame.byteLength > maxBytes)
    throw corrupt(`wire frame of ${frame.byteLength} bytes is over the ${maxBytes}-byte limit`);
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const headLen = dv.getUint32(0, true);
  if (headLen > MAX_HEADER_BYTES) throw corrupt(`wire frame header of ${headLen} bytes is over the limit`);
  if (4 + headLen > frame.byteLength) throw corrupt('wire frame header truncated');
  const header = new textCodec.TextDecoder().decode(frame.subarray(4, 4 + headLen));
  // Blob offsets follow from the sizes in the header, in order of appearance.
  const sizes: number[] = [];
  const starts: number[] = [];
  let at = pad8(4 + headLen);
  let parsed: unknown;
  try {
    parsed = JSON.parse(header, (_k, v) => {
      if (v && typeof v === 'object' && '$bin' in v) {
        const { $bin: i, t, n } = v as { $bin: unknown; t: unknown; n: unknown };
        if (i !== sizes.length)
          throw corrupt(`wire frame blob index ${String(i)} out of order (expected ${sizes.length})`);
        if (typeof t !== 'string' || (t !== 'ArrayBuffer' && !(t in TYPED)))
          throw corrupt(`unknown array type ${String(t)}`);
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > frame.byteLength - at)
          throw corrupt(
            `wire frame truncated or damaged: blob ${i} of ${String(n)} bytes does not fit in it`,
          );
        sizes.push(n);
        starts.push(at);
        at += pad8(n);
      }
      return v;
    });
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw corrupt(`wire frame header is not JSON (${(e as Error).message})`);
  }
  if (at > frame.byteLength) throw corrupt('wire frame blobs truncated');
  const revive = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(revive);
    if (!v || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if ('$bin' in o) {
      const i = o.$bin as number;
      const start = starts[i];
      const n = sizes[i];
      const src = frame.subarray(start, start + n);
      if (o.t === 'ArrayBuffer') return src.slice().buffer;
      const C = TYPED[o.t as keyof typeof TYPED];
      if (n % C.BYTES_PER_ELEMENT !== 0)
        throw corrupt(`wire frame blob ${i}: ${n} bytes is not a whole number of ${String(o.t)} elements`);
      // A view onto the frame when aligned (no copy of a 36 MB volume); else a copy, since the
      // transport's buffer offset need not suit Float32Array alignment.
      const at = frame.byteOffset + start;
      return at % C.BYTES_PER_ELEMENT === 0
        ? new C(frame.buffer as ArrayBuffer, at, n / C.BYTES_PER_ELEMENT)
        : new C(src.slice().buffer);
    }
    const r: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) r[k] = revive(x);
    return r;
  };
  return revive(parsed) as M;
}
