import { buildSlicerSeg } from '../../../core/src/export/slicer-seg.ts';
import { writeOutputFile } from '../../../core/src/node/atomic.ts';
import { nativeGzip } from '../../../core/src/node/gzip.ts';
import type { ExportWriter } from './writer.ts';

/**
 * The labelmap as a 3D Slicer segmentation (.seg.nrrd): Slicer opens it with the segments' names
 * and colours (core/src/export/slicer-seg.ts); Quorum reads it back the same way.
 */
export const slicerSeg: ExportWriter = {
  format: 'slicer-seg',
  suffix: '_mask.seg.nrrd',
  label: '3D Slicer segmentation (.seg.nrrd)',
  inProposals: true,
  canExport: () => true,
  write: (input, path) => {
    const bytes = buildSlicerSeg(input.reference, input.mask, { segments: input.segments, gzip: nativeGzip });
    writeOutputFile(path, bytes, input);
    return [path];
  },
};
