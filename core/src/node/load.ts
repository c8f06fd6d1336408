import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { QuorumError } from '../errors.ts';
import { type VolumeFileFormat, volumeFileFormat } from '../lists.ts';
import { readMetaImage } from '../metaimage/read.ts';
import { readNifti } from '../nifti/read.ts';
import { type EncodeOptions, encodeNifti } from '../nifti/write.ts';
import { readNrrd } from '../nrrd/read.ts';
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

/** The readers of files other than NIfTI (lists.ts VOLUME_FILE_FORMATS), by format. */
const READERS: Record<
  Exclude<VolumeFileFormat, 'nifti'>,
  (bytes: Uint8Array, path: string, volume?: number) => Volume
> = {
  nrrd: (bytes, path, volume) => readNrrd(bytes, path, beside(path), nativeInflateUpTo, volume),
  metaimage: (bytes, path, volume) => readMetaImage(bytes, path, beside(path), volume),
};

/** A detached header's data file, named relative to the header's folder. */
const beside = (header: string) => (name: string) => readOrThrow(resolve(dirname(header), name));

/**
 * Loads a NIfTI file (.nii, .nii.gz, .hdr/.img), a NRRD or MetaImage file, or a DICOM folder into a
 * Volume; `volume` picks one volume of a 4-D file (a channel of a multi-sequence file:
 * core/src/node/channels.ts).
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
  // NRRD says what it is in its first bytes, whatever the file is called
  const format = String.fromCharCode(...bytes.subarray(0, 7)) === 'NRRD000' ? 'nrrd' : volumeFileFormat(path);
  if (format && format !== 'nifti') return READERS[format](bytes, path, opts.volume);
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
