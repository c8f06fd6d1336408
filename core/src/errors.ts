/**
 * Every failure a user can cause with a file is a QuorumError with a machine-readable code
 * and a message that names the file and the problem. Anything else escaping a reader is a bug.
 */
export type QuorumErrorCode =
  | 'not-found'
  | 'not-nifti'
  | 'not-dicom'
  | 'truncated'
  | 'corrupt'
  | 'unsupported'
  | 'too-large'
  | 'inconsistent-series'
  | 'missing-sequence'
  | 'bad-argument'
  | 'model'
  | 'worker-crashed'
  | 'cancelled'
  /** Held by someone else (a case journal another tab or window is editing). */
  | 'locked'
  /** A write to a user's file failed (disk full, no permission, I/O error): nothing was saved. */
  | 'not-saved'
  /** A PACS refused, was unreachable or did not answer (the message names the node). */
  | 'network';

export class QuorumError extends Error {
  readonly code: QuorumErrorCode;
  readonly file?: string;
  constructor(code: QuorumErrorCode, message: string, file?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'QuorumError';
    this.code = code;
    this.file = file;
  }
}

/**
 * Voxel budget: a header claiming more is refused before anything is allocated. 2^28 voxels
 * (e.g. 1024x1024x256) is far beyond any MRI series and still only 1 GiB as float32.
 */
export const MAX_VOXELS = 1 << 28;
/** Cap on a decompressed gzip stream (NIfTI .gz): float64 at MAX_VOXELS plus headers. */
export const MAX_DECOMPRESSED_BYTES = MAX_VOXELS * 8 + (1 << 20);
