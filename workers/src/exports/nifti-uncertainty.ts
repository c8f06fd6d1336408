import { type ExportWriter, writeOnReference } from './writer.ts';

/** The uncertainty map (std over members) as float32 NIfTI. */
export const niftiUncertainty: ExportWriter = {
  format: 'nifti-uncertainty',
  suffix: '_uncertainty.nii.gz',
  label: 'Uncertainty NIfTI',
  needs: 'proposal',
  byDefault: true,
  inProposals: true,
  canExport: (input) => !!input.uncertainty || 'no uncertainty map to export (run a proposal first)',
  write: (input, path) =>
    writeOnReference(input, path, input.uncertainty!, 'Quorum uncertainty (std over members)'),
};
