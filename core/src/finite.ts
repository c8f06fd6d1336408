import { QuorumError } from './errors.ts';
import type { Volume, VoxelArray } from './volume.ts';

/** Voxels holding no number (NaN) or an infinite one, and the lowest finite value. Integer data holds none. */
export function nonFiniteVoxels(d: VoxelArray): { bad: number; nan: number; low: number } {
  let low = Number.POSITIVE_INFINITY;
  let bad = 0;
  let nan = 0;
  if (!(d instanceof Float32Array || d instanceof Float64Array)) return { bad, nan, low };
  for (let i = 0; i < d.length; i++) {
    const x = d[i];
    if (Number.isFinite(x)) {
      if (x < low) low = x;
    } else {
      bad++;
      if (Number.isNaN(x)) nan++;
    }
  }
  return { bad, nan, low };
}

/** What a user reads about them (`quorum info`, a case's warnings). */
export function nonFiniteWarning(n: { bad: number; nan: number; low: number }, total: number): string {
  const what = n.nan === n.bad ? 'NaN' : n.nan ? 'NaN or infinite' : 'infinite';
  const share = (100 * n.bad) / total;
  return `${n.bad} voxels (${share < 0.1 ? share.toPrecision(1) : share.toFixed(1)}%) are ${what}, as outside a masked image: read as background (the lowest value, ${n.low})`;
}

/**
 * Voxels of a scan that hold no number (NaN) or an infinite one become the image's lowest finite
 * value, in place, and the volume's `source.warnings` says how many (core/src/node/case.ts, for each
 * sequence of a case; a label's or a proposal map's NaN is an error, so the reader keeps them).
 *
 * SPM writes NaN outside the mask of a masked image, FSL and ANTs tools can leave NaN or ±Inf where a
 * division by a zero voxel happened, and a NIfTI float file may carry either. Every step that reads
 * intensities is undone by a single one: a sort puts NaN anywhere, a percentile or Otsu's threshold
 * becomes NaN, window/level and trilinear resampling spread it. They mark where there is no image,
 * so they become background; the lowest finite value is the background whatever the scale (a
 * z-scored image's 0 is mid-brain), the same rule as `models/train/preprocess.py` `finite_or_background`.
 * Returns the number of voxels replaced.
 */
export function fillNonFinite(v: Pick<Volume, 'data' | 'source'>): number {
  const d = v.data;
  const n = nonFiniteVoxels(d);
  if (!n.bad) return 0;
  if (n.bad === d.length)
    throw new QuorumError(
      'unsupported',
      `no voxel holds a number (all ${n.bad} are ${n.nan === n.bad ? 'NaN' : 'NaN or infinite'})`,
      v.source.path,
    );
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) d[i] = n.low;
  v.source.warnings ??= [];
  v.source.warnings.push(nonFiniteWarning(n, d.length));
  return n.bad;
}
