import { createRequire } from 'node:module';
import type { DecoderRegistry, FrameDecoder } from '../dicom/decode.ts';
import type { DicomImage } from '../dicom/parse.ts';

/**
 * Compressed transfer syntaxes, decoded with cornerstone's codec packages (the asm.js builds,
 * which need no .wasm file lookup) and jpeg-lossless-decoder-js. Loaded lazily: a folder of
 * uncompressed files never pays for them.
 */
const require = createRequire(import.meta.url);

interface EmCodec {
  getEncodedBuffer(n: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; isSigned?: boolean };
  delete?(): void;
}
type Factory = () => Promise<Record<string, new () => EmCodec>>;
const modules = new Map<string, Promise<Record<string, new () => EmCodec>>>();

function emscripten(pkg: string, cls: string): FrameDecoder {
  return async (encoded: Uint8Array, img: DicomImage) => {
    if (!modules.has(pkg)) modules.set(pkg, (require(pkg) as Factory)());
    const mod = await modules.get(pkg)!;
    const d = new mod[cls]();
    try {
      d.getEncodedBuffer(encoded.length).set(encoded);
      d.decode();
      return toPixels(d.getDecodedBuffer().slice(), img);
    } finally {
      d.delete?.();
    }
  };
}

function toPixels(bytes: Uint8Array, img: DicomImage): ArrayLike<number> {
  if (img.bitsAllocated <= 8)
    return img.pixelRepresentation ? new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length) : bytes;
  const n = bytes.length >> 1;
  return img.pixelRepresentation
    ? new Int16Array(bytes.buffer, bytes.byteOffset, n)
    : new Uint16Array(bytes.buffer, bytes.byteOffset, n);
}

const jpegLossless: FrameDecoder = async (encoded, img) => {
  const { Decoder } = require('jpeg-lossless-decoder-js') as {
    Decoder: new () => {
      decode(
        b: ArrayBuffer,
        off: number,
        len: number,
        bytesPerComponent: number,
      ): ArrayBuffer | ArrayBufferView;
    };
  };
  // a real copy: encoded may be a Node Buffer, whose slice() is a view of the whole file
  const copy = new Uint8Array(encoded);
  const out = new Decoder().decode(copy.buffer, 0, copy.length, img.bitsAllocated > 8 ? 2 : 1);
  const bytes =
    out instanceof ArrayBuffer
      ? new Uint8Array(out)
      : new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  return toPixels(bytes.slice(), img);
};

export const NODE_CODECS: DecoderRegistry = {
  '1.2.840.10008.1.2.4.57': jpegLossless,
  '1.2.840.10008.1.2.4.70': jpegLossless,
  '1.2.840.10008.1.2.4.80': emscripten('@cornerstonejs/codec-charls', 'JpegLSDecoder'),
  '1.2.840.10008.1.2.4.81': emscripten('@cornerstonejs/codec-charls', 'JpegLSDecoder'),
  '1.2.840.10008.1.2.4.90': emscripten('@cornerstonejs/codec-openjpeg', 'J2KDecoder'),
  '1.2.840.10008.1.2.4.91': emscripten('@cornerstonejs/codec-openjpeg', 'J2KDecoder'),
  '1.2.840.10008.1.2.4.50': emscripten('@cornerstonejs/codec-libjpeg-turbo-8bit', 'JPEGDecoder'),
  '1.2.840.10008.1.2.4.51': emscripten('@cornerstonejs/codec-libjpeg-turbo-8bit', 'JPEGDecoder'),
};
