import { existsSync, readFileSync, statSync } from 'node:fs';
import { QuorumError } from '../errors.ts';
import { readNifti } from '../nifti/read.ts';
import { type EncodeOptions, encodeNifti } from '../nifti/write.ts';
import type { Volume } from '../volume.ts';
import { type ReplacePolicy, writeOutputFile } from './atomic.ts';
import { nativeGzip, nativeInflateUpTo } from './gzip.ts';

function readOrThrow(path: string): Uint8Array {
  if (!existsSync(path)) throw new QuorumError('not-found', 'no such file', path);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new QuorumError(
      'not-found',
      `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      path,
    );
  }
}

/** The .img partner of a .hdr (also .hdr.gz / .img.gz). */
function imagePartner(hdr: string): string | undefined {
  const candidates = [
    hdr.replace(/\.hdr(\.gz)?$/i, '.img$1'),
    hdr.replace(/\.hdr(\.gz)?$/i, '.img'),
    hdr.replace(/\.hdr(\.gz)?$/i, '.img.gz'),
  ];
  return candidates.find((c) => c !== hdr && existsSync(c));
}

/**
 * Loads a NIfTI file (.nii, .nii.gz, .hdr/.img) or a DICOM folder into a Volume; `volume` picks one
 * volume of a 4-D NIfTI (a channel of a multi-sequence file: core/src/node/channels.ts).
 */
export async function loadVolume(
  path: string,
  opts: { series?: string; volume?: number } = {},
): Promise<Volume> {
  if (existsSync(path) && statSync(path).isDirectory()) {
    const { loadDicomSeries } = await import('./dicom-fs.ts');
    return loadDicomSeries(path, opts.series);
  }
  const bytes = readOrThrow(path);
  if (/\.hdr(\.gz)?$/i.test(path)) {
    const img = imagePartner(path);
    if (!img) throw new QuorumError('not-found', 'the .img file that goes with this .hdr is missing', path);
    return readNifti(bytes, path, readOrThrow(img), nativeInflateUpTo, opts.volume);
  }
  // A file that is not NIfTI may be a single DICOM file.
  if (
    bytes.length > 132 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  ) {
    const { loadDicomSeries } = await import('./dicom-fs.ts');
    return loadDicomSeries([path], opts.series);
  }
  return readNifti(bytes, path, undefined, nativeInflateUpTo, opts.volume);
}

/**
 * Writes a NIfTI file atomically; never over one of `sources`, never over a file Quorum did not
 * write (`replace`: core/src/node/atomic.ts writeOutputFile).
 */
export function writeNiftiFile(
  path: string,
  vol: Parameters<typeof encodeNifti>[0],
  opts: EncodeOptions & { sources?: string[]; replace?: ReplacePolicy } = {},
): void {
  const bytes = encodeNifti(vol, { deflate: nativeGzip, ...opts, gzip: opts.gzip ?? /\.gz$/i.test(path) });
  writeOutputFile(path, bytes, opts);
}
