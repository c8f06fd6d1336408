import { writeOutputFile } from '../../../core/src/node/atomic.ts';
import { segmentTableJson } from '../../../core/src/segments.ts';
import { type ExportWriter, writeOnReference } from './writer.ts';

/** `<case>_quorum_mask.nii.gz` -> `<case>_quorum_mask.segments.json`: the label map's segment table. */
export function segmentsSidecarPath(maskPath: string): string {
  return maskPath.replace(/\.nii(\.gz)?$/, '') + '.segments.json';
}

/**
 * The labelmap as uint8 NIfTI; label values > 1 (segment numbers) are kept as they are. With a
 * segment table, a `<name>.segments.json` beside it says which value is which segment (name,
 * colour), written the same way (atomically, never over a file Quorum did not write).
 */
export const niftiMask: ExportWriter = {
  format: 'nifti-mask',
  suffix: '_mask.nii.gz',
  label: 'Mask NIfTI',
  byDefault: true,
  inProposals: true,
  canExport: () => true,
  write: (input, path) => {
    const written = writeOnReference(input, path, input.mask, 'Quorum lesion mask');
    if (!input.segments?.length) return written;
    const sidecar = segmentsSidecarPath(path);
    writeOutputFile(sidecar, segmentTableJson(input.segments), input);
    return [...written, sidecar];
  },
};
