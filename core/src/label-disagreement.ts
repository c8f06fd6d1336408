import type { WorklistCase } from './api-dataset.ts';

/**
 * How much a new proposal disagrees with a case's existing label, weighted by how sure the model
 * is: used to sort a labelled dataset so the labels most likely in need of correction come first.
 *
 *   score = Σ over voxels where proposal and label differ of (1 − 2·std) / (|proposal| + |label|)
 *
 * std is the ensemble's per-voxel standard deviation (the uncertainty map); with 0/1 member masks
 * it lies in 0..0.5, so 1 − 2·std is the model's confidence at that voxel (1: members agree,
 * 0: an even split). With std 0 everywhere the score is exactly 1 − Dice(proposal, label); a
 * disagreement where the members split evenly counts for nothing (the model does not know
 * either), one where they all agree against the label counts fully (the label is likely wrong
 * there). 0 when both are empty; 0..1 otherwise. `dice` and `meanStdWhereDiffering` are kept
 * beside it so a user can see why a case ranks where it does.
 */
export interface LabelDisagreement {
  score: number;
  dice: number;
  /** Mean std over the voxels where proposal and label differ (0 when none). */
  meanStdWhereDiffering: number;
  /** Voxels where they differ. */
  differing: number;
}

export function labelDisagreement(
  proposal: ArrayLike<number>,
  std: ArrayLike<number>,
  label: ArrayLike<number>,
): LabelDisagreement {
  if (proposal.length !== label.length || std.length !== label.length)
    throw new Error(
      `proposal, uncertainty and label differ in size (${proposal.length}, ${std.length}, ${label.length})`,
    );
  let a = 0;
  let b = 0;
  let both = 0;
  let differing = 0;
  let stdSum = 0;
  let weighted = 0;
  for (let i = 0; i < label.length; i++) {
    const p = proposal[i] > 0;
    const l = label[i] > 0;
    if (p) a++;
    if (l) b++;
    if (p && l) both++;
    else if (p || l) {
      const s = Math.min(0.5, Math.max(0, std[i]));
      differing++;
      stdSum += s;
      weighted += 1 - 2 * s;
    }
  }
  const total = a + b;
  return {
    score: total ? weighted / total : 0,
    dice: total ? (2 * both) / total : 1,
    meanStdWhereDiffering: differing ? stdSum / differing : 0,
    differing,
  };
}

/**
 * Worklist order "labels most likely in need of correction first": highest disagreement score
 * first; then labelled cases not scored yet (no proposal), then cases without a label; by name.
 */
export function byLabelDisagreement(
  x: Pick<WorklistCase, 'name' | 'labelPath' | 'labelDisagreement'>,
  y: typeof x,
): number {
  const rank = (c: typeof x) => (c.labelDisagreement !== undefined ? 0 : c.labelPath ? 1 : 2);
  return (
    rank(x) - rank(y) ||
    (y.labelDisagreement ?? 0) - (x.labelDisagreement ?? 0) ||
    (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)
  );
}
