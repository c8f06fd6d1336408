import { inflateSync } from 'node:zlib';

/** A decoded screenshot: 8-bit RGBA, row-major. */
export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decodes the PNGs Chromium writes for screenshots (8-bit RGB/RGBA, not interlaced). */
export function decodePng(png: Buffer): Rgba {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let at = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || body[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs');
      colorType = body[9];
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    at += 12 + len;
  }
  const bpp = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  if (!bpp) throw new Error(`unsupported PNG colour type ${colorType}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const cur = new Uint8Array(stride);
  const prev = new Uint8Array(stride);
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? cur[x - bpp] : 0;
      const b = prev[x];
      const c = x >= bpp ? prev[x - bpp] : 0;
      let v = line[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[x] = v & 255;
    }
    for (let x = 0; x < width; x++) {
      const o = 4 * (x + y * width);
      out[o] = cur[x * bpp];
      out[o + 1] = cur[x * bpp + 1];
      out[o + 2] = cur[x * bpp + 2];
      out[o + 3] = bpp === 4 ? cur[x * bpp + 3] : 255;
    }
    prev.set(cur);
  }
  return { width, height, data: out };
}

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Counts pixels of a region that satisfy `test(r, g, b)`. */
export function countPixels(
  img: Rgba,
  region: Region,
  test: (r: number, g: number, b: number) => boolean,
): number {
  let n = 0;
  const x0 = Math.max(0, Math.floor(region.x));
  const y0 = Math.max(0, Math.floor(region.y));
  const x1 = Math.min(img.width, Math.floor(region.x + region.width));
  const y1 = Math.min(img.height, Math.floor(region.y + region.height));
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      const o = 4 * (x + y * img.width);
      if (test(img.data[o], img.data[o + 1], img.data[o + 2])) n++;
    }
  return n;
}

export function pixel(img: Rgba, x: number, y: number): [number, number, number] {
  const o = 4 * (Math.round(x) + Math.round(y) * img.width);
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

/** Grey image pixels: channels within 12 of each other and brighter than the background. */
export const isGrey = (r: number, g: number, b: number) =>
  Math.max(r, g, b) - Math.min(r, g, b) < 12 && r + g + b > 90;
/** Colour overlay pixels: clearly saturated. */
export const isColour = (r: number, g: number, b: number) => Math.max(r, g, b) - Math.min(r, g, b) > 60;
/** Any hue at all (a colour overlay, even pale over white tissue). */
export const isTinted = (r: number, g: number, b: number) => Math.max(r, g, b) - Math.min(r, g, b) > 25;
/** The pending proposal (green labelmap segment) over grey. */
export const isGreen = (r: number, g: number, b: number) => g > r + 40 && g > b + 40;
/** The accepted lesion (red labelmap segment) over grey. */
export const isRed = (r: number, g: number, b: number) => r > g + 50 && r > b + 50;
