import { type ModelClick, overlappingRegions, region2d, regionCentre, regionDepth } from './prompts.ts';

/**
 * How clicks spread from their own slice to the slices of the lesion they land in (issue 12),
 * on the model grid (every model slice shares one in-plane grid, so a pixel on slice s is the same
 * place on s +- 1). Pure: the model runs behind `ProposeSlice`, so this is tested on synthetic
 * volumes and runs the same in the engine.
 *
 *   positive  propose slice s with the click; then s +- 1 with a positive click at the centre of
 *             the lesion proposed on the slice before, while the proposal there still overlaps
 *             that lesion (a slice whose proposal no longer does keeps its earlier clicks)
 *   negative  the 3D connected component of the current (unprompted) proposal that holds the
 *             click: a negative click at the centre of its part on every slice it spans, up to a
 *             slice where that part lies less than INSIDE_FRACTION inside the part followed on
 *             the slice before: a false positive goes on as a column within its own footprint,
 *             while the real lesion it touches spills out of it (TCGA_DU_A5TY: a 1520 px false
 *             positive on k 20 touches the lesion on k 21, of which only 52% lies under it), and
 *             the lesion keeps its proposal. This also stops at a much larger region (the rule
 *             before: more than twice the size), which can lie at most half inside. A negative
 *             click near the edge of its region (less than EDGE_DEPTH of the region's greatest
 *             depth inside it) trims that edge on its own slice and is not followed: the region
 *             is a lesion drawn too wide there (TCGA_CS_6666: a rim of false positive along the
 *             real lesion), not a false positive to remove through its slices.
 */

const INSIDE_FRACTION = 0.7;
const EDGE_DEPTH = 0.5;
const count = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);
const overlap = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + (v && b[i] ? 1 : 0), 0);

/** Model-grid mask (0/1, [H * W]) of model slice `slice` proposed with `clicks` (the mean of the members > 0.5). */
export type ProposeSlice = (slice: number, clicks: ModelClick[]) => Promise<Uint8Array>;

export interface PropagationGrid {
  H: number;
  W: number;
  /** Model slices that may be proposed (brain, not protected), ascending. */
  slices: readonly number[];
  /** The furthest a click spreads from its slice, each way (a bound on time, not a limit seen in practice). */
  maxSpan?: number;
}

/** The clicks each touched slice ends with; `propose` is called with the clicks of the final answer last for each slice. */
export async function propagateClicks(
  clicks: readonly ModelClick[],
  grid: PropagationGrid,
  propose: ProposeSlice,
  current: (slice: number) => Promise<Uint8Array>,
): Promise<Map<number, ModelClick[]>> {
  const { H, W } = grid;
  const maxSpan = grid.maxSpan ?? 40;
  const allowed = new Set(grid.slices);
  const bySlice = new Map<number, ModelClick[]>();
  const add = (c: ModelClick) => bySlice.set(c.slice, [...(bySlice.get(c.slice) ?? []), c]);
  const pixel = (c: ModelClick) => {
    const y = Math.min(H - 1, Math.max(0, Math.round(c.row)));
    const x = Math.min(W - 1, Math.max(0, Math.round(c.col)));
    return y * W + x;
  };
  const centreClick = (slice: number, region: Uint8Array, positive: boolean): ModelClick => {
    const p = regionCentre(region, H, W);
    return { slice, row: Math.floor(p / W), col: p % W, positive, propagated: true };
  };
  const users = clicks.filter((c) => allowed.has(c.slice));
  for (const c of users) add(c);

  // negative: the current proposal's lesion under the click, followed through the slices it spans
  for (const c of users.filter((u) => !u.positive)) {
    const first = region2d(await current(c.slice), H, W, pixel(c));
    if (!first.some((v) => v)) continue;
    const depth = regionDepth(first, H, W);
    if (depth[pixel(c)] < EDGE_DEPTH * Math.max(...depth)) continue;
    for (const dir of [-1, 1]) {
      let prev = first;
      for (let s = c.slice + dir; allowed.has(s) && Math.abs(s - c.slice) <= maxSpan; s += dir) {
        const part = overlappingRegions(await current(s), prev, H, W);
        // a false positive is not followed into a region that spills out of its footprint (the
        // real lesion next to it, in the plane above or below)
        if (!part.some((v) => v) || overlap(part, prev) < INSIDE_FRACTION * count(part)) break;
        add(centreClick(s, part, false));
        prev = part;
      }
    }
  }

  // positive: the lesion proposed under the click, followed slice by slice
  for (const c of users.filter((u) => u.positive)) {
    const first = region2d(await propose(c.slice, bySlice.get(c.slice)!), H, W, pixel(c));
    if (!first.some((v) => v)) continue;
    for (const dir of [-1, 1]) {
      let prev = first;
      for (let s = c.slice + dir; allowed.has(s) && Math.abs(s - c.slice) <= maxSpan; s += dir) {
        const trial = [...(bySlice.get(s) ?? []), centreClick(s, prev, true)];
        const part = overlappingRegions(await propose(s, trial), prev, H, W);
        if (!part.some((v) => v)) break;
        bySlice.set(s, trial);
        prev = part;
      }
    }
  }
  return bySlice;
}
