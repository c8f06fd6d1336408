import { buildDicomSeg } from '../../../core/src/export/dicom-seg.ts';
import { writeOutputFile } from '../../../core/src/node/atomic.ts';
import type { Volume } from '../../../core/src/volume.ts';
import type { ExportWriter } from './writer.ts';

/** A SEG references every source instance: the reference must be a DICOM series with one SOP instance UID per slice. */
export function canExportDicomSeg(ref: Volume): boolean {
  return ref.source.format === 'dicom' && (ref.source.dicom?.sopInstanceUIDs?.length ?? 0) === ref.dims[2];
}

/** DICOM SEG referencing the source series (needs its SOP instance UIDs); one segment per case segment. */
export const dicomSeg: ExportWriter = {
  format: 'dicom-seg',
  suffix: '_seg.dcm',
  label: 'DICOM SEG',
  needs: 'dicom-source',
  inProposals: true,
  canExport: (input) =>
    input.canExportDicomSeg || 'DICOM SEG needs a DICOM source series; this case is NIfTI',
  write: (input, path) => {
    const m = input.manifest;
    const bytes = buildDicomSeg(input.reference, input.mask, {
      seriesDescription: 'Quorum lesion segmentation',
      algorithm: m ? `${m.name} ${m.version}` : 'Quorum',
      segments: input.segments,
    });
    writeOutputFile(path, bytes, input);
    return [path];
  },
};
