import type { SequenceKind, VolumeFileFormat } from './lists.ts';

/**
 * The one image type shared by every process.
 *
 * World coordinates are DICOM patient coordinates, LPS+ (x → patient Left, y → Posterior,
 * z → Superior), in millimetres — the convention of DICOM, ITK and cornerstone3D. NIfTI's
 * RAS+ affine is converted at the edge (core/src/nifti) by negating its first two rows.
 *
 * Voxel (i, j, k) sits at  origin + i*spacing[0]*dirI + j*spacing[1]*dirJ + k*spacing[2]*dirK,
 * where dirI = direction[0..2], dirJ = direction[3..5], dirK = direction[6..8] (unit vectors,
 * LPS). This is cornerstone3D's ImageVolume layout. Data is stored i fastest, then j, then k.
 * Sheared NIfTI affines keep non-orthogonal (but unit) direction columns, so the affine
 * round-trip stays exact.
 */

export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** MRI sequences Quorum knows about (SEQUENCE_KINDS); `unknown` when detection fails and the user has not assigned it. */
export type SequenceName = SequenceKind | 'unknown';

export type Vec3 = [number, number, number];
/** 3x3, direction[0..2] = i axis, [3..5] = j axis, [6..8] = k axis, each a unit vector in LPS. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

export interface VolumeSource {
  /** File or folder the volume came from (absolute path where known). Never written to. */
  path: string;
  format: VolumeFileFormat | 'dicom' | 'generated';
  /** On-disk datatype name, e.g. 'int16', 'float32' (before scaling). */
  datatype: string;
  /** Sequence as detected from names/tags, possibly overridden by the user. */
  sequence: SequenceName;
  /** Why that sequence (or why none): the evidence and rule of core/src/sequence.ts, or "assigned explicitly". */
  sequenceReason?: string;
  /** Free-text description (NIfTI descrip, DICOM SeriesDescription). */
  description?: string;
  /** Things the user should know about how the file was read (e.g. "4-D file: volume 0 of 10 loaded"). */
  warnings?: string[];
  /** NIfTI transform codes of the source, reused when writing derived volumes. */
  nifti?: { qformCode: number; sformCode: number };
  /** DICOM attributes that matter downstream (DICOM SEG export, display). */
  dicom?: {
    studyInstanceUID?: string;
    seriesInstanceUID?: string;
    frameOfReferenceUID?: string;
    sopInstanceUIDs?: string[];
    /** Per slice, its frame number (1-based) in sopInstanceUIDs[k] when the source is multi-frame (enhanced). */
    frameNumbers?: number[];
    sopClassUID?: string;
    modality?: string;
    patientName?: string;
    patientID?: string;
    /** General Study attributes of the source, copied into a DICOM SEG. */
    studyDate?: string;
    studyTime?: string;
    studyID?: string;
    accessionNumber?: string;
    seriesDescription?: string;
    seriesNumber?: number;
    echoTime?: number;
    /** SliceThickness (mm): thinner than the slice step means gaps between slices. */
    sliceThickness?: number;
    transferSyntaxUID?: string;
  };
}

export interface Volume {
  dims: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  /** Voxel values after scaling (scl_slope/RescaleSlope applied); i fastest. */
  data: VoxelArray;
  source: VolumeSource;
}

export function voxelCount(v: Pick<Volume, 'dims'>): number {
  return v.dims[0] * v.dims[1] * v.dims[2];
}
