import { QuorumError } from './errors.ts';
import type { Volume } from './volume.ts';

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
 * Integer data cannot hold either and is not scanned. Returns the number of voxels replaced.
 */
export function fillNonFinite(v: Pick<Volume, 'data' | 'source'>): number {
  const d = v.data;
  if (!(d instanceof Float32Array || d instanceof Float64Array)) return 0;
  let low = Number.POSITIVE_INFINITY;
  let bad = 0;
  let nan = 0;
  for (let i = 0; i < d.length; i++) {
    const x = d[i];
    if (Number.isFinite(x)) {
      if (x < low) low = x;
    } else {
      bad++;
      if (Number.isNaN(x)) nan++;
    }
  }
  if (!bad) return 0;
  if (bad === d.length)
    throw new QuorumError(
      'unsupported',
      `no voxel holds a number (all ${bad} are ${nan === bad ? 'NaN' : 'NaN or infinite'})`,
      v.source.path,
    );
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) d[i] = low;
  const what = nan === bad ? 'NaN' : nan ? 'NaN or infinite' : 'infinite';
  const share = (100 * bad) / d.length;
  v.source.warnings ??= [];
  v.source.warnings.push(
    `${bad} voxels (${share < 0.1 ? share.toPrecision(1) : share.toFixed(1)}%) are ${what}, as outside a masked image: read as background (the lowest value, ${low})`,
  );
  return bad;
}
