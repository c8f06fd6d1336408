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
  | 'cancelled';

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

/** Voxel budget: anything claiming more is refused before allocation (4 GiB of float32). */
export const MAX_VOXELS = 1 << 30;
