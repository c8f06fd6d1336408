import type { ExportFormatInfo, LesionReport } from '../../../core/src/api.ts';
import type { ExportFormat } from '../../../core/src/lists.ts';
import type { ModelManifest } from '../../../core/src/manifest.ts';
import type { ReplacePolicy } from '../../../core/src/node/atomic.ts';
import { writeNiftiFile } from '../../../core/src/node/load.ts';
import type { SegmentInfo } from '../../../core/src/segments.ts';
import type { Volume } from '../../../core/src/volume.ts';

/**
 * What an export is made of. Every volume is on the reference sequence's grid (i fastest), so
 * whatever is written overlays the source in any viewer.
 */
export interface ExportInput {
  /** The reference sequence: its grid, transform and source (DICOM UIDs for SEG); its voxels are not written. */
  reference: Volume;
  /** The labelmap: 0 background, > 0 lesion (label values are kept). */
  mask: Uint8Array;
  /** Which label value is which segment (core/src/segments.ts); absent: mask > 0 is one lesion segment. */
  segments?: readonly SegmentInfo[];
  /** Std over members (0 where not proposed). */
  uncertainty?: Float32Array;
  /** Mean foreground probability over members, 0..1 (0 where not proposed). */
  probability?: Float32Array;
  /** Each member's 0/1 mask (0 where not proposed). */
  members?: Uint8Array[];
  /** The lesion report (host exports; proposal folders carry their own report.json). */
  report?: LesionReport;
  /** The source is a DICOM series with SOP instance UIDs (core/src/api.ts CaseInfo). */
  canExportDicomSeg: boolean;
  manifest?: ModelManifest;
  /** Input files: never written over. */
  sources: string[];
  /** Which existing files may be replaced (default 'never'; core/src/node/atomic.ts). */
  replace?: ReplacePolicy;
}

/**
 * One export format: one file in workers/src/exports/ and one line in its index.ts. `suffix`
 * follows the file stem in an export folder (`<case>_quorum_mask.nii.gz`); in a proposal folder
 * the stem is empty and the leading underscore dropped (`mask.nii.gz`).
 */
export interface ExportWriter extends ExportFormatInfo {
  format: ExportFormat;
  suffix: string;
  /** Needs each member's mask, which the engine sends only when asked (ProposeRequest.keepMembers). */
  keepMembers?: boolean;
  /** true, or why not (said as a warning, nothing written). */
  canExport(input: ExportInput): true | string;
  /** Writes `path` (writeOutputFile: atomically, never over a source or a file Quorum did not write); returns every file written. */
  write(input: ExportInput, path: string): string[];
}

/** A float32 or uint8 NIfTI on the reference grid: the writers' common case. */
export function writeOnReference(
  input: ExportInput,
  path: string,
  data: Uint8Array | Float32Array,
  description: string,
): string[] {
  writeNiftiFile(
    path,
    { ...input.reference, data },
    {
      datatype: data instanceof Uint8Array ? 'uint8' : 'float32',
      description,
      sources: input.sources,
      replace: input.replace,
    },
  );
  return [path];
}
