import { QuorumError } from './errors.ts';
import { type Geometry, worldToVoxel } from './geometry.ts';
import type { Vec3 } from './volume.ts';

/**
 * Prompts (clicks) that guide a re-proposal (issue 12). A click is a point on the reference
 * sequence's voxel grid, positive ("lesion here") or negative ("not lesion"). The prompt model
 * sees clicks as Gaussian blobs in two extra image channels (manifest `prompts`); a click
 * conditions its own slice and, through the lesion it lands in, the slices that lesion spans
 * (core/src/prompt-propagation.ts).
 */

/** One click on the reference grid: continuous voxel indices (i fastest), as the viewer reports them. */
export interface PromptPoint {
  ijk: Vec3;
  positive: boolean;
}

/** What a propose request carries: clicks, and native slices k that must not change (the user's edits). */
export interface Prompts {
  points: PromptPoint[];
  protect?: number[];
}

/** A click on the model grid of model slice `slice`: row and column in model pixels (may be fractional). */
export interface ModelClick {
  slice: number;
  row: number;
  col: number;
  positive: boolean;
  /** Placed by propagation (core/src/prompt-propagation.ts), not by the user: steers less (core/src/click-guidance.ts). */
  propagated?: boolean;
}

const EXAMPLE = '{"points": [{"voxel": [i, j, k], "positive": true}, {"lps": [x, y, z], "positive": false}]}';

function vec3(v: unknown): v is Vec3 {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/**
 * prompts.json -> clicks on the reference grid. `voxel`: indices in the reference sequence's file
 * (i fastest); `lps`: world millimetres (DICOM LPS). Every entry is checked: a bad one is named
 * with its index and the reason, a point outside the volume too.
 */
export function parsePrompts(text: string, file: string, reference: Geometry): Prompts {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new QuorumError('bad-argument', `not JSON (${(e as Error).message}); expected ${EXAMPLE}`, file);
  }
  const points = (doc as { points?: unknown } | null)?.points;
  if (!Array.isArray(points))
    throw new QuorumError('bad-argument', `no "points" list; expected ${EXAMPLE}`, file);
  const out: PromptPoint[] = [];
  for (const [n, p] of points.entries()) {
    const where = `points[${n}]`;
    if (typeof p !== 'object' || p === null)
      throw new QuorumError('bad-argument', `${where} is not an object`, file);
    const { voxel, lps, positive } = p as Record<string, unknown>;
    if (typeof positive !== 'boolean')
      throw new QuorumError('bad-argument', `${where} needs "positive": true or false`, file);
    if ((voxel === undefined) === (lps === undefined))
      throw new QuorumError(
        'bad-argument',
        `${where} needs exactly one of "voxel" [i, j, k] or "lps" [x, y, z]`,
        file,
      );
    const given = voxel ?? lps;
    if (!vec3(given))
      throw new QuorumError(
        'bad-argument',
        `${where}: ${voxel ? 'voxel' : 'lps'} must be three numbers`,
        file,
      );
    const ijk = voxel ? given : worldToVoxel(reference, given);
    const outside = ijk.findIndex((x, a) => !(x > -0.5 && x < reference.dims[a] - 0.5));
    if (outside >= 0)
      throw new QuorumError(
        'bad-argument',
        `${where} (${ijk.map((x) => +x.toFixed(1)).join(', ')} in voxels) is outside the ${reference.dims.join('x')} reference volume`,
        file,
      );
    out.push({ ijk, positive });
  }
  return { points: out };
}

/**
 * Click maps of one model slice: float32 [2, H, W], positive clicks then negative, each the max
 * of Gaussian blobs exp(-d^2 / 2 sigma^2) (peak 1), as models/train/train_prompts.py draws them.
 */
export function clickMaps(
  clicks: readonly ModelClick[],
  H: number,
  W: number,
  sigma: number,
  out?: Float32Array,
) {
  const maps = out ?? new Float32Array(2 * H * W);
  maps.fill(0);
  const r = Math.ceil(4 * sigma);
  for (const c of clicks) {
    const base = c.positive ? 0 : H * W;
    for (let y = Math.max(0, Math.floor(c.row - r)); y <= Math.min(H - 1, Math.ceil(c.row + r)); y++)
      for (let x = Math.max(0, Math.floor(c.col - r)); x <= Math.min(W - 1, Math.ceil(c.col + r)); x++) {
        const v = Math.exp(-((y - c.row) ** 2 + (x - c.col) ** 2) / (2 * sigma * sigma));
        const i = base + y * W + x;
        if (v > maps[i]) maps[i] = v;
      }
  }
  return maps;
}

/** The 4-connected region of `mask` [H * W] containing pixel `seed`, as a 0/1 mask (empty if the seed is off). */
export function region2d(mask: ArrayLike<number>, H: number, W: number, seed: number): Uint8Array {
  const out = new Uint8Array(H * W);
  if (!(seed >= 0 && seed < H * W) || !mask[seed]) return out;
  const queue = [seed];
  out[seed] = 1;
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q];
    const y = Math.floor(v / W);
    const x = v - y * W;
    for (const w of [x > 0 ? v - 1 : -1, x < W - 1 ? v + 1 : -1, y > 0 ? v - W : -1, y < H - 1 ? v + W : -1])
      if (w >= 0 && mask[w] && !out[w]) {
        out[w] = 1;
        queue.push(w);
      }
  }
  return out;
}

/** The regions of `mask` that touch `prev` (both [H * W]): a lesion followed onto the next slice. */
export function overlappingRegions(mask: ArrayLike<number>, prev: ArrayLike<number>, H: number, W: number) {
  const out = new Uint8Array(H * W);
  for (let i = 0; i < H * W; i++)
    if (prev[i] && mask[i] && !out[i]) {
      const r = region2d(mask, H, W, i);
      for (let j = 0; j < r.length; j++) if (r[j]) out[j] = 1;
    }
  return out;
}

/**
 * Each pixel's distance to the edge of `region` (0 outside; chamfer 3-4, so 3 per pixel step):
 * how deep inside the region a click sits.
 */
export function regionDepth(region: ArrayLike<number>, H: number, W: number): Float64Array {
  const big = 1e9;
  const d = new Float64Array(H * W);
  for (let i = 0; i < H * W; i++) d[i] = region[i] ? big : 0;
  const at = (y: number, x: number) => (y < 0 || y >= H || x < 0 || x >= W ? 0 : d[y * W + x]);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (d[i])
        d[i] = Math.min(d[i], at(y, x - 1) + 3, at(y - 1, x) + 3, at(y - 1, x - 1) + 4, at(y - 1, x + 1) + 4);
    }
  for (let y = H - 1; y >= 0; y--)
    for (let x = W - 1; x >= 0; x--) {
      const i = y * W + x;
      if (d[i])
        d[i] = Math.min(d[i], at(y, x + 1) + 3, at(y + 1, x) + 3, at(y + 1, x + 1) + 4, at(y + 1, x - 1) + 4);
    }
  return d;
}

/**
 * The pixel deepest inside a region (largest distance to its edge, city-block/chessboard chamfer
 * 3-4), where a user would click it: the simulated user of train_prompts.py and the bench. -1
 * when the region is empty.
 */
export function regionCentre(region: ArrayLike<number>, H: number, W: number): number {
  const d = regionDepth(region, H, W);
  let best = -1;
  for (let i = H * W - 1; i >= 0; i--) if (d[i] && (best < 0 || d[i] >= d[best])) best = i;
  return best;
}

/** Prompts that crossed a process boundary (the Refine tool's), checked against the case's dims. */
export function checkPrompts(prompts: Prompts, dims: Vec3): Prompts {
  const points = (prompts as Partial<Prompts>)?.points;
  if (!Array.isArray(points)) throw new QuorumError('bad-argument', 'prompts need a points list');
  for (const [n, p] of points.entries()) {
    if (!p || typeof p.positive !== 'boolean' || !vec3(p.ijk))
      throw new QuorumError('bad-argument', `prompt point ${n} needs ijk [i, j, k] and positive true/false`);
    if (!p.ijk.every((x, a) => x > -0.5 && x < dims[a] - 0.5))
      throw new QuorumError(
        'bad-argument',
        `prompt point ${n} (${p.ijk.join(', ')}) is outside the ${dims.join('x')} volume`,
      );
  }
  const protect = prompts.protect ?? [];
  if (!Array.isArray(protect) || !protect.every((k) => Number.isInteger(k)))
    throw new QuorumError('bad-argument', 'prompts.protect must be a list of slice indices');
  return {
    points: points.map((p) => ({ ijk: [p.ijk[0], p.ijk[1], p.ijk[2]], positive: p.positive })),
    protect,
  };
}
