import type { Bidimensional } from './diameters.ts';
import type { ExportFormat } from './lists.ts';
import type { SegmentInfo } from './segments.ts';

// ---------------------------------------------------------------------------------------------
// Export: the labelmap and uncertainty written as the formats asked for, and the lesion report that
// goes with them. Part of the QuorumApi types (core/src/api.ts re-exports them): types only, no DOM,
// no Node.

export interface ExportRequest {
  caseId: string;
  formats: ExportFormat[];
  /** Full labelmap, volume grid, i fastest, 0 = background, >0 = lesion. */
  mask: Uint8Array;
  /** Full uncertainty (std) volume, 0 where not proposed. Absent: the host's map of all proposals so far. */
  uncertainty?: Float32Array;
  /** Slices the user changed (for the report). */
  editedSlices?: number[];
  /** Slices that have a proposal (for the report). Absent: the slices the host proposed. */
  proposedSlices?: number[];
  /**
   * Output folder. Absent: Electron asks with a dialog; the host otherwise uses its export
   * folder (<outDir>/<case name>/). Files are never written over an input.
   */
  targetDir?: string;
  /** File name stem, default "<case name>_quorum". */
  baseName?: string;
  /**
   * The case's segments (core/src/segments.ts): which label value of `mask` is which segment. The
   * NIfTI mask then gets a `<name>.segments.json` sidecar and the DICOM SEG one segment each.
   * Absent: `mask` > 0 is one lesion segment, as before segments.
   */
  segments?: SegmentInfo[];
}

export interface ExportResult {
  /** Written files by format. */
  files: Partial<Record<ExportFormat, string>>;
  report: LesionReport;
  warnings: string[];
}

export interface LesionReport {
  caseName: string;
  caseRoot: string;
  createdAt: string;
  lesionVoxels: number;
  lesionVolumeMl: number;
  voxelVolumeMl: number;
  slicesWithLesion: number[];
  slicesEdited: number[];
  slicesProposed: number[];
  /** Over lesion voxels of the uncertainty map (std), when provided. */
  uncertainty?: { mean: number; max: number; p95: number; meanInLesion: number; highFraction: number };
  model?: { name: string; version: string };
  /** Per segment, when the export had a segment table (ExportRequest.segments): its voxels and volume. */
  segments?: {
    value: number;
    name: string;
    voxels: number;
    volumeMl: number;
    bidimensional?: Bidimensional;
  }[];
  /** The lesion's RANO bidimensional measurement (core/src/diameters.ts); absent for an empty mask. */
  bidimensional?: Bidimensional;
}
