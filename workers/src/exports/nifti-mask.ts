import { type ExportWriter, writeOnReference } from './writer.ts';

/** The labelmap as uint8 NIfTI; label values > 1 (segment numbers) are kept as they are. */
export const niftiMask: ExportWriter = {
  format: 'nifti-mask',
  suffix: '_mask.nii.gz',
  label: 'Mask NIfTI',
  byDefault: true,
  inProposals: true,
  canExport: () => true,
  write: (input, path) => writeOnReference(input, path, input.mask, 'Quorum lesion mask'),
};
