import { floodFaces } from './components.ts';
import { distanceToMask } from './distance-map.ts';
import type { Vec3 } from './volume.ts';

/**
 * The proposal's edge grown by the scan's own FLAIR contrast, once the whole volume is proposed.
 *
 * On scans from sites the network never saw, its proposals fall short of the lesion's edge more
 * often than they pass it: the missed voxels lie within a few mm of the proposal, with FLAIR
 * intensities between normal tissue and the lesion. No constant trained on other sites knows where
 * this scanner puts that edge; the scan does. So, per case:
 *
 * - lesion level L: the median FLAIR over the confident core (mean probability >= 0.8; the whole
 *   proposal when the core has under 10 voxels);
 * - normal level N: the median FLAIR over a shell 5-20 mm outside the proposal, of its voxels above
 *   the shell's own 25th percentile (leaves out air and CSF). Every level is an order statistic of
 *   the case's own voxels, so an increasing affine change of the stored intensities (another
 *   scanner's scale, an int16 writer's offset, z-scores) changes no voxel of the result;
 * - a voxel joins when it lies within `bandMm` of the proposal, its FLAIR >= N + alpha (L - N), its
 *   mean probability >= `minProbability`, and it connects (by faces) to the proposal through such
 *   voxels. Nothing joins when L <= N: a lesion not brighter than its surround is left as proposed;
 *   nor does a voxel whose mean probability is > 0.5 (the island rule dropped it: it stays dropped).
 *
 * The rule is the model's (manifest recommended.growEdge), chosen on site folds that never saw the
 * site (models/quorum-wt-v2/contrast-grow-plan.json). models/train/contrast_grow.py is the training
 * side's copy; test/unit/contrast-grow.test.ts checks the two give the same voxels on a real case.
 * Medians and percentiles are order statistics (the value at floor(q (n - 1)) of the sorted
 * values), comparisons in float32 as numpy makes them on float32 arrays.
 */

/** The manifest's rule (recommended.growEdge). */
export interface EdgeRule {
  alpha: number;
  bandMm: number;
  minProbability: number;
}

export const EDGE_CORE_PROBABILITY = 0.8;
export const EDGE_SHELL_MM: readonly [number, number] = [5, 20];

/** Whether a manifest's recommended.growEdge is a usable rule. */
export function isEdgeRule(x: unknown): x is EdgeRule {
  const r = x as Partial<EdgeRule> | null;
  const num = (v: unknown, lo: number, hi: number) =>
    typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
  return (
    typeof r === 'object' &&
    r !== null &&
    num(r.alpha, 0, 1) &&
    num(r.bandMm, 0, 50) &&
    (r.bandMm as number) > 0 &&
    num(r.minProbability, 0, 0.5)
  );
}

export interface EdgeGrowth {
  /** Every voxel added, flat index (i fastest), ascending. */
  voxels: Uint32Array;
  /** The slices (voxel axis 2) with an added voxel, ascending. */
  slices: number[];
  /** Volume added, mL. */
  ml: number;
  /** The FLAIR levels used (image units); absent where the rule did not apply. */
  lesionLevel?: number;
  normalLevel?: number;
  threshold?: number;
}

/**
 * The voxels the rule adds to `mask` (non-zero = lesion; not changed, see growEdge). `probability`
 * is the ensemble mean and `flair` the FLAIR volume, on the mask's grid.
 */
export function edgeGrowth(
  mask: ArrayLike<number>,
  probability: ArrayLike<number>,
  flair: ArrayLike<number>,
  dims: Vec3,
  spacing: Vec3,
  voxelMl: number,
  rule: EdgeRule,
): EdgeGrowth {
  const n = dims[0] * dims[1] * dims[2];
  if (mask.length !== n || probability.length !== n || flair.length !== n)
    throw new RangeError(
      `mask ${mask.length} / probability ${probability.length} / flair ${flair.length} voxels, dims say ${n}`,
    );
  const none: EdgeGrowth = { voxels: new Uint32Array(0), slices: [], ml: 0 };
  let inMask = 0;
  let inCore = 0;
  const coreAt = Math.fround(EDGE_CORE_PROBABILITY);
  for (let v = 0; v < n; v++) {
    if (mask[v]) inMask++;
    if (probability[v] >= coreAt) inCore++;
  }
  if (!inMask) return none;
  const dist = distanceToMask(mask, dims, spacing, Math.max(EDGE_SHELL_MM[1], rule.bandMm));
  const core = new Float32Array(inCore >= 10 ? inCore : inMask);
  let c = 0;
  for (let v = 0; v < n; v++) if (inCore >= 10 ? probability[v] >= coreAt : mask[v]) core[c++] = flair[v];
  const [near, far] = EDGE_SHELL_MM;
  const around: number[] = [];
  for (let v = 0; v < n; v++) if (dist[v] > near && dist[v] < far) around.push(flair[v]);
  const floor = orderStatistic(Float32Array.from(around), 0.25);
  const shell = Float32Array.from(floor === undefined ? [] : around.filter((x) => x > floor));
  const lesionLevel = orderStatistic(core, 0.5) as number;
  const normalLevel = orderStatistic(shell, 0.5);
  if (normalLevel === undefined || lesionLevel <= normalLevel) return { ...none, lesionLevel, normalLevel };
  const threshold = normalLevel + rule.alpha * (lesionLevel - normalLevel);
  const t32 = Math.fround(threshold);
  const pMin = Math.fround(rule.minProbability);
  // grow from the proposal through candidate voxels, by faces
  const joined = new Uint8Array(n);
  const queue: number[] = [];
  for (let v = 0; v < n; v++) if (mask[v]) queue.push(v);
  const added: number[] = [];
  floodFaces(dims, queue, (w) => {
    if (mask[w] || joined[w] || dist[w] > rule.bandMm || flair[w] < t32) return false;
    if (probability[w] < pMin || probability[w] > 0.5) return false;
    joined[w] = 1;
    added.push(w);
    return true;
  });
  const sxy = dims[0] * dims[1];
  const voxels = Uint32Array.from(added).sort();
  const slices = [...new Set(Array.from(voxels, (v) => Math.floor(v / sxy)))];
  return { voxels, slices, ml: voxels.length * voxelMl, lesionLevel, normalLevel, threshold };
}

/** Sets the growth's voxels to 1 in `mask` (in place); returns `mask`. */
export function growEdge<T extends { [i: number]: number }>(mask: T, growth: EdgeGrowth): T {
  for (const v of growth.voxels) mask[v] = 1;
  return mask;
}

/** The value at floor(q (n - 1)) of the sorted values (quickselect; `values` is reordered). */
export function orderStatistic(values: Float32Array, q: number): number | undefined {
  if (!values.length) return undefined;
  const k = Math.floor(q * (values.length - 1));
  let [lo, hi] = [0, values.length - 1];
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1];
    let [i, j] = [lo, hi];
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i] = values[j];
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return values[k];
}
