import { type ModelClick, overlappingRegions, region2d, regionCentre } from './prompts.ts';

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
 *             slice where the component grows into a region MERGE_RATIO times larger (a false
 *             positive touching the real lesion: the lesion keeps its proposal)
 */

const MERGE_RATIO = 2;
const MERGE_SLACK_PX = 20;
const count = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);

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
  /**
   * Called first when there is one click: its slice's clicks are final at once (propagation only
   * adds clicks to other slices), so the viewer can show that slice before the lesion is followed.
   */
  settled?: (slice: number, clicks: ModelClick[]) => Promise<void>,
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
    return { slice, row: Math.floor(p / W), col: p % W, positive };
  };
  const users = clicks.filter((c) => allowed.has(c.slice));
  for (const c of users) add(c);
  if (users.length === 1 && settled) await settled(users[0].slice, [users[0]]);

  // negative: the current proposal's lesion under the click, followed through the slices it spans
  for (const c of users.filter((u) => !u.positive)) {
    const first = region2d(await current(c.slice), H, W, pixel(c));
    if (!first.some((v) => v)) continue;
    for (const dir of [-1, 1]) {
      let prev = first;
      for (let s = c.slice + dir; allowed.has(s) && Math.abs(s - c.slice) <= maxSpan; s += dir) {
        const part = overlappingRegions(await current(s), prev, H, W);
        // a false positive that runs into a much larger region (the real lesion next to it, in
        // the plane above) is not followed into it
        if (!part.some((v) => v) || count(part) > MERGE_RATIO * count(prev) + MERGE_SLACK_PX) break;
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
