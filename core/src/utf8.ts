/**
 * UTF-8 for text in file headers (NRRD key/values, names a user typed). Core is typed without the
 * DOM and Node libraries, so it has no TextEncoder/TextDecoder of its own.
 */

/** The UTF-8 bytes of `s`. */
export function utf8Bytes(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

/**
 * Text read byte for byte (one char per byte, as header readers do) decoded as UTF-8; returned as
 * it is when it is not valid UTF-8 (a Latin-1 header).
 */
export function fromUtf8Bytes(latin1: string): string {
  let out = '';
  for (let i = 0; i < latin1.length; ) {
    const b = latin1.charCodeAt(i);
    const n = b < 0x80 ? 0 : b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : -1;
    if (n < 0 || i + n >= latin1.length) return latin1;
    let c = n === 0 ? b : b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const t = latin1.charCodeAt(i + k);
      if ((t & 0xc0) !== 0x80) return latin1;
      c = (c << 6) | (t & 63);
    }
    out += String.fromCodePoint(c);
    i += n + 1;
  }
  return out;
}
