import dicomParser from 'dicom-parser';
import { QuorumError } from '../errors.ts';
import type { DicomImage } from './parse.ts';
import { TRANSFER_SYNTAX_NAMES } from './parse.ts';

/**
 * A decoder for a compressed transfer syntax: encoded frame bytes -> stored pixel values.
 * Pure-JS/WASM codecs are registered by the caller (core/src/node/dicom-codecs.ts in Node),
 * so this module stays free of Node globals.
 */
export type FrameDecoder = (encoded: Uint8Array, img: DicomImage) => Promise<ArrayLike<number>>;
export type DecoderRegistry = Record<string, FrameDecoder>;

const NATIVE = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2']);

function nativeFrame(img: DicomImage, frame: number): Int32Array {
  const el = img.dataSet.elements.x7fe00010;
  const n = img.rows * img.columns;
  const bytes = img.bitsAllocated / 8;
  const start = el.dataOffset + frame * n * bytes;
  const buf = img.dataSet.byteArray;
  if (start + n * bytes > buf.length || start + n * bytes > el.dataOffset + el.length + 1) {
    throw new QuorumError('truncated', `pixel data ends before frame ${frame} is complete`, img.file);
  }
  const little = img.transferSyntaxUID !== '1.2.840.10008.1.2.2';
  const view = new DataView(buf.buffer, buf.byteOffset + start, n * bytes);
  const signed = img.pixelRepresentation === 1;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (bytes === 1) out[i] = signed ? view.getInt8(i) : view.getUint8(i);
    else if (bytes === 2) out[i] = signed ? view.getInt16(2 * i, little) : view.getUint16(2 * i, little);
    else out[i] = signed ? view.getInt32(4 * i, little) : view.getUint32(4 * i, little);
  }
  return out;
}

/** DICOM RLE (PS3.5 Annex G): a header of segment offsets, each segment PackBits-coded, MSB first. */
export function decodeRle(encoded: Uint8Array, img: DicomImage): Int32Array {
  const n = img.rows * img.columns;
  const bytes = img.bitsAllocated / 8;
  const v = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  if (encoded.length < 64) throw new QuorumError('truncated', 'RLE header is incomplete', img.file);
  const segments = v.getUint32(0, true);
  if (segments !== bytes * img.samplesPerPixel)
    throw new QuorumError('corrupt', `RLE has ${segments} segments, ${bytes} expected`, img.file);
  const planes: Uint8Array[] = [];
  for (let s = 0; s < segments; s++) {
    const start = v.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? v.getUint32(8 + 4 * s, true) : encoded.length;
    const out = new Uint8Array(n);
    let o = 0;
    let i = start;
    while (o < n && i < end) {
      const h = (encoded[i++] << 24) >> 24;
      if (h >= 0) {
        for (let k = 0; k <= h && o < n; k++) out[o++] = encoded[i++];
      } else if (h > -128) {
        const val = encoded[i++];
        for (let k = 0; k < 1 - h && o < n; k++) out[o++] = val;
      }
    }
    if (o < n) throw new QuorumError('truncated', `RLE segment ${s} decodes to ${o} of ${n} bytes`, img.file);
    planes.push(out);
  }
  const res = new Int32Array(n);
  const signed = img.pixelRepresentation === 1;
  for (let i = 0; i < n; i++) {
    let x = 0;
    for (let s = 0; s < bytes; s++) x = (x << 8) | planes[s][i]; // most significant byte first
    if (signed) x = bytes === 2 ? (x << 16) >> 16 : bytes === 1 ? (x << 24) >> 24 : x;
    res[i] = x;
  }
  return res;
}

export function encapsulatedFrame(img: DicomImage, frame: number): Uint8Array {
  const ds = img.dataSet;
  const el = ds.elements.x7fe00010;
  try {
    if (!el.fragments) throw new Error('no fragments');
    if (img.frames === 1)
      return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, el.fragments.length);
    return dicomParser.readEncapsulatedImageFrame(ds, el, frame);
  } catch (e) {
    throw new QuorumError(
      'corrupt',
      `encapsulated pixel data is damaged (${(e as Error).message ?? e})`,
      img.file,
    );
  }
}

/** Stored values of one frame (before rescale), row-major rows x columns. */
export async function decodeFrame(
  img: DicomImage,
  frame: number,
  codecs: DecoderRegistry = {},
): Promise<ArrayLike<number>> {
  if (img.samplesPerPixel !== 1)
    throw new QuorumError(
      'unsupported',
      `${img.samplesPerPixel} samples per pixel (${img.photometric}): colour images are not MRI sequences`,
      img.file,
    );
  if (![8, 16, 32].includes(img.bitsAllocated))
    throw new QuorumError('unsupported', `BitsAllocated ${img.bitsAllocated}`, img.file);
  const ts = img.transferSyntaxUID;
  if (NATIVE.has(ts)) return nativeFrame(img, frame);
  if (ts === '1.2.840.10008.1.2.5') return decodeRle(encapsulatedFrame(img, frame), img);
  const codec = codecs[ts];
  if (!codec) {
    throw new QuorumError(
      'unsupported',
      `unsupported transfer syntax ${ts} (${TRANSFER_SYNTAX_NAMES[ts] ?? 'unknown'})`,
      img.file,
    );
  }
  let out: ArrayLike<number>;
  try {
    out = await codec(encapsulatedFrame(img, frame), img);
  } catch (e) {
    if (e instanceof QuorumError) throw e;
    throw new QuorumError(
      'corrupt',
      `${TRANSFER_SYNTAX_NAMES[ts] ?? ts} data could not be decoded (${(e as Error).message ?? e})`,
      img.file,
    );
  }
  if (out.length < img.rows * img.columns)
    throw new QuorumError(
      'corrupt',
      `decoded frame has ${out.length} of ${img.rows * img.columns} pixels`,
      img.file,
    );
  return out;
}
