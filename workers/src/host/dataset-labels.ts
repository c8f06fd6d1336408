import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { QuorumError } from '../../../core/src/errors.ts';
import { type LabelDisagreement, labelDisagreement } from '../../../core/src/label-disagreement.ts';
import { VOLUME_FILE } from '../../../core/src/lists.ts';
import { openCase } from '../../../core/src/node/case.ts';
import { readLabelsFile } from '../../../core/src/node/labels-file.ts';
import { loadVolume } from '../../../core/src/node/load.ts';
import { referenceVolume } from './cases.ts';

/**
 * Existing labels of a dataset (dataset mode): a `labels/` folder beside the case folders holding
 * `<case>.nii(.gz)` (or `<case>_seg.nii(.gz)`, or a DICOM SEG `<case>.dcm`) per case (or, for an
 * imagesTr folder, the labelsTr folder beside it), or a segmentation named so among a case's own
 * images (`seg.nii.gz`, `<anything>_seg.nii.gz`, `<anything>_seg_<n>.nii.gz`).
 */
const IN_LABELS_FOLDER = (name: string) => [
  `${name}.nii.gz`,
  `${name}.nii`,
  `${name}_seg.nii.gz`,
  `${name}_seg.nii`,
  `${name}.dcm`,
  `${name}.seg.nrrd`, // 3D Slicer's segmentation file
  `${name}.nrrd`,
  `${name}.mha`,
];

const SEG_BESIDE = /(^|[_-])seg([_.-])/i;

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The Decathlon's and nnU-Net's images folders, whose labels are in labelsTr/labelsTs beside them. */
const IMAGES_FOLDER = /^images(Tr|Ts|Va|Val)$/i;

/**
 * The dataset's `labels/` folder, when it is one: it exists and names at least one other
 * subfolder's label (so a case that happens to be called "labels" stays a case); for an
 * `imagesTr` folder (the Decathlon, nnU-Net), its `labelsTr` sibling, whose `<case>.nii.gz` files
 * are the references of the cases listed there.
 */
export function labelsFolder(root: string): string | undefined {
  const images = IMAGES_FOLDER.exec(basename(root));
  const beside = images && join(dirname(root), `labels${images[1]}`);
  if (beside && isDir(beside)) return beside;
  const dir = join(root, 'labels');
  if (!isDir(dir)) return undefined;
  const cases = readdirSync(root).filter((n) => n !== 'labels' && !n.startsWith('.') && isDir(join(root, n)));
  return cases.some((n) => IN_LABELS_FOLDER(n).some((f) => existsSync(join(dir, f)))) ? dir : undefined;
}

/** The existing label of one case, if the dataset has one. */
export function caseLabelFile(
  labelsDir: string | undefined,
  name: string,
  casePath: string,
): string | undefined {
  if (labelsDir)
    for (const f of IN_LABELS_FOLDER(name)) {
      const p = join(labelsDir, f);
      if (existsSync(p)) return p;
    }
  if (!isDir(casePath)) return undefined;
  // a segmentation named so among the images: seg.nii.gz (TCGA-LGG), *_seg.nii.gz (BraTS), *-seg.nii.gz
  // (BraTS 2023), *_seg_<n>_w.nii.gz (the paper's slices). Other label names openCase knows (BraTS
  // 2013's OTMultiClass, *label*) are not taken as a dataset's labels to review.
  const beside = readdirSync(casePath)
    .filter((f) => VOLUME_FILE.test(f) && SEG_BESIDE.test(f))
    .sort();
  return beside.length ? join(casePath, beside[0]) : undefined;
}

/**
 * The proposal in `proposalDir` (mask.nii.gz, uncertainty.nii.gz, on the case grid) against the
 * case's label read onto the same grid: core/src/label-disagreement.ts.
 */
export async function scoreAgainstLabel(
  casePath: string,
  labelPath: string,
  proposalDir: string,
): Promise<LabelDisagreement> {
  const kase = await openCase(casePath);
  const ref = referenceVolume(kase);
  const { labels } = await readLabelsFile(labelPath, ref);
  const mask = await loadVolume(join(proposalDir, 'mask.nii.gz'));
  const std = await loadVolume(join(proposalDir, 'uncertainty.nii.gz'));
  if (mask.data.length !== labels.length || std.data.length !== labels.length)
    throw new QuorumError(
      'inconsistent-series',
      `the proposal (${mask.dims.join('x')}) is not on the case grid (${ref.dims.join('x')})`,
      proposalDir,
    );
  return labelDisagreement(mask.data, std.data, labels);
}
