import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ExportWriter, writeOnReference } from './writer.ts';

/**
 * Each ensemble member's mask, one uint8 NIfTI per member (member-1.nii.gz, member-2.nii.gz, ...)
 * in a folder (`<stem>_members/`, `members/` in a proposal folder).
 *
 * Why not one 4D file: 3D Slicer loads a 4D NIfTI as a volume sequence (a time series to step
 * through) and ITK-SNAP as a multi-component image, and neither opens it as a segmentation;
 * a 3D uint8 file per member opens directly as a segmentation (Slicer: Add Data → Segmentation,
 * or drop the whole folder; ITK-SNAP: Segmentation → Open Segmentation) on top of the source, so
 * members can be compared one by one with the usual tools.
 */
export const niftiMembers: ExportWriter = {
  format: 'nifti-members',
  suffix: '_members',
  label: 'Member masks NIfTI',
  needs: 'proposal',
  inProposals: true,
  keepMembers: true,
  canExport: (input) =>
    input.members?.length
      ? true
      : 'no member masks to export (run a proposal first; the members are kept from proposals run since the case was opened)',
  write: (input, dir) => {
    mkdirSync(dir, { recursive: true });
    return input.members!.flatMap((m, i) =>
      writeOnReference(input, join(dir, `member-${i + 1}.nii.gz`), m, `Quorum ensemble member ${i + 1}`),
    );
  },
};
