import { type ExportWriter, writeOnReference } from './writer.ts';

/**
 * The probability map: the mean over the ensemble members of each member's foreground
 * probability, 0..1, float32 on the reference grid (0 where nothing was proposed). Thresholded at
 * 0.5 it is the proposed mask; a viewer shows it as a heat map or thresholds it elsewhere.
 */
export const niftiProbability: ExportWriter = {
  format: 'nifti-probability',
  suffix: '_probability.nii.gz',
  label: 'Probability NIfTI',
  needs: 'proposal',
  inProposals: true,
  canExport: (input) => !!input.probability || 'no probability map to export (run a proposal first)',
  write: (input, path) =>
    writeOnReference(input, path, input.probability!, 'Quorum probability (mean over members)'),
};
