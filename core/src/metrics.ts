/**
 * Segmentation metrics and ensemble statistics. Masks are uint8 (0/1) volumes, i fastest.
 */

export function dice(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let inter = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ? 1 : 0;
    const y = b[i] ? 1 : 0;
    inter += x & y;
    sa += x;
    sb += y;
  }
  return sa + sb === 0 ? 1 : (2 * inter) / (sa + sb);
}

export function volumeMl(mask: ArrayLike<number>, spacing: [number, number, number]): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return (n * spacing[0] * spacing[1] * spacing[2]) / 1000;
}

/** Surface voxels: in the mask with at least one 6-neighbour outside it (or at the border). */
function surface(mask: ArrayLike<number>, dims: [number, number, number]): number[] {
  const [nx, ny, nz] = dims;
  const out: number[] = [];
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const idx = i + nx * (j + ny * k);
        if (!mask[idx]) continue;
        if (
          i === 0 ||
          j === 0 ||
          k === 0 ||
          i === nx - 1 ||
          j === ny - 1 ||
          k === nz - 1 ||
          !mask[idx - 1] ||
          !mask[idx + 1] ||
          !mask[idx - nx] ||
          !mask[idx + nx] ||
          !mask[idx - nx * ny] ||
          !mask[idx + nx * ny]
        )
          out.push(idx);
      }
  return out;
}

/**
 * Exact squared Euclidean distance transform (Felzenszwalb-Huttenlocher, separable), anisotropic:
 * distance in mm from every voxel to the nearest voxel where `sites` is set.
 */
function distanceToSites(
  sites: Uint8Array,
  dims: [number, number, number],
  spacing: [number, number, number],
): Float64Array {
  const [nx, ny, nz] = dims;
  const INF = 1e20;
  const d = new Float64Array(sites.length);
  for (let i = 0; i < d.length; i++) d[i] = sites[i] ? 0 : INF;
  const n = Math.max(nx, ny, nz);
  const f = new Float64Array(n);
  const z = new Float64Array(n + 1);
  const v = new Int32Array(n);
  const pass = (len: number, stride: number, base: number, w: number) => {
    for (let q = 0; q < len; q++) f[q] = d[base + q * stride];
    let k = 0;
    v[0] = 0;
    z[0] = -Infinity;
    z[1] = Infinity;
    const w2 = w * w;
    for (let q = 1; q < len; q++) {
      let s: number;
      for (;;) {
        const p = v[k];
        s = (f[q] + w2 * q * q - (f[p] + w2 * p * p)) / (2 * w2 * (q - p));
        if (s <= z[k] && k > 0) k--;
        else break;
      }
      if (s <= z[k]) {
        v[0] = q;
        z[0] = -Infinity;
        z[1] = Infinity;
        k = 0;
        continue;
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < len; q++) {
      while (z[k + 1] < q) k++;
      const p = v[k];
      d[base + q * stride] = w2 * (q - p) * (q - p) + f[p];
    }
  };
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) pass(nx, 1, nx * (j + ny * k), spacing[0]);
  for (let k = 0; k < nz; k++) for (let i = 0; i < nx; i++) pass(ny, nx, i + nx * ny * k, spacing[1]);
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) pass(nz, nx * ny, i + nx * j, spacing[2]);
  return d;
}

function percentile95(values: number[]): number {
  if (!values.length) return Number.NaN;
  const s = Float64Array.from(values).sort();
  // numpy's default (linear interpolation between closest ranks)
  const pos = 0.95 * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/**
 * 95th-percentile symmetric Hausdorff distance in mm between the surfaces of two masks
 * (distances from each surface to the other, pooled, as MedPy's hd95). NaN if either is empty.
 */
export function hd95(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dims: [number, number, number],
  spacing: [number, number, number],
): number {
  const sa = surface(a, dims);
  const sb = surface(b, dims);
  if (!sa.length || !sb.length) return Number.NaN;
  const siteA = new Uint8Array(a.length);
  const siteB = new Uint8Array(b.length);
  for (const i of sa) siteA[i] = 1;
  for (const i of sb) siteB[i] = 1;
  const dA = distanceToSites(siteA, dims, spacing);
  const dB = distanceToSites(siteB, dims, spacing);
  const all: number[] = [];
  for (const i of sa) all.push(Math.sqrt(dB[i]));
  for (const i of sb) all.push(Math.sqrt(dA[i]));
  return percentile95(all);
}

export interface EnsembleStats {
  mean: Float32Array;
  std: Float32Array;
  entropy: Float32Array;
  mask: Uint8Array;
}

/** Members are probability maps in [0, 1] of equal length. std is the population std (N). */
export function ensembleStats(members: Float32Array[]): EnsembleStats {
  const n = members[0].length;
  const mean = new Float32Array(n);
  const std = new Float32Array(n);
  const entropy = new Float32Array(n);
  const mask = new Uint8Array(n);
  const N = members.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const m of members) s += m[i];
    const mu = s / N;
    let v = 0;
    for (const m of members) v += (m[i] - mu) ** 2;
    mean[i] = mu;
    std[i] = Math.sqrt(v / N);
    entropy[i] = binaryEntropy(mu);
    mask[i] = mu > 0.5 ? 1 : 0;
  }
  return { mean, std, entropy, mask };
}

/** Binary entropy in bits; 0 at p = 0 or 1, 1 at p = 0.5. */
export function binaryEntropy(p: number): number {
  if (p <= 0 || p >= 1) return 0;
  return -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
}

/**
 * A slice's uncertainty score: the expected area of disagreement, sum of std over the slice
 * times the pixel area (mm²). Large where members disagree over a large region; 0 where all
 * members agree (lesion or not). Summed over slices times thickness it is a volume (mm³).
 */
export function uncertaintyScore(std: ArrayLike<number>, pixelAreaMm2: number): number {
  let s = 0;
  for (let i = 0; i < std.length; i++) s += std[i];
  return s * pixelAreaMm2;
}

/**
 * Member-agreement sums of one slice, on the model grid (pixel counts). With b_m = p_m > 0.5 the
 * member masks and c = mean > 0.5 the ensemble (consensus) mask: `intersection` = Σ_m |b_m ∧ c|,
 * `memberArea` = Σ_m |b_m|, `consensusArea` = |c|, `members` = M. Summed over a case's slices
 * they give its confidence (caseConfidence).
 */
export interface AgreementSums {
  intersection: number;
  memberArea: number;
  consensusArea: number;
  members: number;
}

/** A slice's agreement sums from its member probability maps (0..1) and their mean, equal lengths. */
export function sliceAgreement(
  members: readonly ArrayLike<number>[],
  mean: ArrayLike<number>,
): AgreementSums {
  let intersection = 0;
  let memberArea = 0;
  let consensusArea = 0;
  const n = mean.length;
  for (let i = 0; i < n; i++) if (mean[i] > 0.5) consensusArea++;
  for (const p of members) {
    if (p.length !== n) throw new RangeError(`member of length ${p.length}, mean of length ${n}`);
    for (let i = 0; i < n; i++)
      if (p[i] > 0.5) {
        memberArea++;
        if (mean[i] > 0.5) intersection++;
      }
  }
  return { intersection, memberArea, consensusArea, members: members.length };
}

/**
 * Case confidence, the member-agreement Dice: Σ 2·intersection / Σ (memberArea + members ·
 * consensusArea) over slices (and members), 0..1; 1 when nothing is proposed anywhere (the
 * denominator is 0). Low when members disagree with their consensus: a proposal likely to have
 * failed. models/train computes the same on validation data.
 */
export function caseConfidence(slices: Iterable<AgreementSums>): number {
  let num = 0;
  let den = 0;
  for (const s of slices) {
    num += 2 * s.intersection;
    den += s.memberArea + s.members * s.consensusArea;
  }
  return den === 0 ? 1 : num / den;
}

/**
 * What a flagged case whose proposal is empty is told (the worklist, the viewer, `quorum propose`):
 * its members marked small regions no majority shares, so their agreement with the empty consensus
 * is ~0, as on a lesion-free scan (0.00-0.05 on four heads, robustness.py healthy_mirror) or a
 * lesion the model missed.
 */
export const NOTHING_PROPOSED = 'nothing proposed: check for a missed lesion';

/** Below this case confidence a proposal is flagged low-confidence unless the model's manifest says otherwise. */
export const DEFAULT_LOW_CONFIDENCE = 0.8;

/** The low-confidence threshold of a model: its manifest's `caseConfidence.lowBelow`, else the default. */
export function lowConfidenceThreshold(manifest?: { caseConfidence?: { lowBelow?: unknown } }): number {
  const t = manifest?.caseConfidence?.lowBelow;
  return typeof t === 'number' && Number.isFinite(t) ? t : DEFAULT_LOW_CONFIDENCE;
}
