import { type EdgeGrowth, type EdgeRule, edgeGrowth, growEdge } from './contrast-grow.ts';
import { type Geometry, sameGrid, voxelVolumeMl } from './geometry.ts';
import { dropIslands, type IslandResult, type IslandRule, uncertainIslands } from './islands.ts';

/** The whole-volume rules a run applies (the model's manifest, less what the request keeps). */
export interface FinishRules {
  islands?: IslandRule;
  edge?: EdgeRule;
}

export interface FinishedProposal {
  /** What the island rule dropped; absent when it did not run. */
  dropped?: IslandResult;
  /** What the edge rule added; absent when it did not run (no rule, or no FLAIR on the grid). */
  grown?: EdgeGrowth;
  /** The slices (voxel axis 2) whose mask changed, ascending. */
  slices: number[];
}

/**
 * A whole-volume proposal finished by the model's rules, in their order: small uncertain islands
 * out (islands.ts), then the edge grown by the scan's own FLAIR contrast (contrast-grow.ts), which
 * never brings a dropped island back. `mask` (mean > 0.5) is changed in place; `probability` is the
 * members' mean and `uncertainty` the map, on `grid`; the edge rule reads `flair` only when it lies
 * on that grid. `quorum propose` and pre-labelling (workers/src/propose-case.ts) and the viewer's
 * host (workers/src/host/propose-run.ts) both finish here, so their masks agree voxel for voxel.
 */
export function finishProposal(
  mask: Uint8Array,
  probability: ArrayLike<number>,
  uncertainty: ArrayLike<number>,
  grid: Geometry,
  flair: (Geometry & { data: ArrayLike<number> }) | undefined,
  rules: FinishRules,
): FinishedProposal {
  const voxelMl = voxelVolumeMl(grid);
  const out: FinishedProposal = { slices: [] };
  if (rules.islands) {
    out.dropped = uncertainIslands(mask, uncertainty, grid.dims, voxelMl, rules.islands);
    dropIslands(mask, out.dropped);
  }
  if (rules.edge && flair && sameGrid(flair, grid)) {
    out.grown = edgeGrowth(mask, probability, flair.data, grid.dims, grid.spacing, voxelMl, rules.edge);
    growEdge(mask, out.grown);
  }
  out.slices = [...new Set([...(out.dropped?.slices ?? []), ...(out.grown?.slices ?? [])])].sort(
    (a, b) => a - b,
  );
  return out;
}
