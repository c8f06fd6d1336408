import { QuorumError } from './errors.ts';
import type { PreprocessHeadRobustV2 } from './manifest.ts';

/**
 * Preprocessing v2's intensity statistics (core/src/preprocess-v2.ts is the rest: the model's frame and
 * the resampling): the sample, the background fill, Otsu's split and the foreground percentiles that
 * normalise each sequence. The TypeScript twin of the same steps of models/train/preprocess.py, kept in
 * its float64 arithmetic and order so that test/fixtures/preprocess-v2 agrees to the last bit.
 */

export interface ChannelStats {
  lo: number;
  hi: number;
  otsuBin: number;
  p1: number;
  p50: number;
  p99: number;
}

/** Histogram bin of x on [lo, hi]; values above hi land in the last bin. */
export function binOf(x: number, lo: number, hi: number, bins: number): number {
  return Math.min(bins - 1, Math.floor(((x - lo) / (hi - lo)) * bins));
}

/** Last bin of the background class: maximises w0 w1 (mu0 - mu1)^2, the first maximum wins. */
export function otsuBin(hist: ArrayLike<number>): number {
  const bins = hist.length;
  let total = 0;
  let totalMu = 0;
  for (let b = 0; b < bins; b++) {
    total += hist[b];
    totalMu += b * hist[b];
  }
  let best = -1;
  let bestB = 0;
  let w0 = 0;
  let s0 = 0;
  for (let b = 0; b < bins - 1; b++) {
    w0 += hist[b];
    s0 += b * hist[b];
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const d = s0 / w0 - (totalMu - s0) / w1;
    const between = w0 * w1 * d * d;
    if (between > best) {
      best = between;
      bestB = b;
    }
  }
  return bestB;
}

/** Percentile of a sorted array by nearest rank, rounded down (as the Python). */
const rank = (s: ArrayLike<number>, q: number, n: number) => s[Math.floor(q * (n - 1))];

/** Every s-th voxel (s = max(1, N // sampleTarget), file order), sorted: the sample of the statistics. */
export function sortedSample(
  data: ArrayLike<number>,
  spec: Pick<PreprocessHeadRobustV2, 'sampleTarget'>,
): Float64Array {
  const stride = Math.max(1, Math.floor(data.length / spec.sampleTarget));
  const s = new Float64Array(Math.ceil(data.length / stride));
  for (let i = 0, j = 0; i < data.length; i += stride) s[j++] = data[i];
  return s.sort();
}

/** A fill value must cover this share of the sample ... */
const FILL_SHARE = 0.2;
/** ... and sit this far up the sample's [min, 99.9th percentile] (the air of 53 real heads: at most 0.03). */
const FILL_POSITION = 0.1;

/**
 * The background fill of an image normalised inside a brain mask and filled with 0 outside (nnU-Net's
 * z-score with a mask, many BraTS pipelines): one exact value covering >= 20% of the voxels but lying
 * inside the tissue's range, where Otsu's split would read it as tissue. Those voxels are read as the
 * sample's lowest value instead, the background of a scan stored the usual way (preprocess.py
 * `fill_to_background`). Undefined when no value qualifies: the mode of every shared case (the air of
 * an 8-bit head, a stored 0 or minimum) lies in the bottom 3% of its range.
 */
export function backgroundFill(
  data: ArrayLike<number>,
  spec: Pick<PreprocessHeadRobustV2, 'sampleTarget'>,
): { value: number; to: number } | undefined {
  return fillOfSample(sortedSample(data, spec));
}

/** backgroundFill of a sorted sample (sortedSample's). */
export function fillOfSample(s: Float64Array): { value: number; to: number } | undefined {
  const n = s.length;
  let best = 0;
  let value = s[0];
  for (let i = 0; i < n; ) {
    let j = i;
    while (j < n && s[j] === s[i]) j++;
    if (j - i > best) {
      best = j - i;
      value = s[i];
    }
    i = j;
  }
  const lo = s[0];
  const hi = rank(s, 0.999, n);
  if (best < FILL_SHARE * n || !(hi > lo) || (value - lo) / (hi - lo) < FILL_POSITION) return undefined;
  return { value, to: lo };
}

/**
 * The sorted sample of the data with `fill` applied, from the sorted sample before it (the same
 * voxels, each mapped): the fill's run of values becomes as many of its `to`, the sample's lowest
 * value, so they go first and the rest keeps its order. Saves sorting the sample a second time.
 */
export function sampleAfterFill(s: Float64Array, fill: { value: number; to: number }): Float64Array {
  const out = new Float64Array(s.length);
  let moved = 0;
  for (const x of s) if (x === fill.value) moved++;
  out.fill(fill.to, 0, moved);
  let j = moved;
  for (const x of s) if (x !== fill.value) out[j++] = x;
  return out;
}

/**
 * lo, hi (99.9th percentile), Otsu bin, foreground p1/p50/p99 of every s-th voxel. `name` is the
 * sequence, `file` the case; both end up in the error a user sees.
 */
export function channelStats(
  data: ArrayLike<number>,
  spec: Pick<PreprocessHeadRobustV2, 'histogramBins' | 'sampleTarget'>,
  name = 'channel',
  file?: string,
  /** sortedSample(data, spec), when the caller has it already */
  sample?: Float64Array,
): ChannelStats {
  const bins = spec.histogramBins;
  const s = sample ?? sortedSample(data, spec);
  const n = s.length;
  const lo = s[0];
  let hi = rank(s, 0.999, n);
  if (!(hi > lo)) hi = s[n - 1];
  if (!(hi > lo))
    throw new QuorumError('unsupported', `${name}: the image is constant (${lo}); nothing to segment`, file);
  const hist = new Float64Array(bins);
  for (let i = 0; i < n; i++) hist[binOf(s[i], lo, hi, bins)]++;
  const otsu = otsuBin(hist);
  // s is sorted, so the foreground sample is its tail from the first value above the threshold
  let first = 0;
  while (first < n && binOf(s[first], lo, hi, bins) <= otsu) first++;
  const fg = s.subarray(first);
  const m = fg.length;
  if (m < 100)
    throw new QuorumError(
      'unsupported',
      `${name}: no foreground found (only ${m} sampled voxels above the background)`,
      file,
    );
  const p1 = rank(fg, 0.01, m);
  const p50 = rank(fg, 0.5, m);
  const p99 = rank(fg, 0.99, m);
  if (!(p99 > p1))
    throw new QuorumError(
      'unsupported',
      `${name}: the foreground has no contrast (1st and 99th percentiles are both ${p1})`,
      file,
    );
  return { lo, hi, otsuBin: otsu, p1, p50, p99 };
}
