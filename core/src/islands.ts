import type { Vec3 } from './volume.ts';

/**
 * Small islands the members disagree on, dropped from a whole-volume proposal.
 *
 * A proposal's stray components far from the lesion cost little Dice but most of its HD95, and a
 * reader has to erase each one. Most are small and uncertain, so the rule (the model's manifest,
 * recommended.dropIslands) drops a connected component of the mask (26-connected: faces, edges and
 * corners, as models/train/evaluate_v2.py counts false positives) when it is under `belowMl` AND
 * the mean of the uncertainty map over it is at least `uncertaintyAtLeast`. A confident component
 * of any size stays, so does any part of a multifocal lesion the members agree on.
 * models/train/islands.py is the training side's copy and measured it (README, "Small uncertain
 * islands"); test/unit/islands.test.ts checks the two agree.
 *
 * It needs whole components, so it runs once the whole volume is proposed: `quorum propose`,
 * propose-dataset and pre-labelling before writing; the viewer at the end of a run over every slice.
 */

/** The manifest's rule (recommended.dropIslands). */
export interface IslandRule {
  belowMl: number;
  uncertaintyAtLeast: number;
}

/** Whether a manifest's recommended.dropIslands is a usable rule. */
export function isIslandRule(x: unknown): x is IslandRule {
  const r = x as Partial<IslandRule> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.belowMl === 'number' &&
    r.belowMl > 0 &&
    Number.isFinite(r.belowMl) &&
    typeof r.uncertaintyAtLeast === 'number' &&
    r.uncertaintyAtLeast >= 0 &&
    Number.isFinite(r.uncertaintyAtLeast)
  );
}

export interface DroppedIsland {
  /** Volume, mL. */
  ml: number;
  /** Mean of the uncertainty map over it. */
  meanUncertainty: number;
  /** First and last slice (voxel axis 2) it spans. */
  slices: [number, number];
  /** A voxel of it [i, j, k] (the first in file order), to find it again. */
  voxel: Vec3;
}

export interface IslandResult {
  islands: DroppedIsland[];
  /** Every dropped voxel, flat index (i fastest), ascending. */
  voxels: Uint32Array;
  /** The slices (voxel axis 2) with a dropped voxel, ascending. */
  slices: number[];
}

/**
 * The components of `mask` (non-zero = lesion) the rule drops; `mask` is not changed (see
 * dropIslands). `uncertainty` is the map on the same grid; `voxelMl` one voxel's volume in mL.
 */
export function uncertainIslands(
  mask: ArrayLike<number>,
  uncertainty: ArrayLike<number>,
  dims: Vec3,
  voxelMl: number,
  rule: IslandRule,
): IslandResult {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (mask.length !== n || uncertainty.length !== n)
    throw new RangeError(`mask ${mask.length} / uncertainty ${uncertainty.length} voxels, dims say ${n}`);
  const seen = new Uint8Array(n);
  const sxy = nx * ny;
  const islands: DroppedIsland[] = [];
  const dropped: number[] = [];
  const queue: number[] = [];
  for (let seed = 0; seed < n; seed++) {
    if (!mask[seed] || seen[seed]) continue;
    queue.length = 0;
    queue.push(seed);
    seen[seed] = 1;
    let sum = 0;
    let [k0, k1] = [nz, -1];
    // `queue` doubles as the component's voxel list (every pushed voxel is in it)
    for (let q = 0; q < queue.length; q++) {
      const v = queue[q];
      const i = v % nx;
      const j = Math.floor(v / nx) % ny;
      const k = Math.floor(v / sxy);
      sum += uncertainty[v];
      if (k < k0) k0 = k;
      if (k > k1) k1 = k;
      for (let dk = -1; dk <= 1; dk++) {
        const kk = k + dk;
        if (kk < 0 || kk >= nz) continue;
        for (let dj = -1; dj <= 1; dj++) {
          const jj = j + dj;
          if (jj < 0 || jj >= ny) continue;
          for (let di = -1; di <= 1; di++) {
            const ii = i + di;
            if (ii < 0 || ii >= nx) continue;
            const w = kk * sxy + jj * nx + ii;
            if (mask[w] && !seen[w]) {
              seen[w] = 1;
              queue.push(w);
            }
          }
        }
      }
    }
    const ml = queue.length * voxelMl;
    const meanUncertainty = sum / queue.length;
    if (ml >= rule.belowMl || meanUncertainty < rule.uncertaintyAtLeast) continue;
    const [i, j] = [seed % nx, Math.floor(seed / nx) % ny];
    islands.push({ ml, meanUncertainty, slices: [k0, k1], voxel: [i, j, Math.floor(seed / sxy)] });
    for (const v of queue) dropped.push(v);
  }
  const voxels = Uint32Array.from(dropped).sort();
  const slices = [...new Set(Array.from(voxels, (v) => Math.floor(v / sxy)))];
  return { islands, voxels, slices };
}

/** Sets the result's voxels to 0 in `mask` (in place); returns `mask`. */
export function dropIslands<T extends { [i: number]: number }>(mask: T, result: IslandResult): T {
  for (const v of result.voxels) mask[v] = 0;
  return mask;
}

/** The mL dropped. */
export function droppedMl(result: IslandResult): number {
  return result.islands.reduce((a, x) => a + x.ml, 0);
}
