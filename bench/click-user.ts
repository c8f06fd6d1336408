/**
 * The simulated user of bench/clicks.bench.ts (the nnInteractive / DeepEdit protocol): each click
 * goes to the centre of the largest error of what the user sees now. "Largest error": the largest
 * 3D connected component (6-connected) of voxels where the mask and the reference differ; its
 * centre: the deepest pixel (core/src/prompts.ts regionCentre) of that component's largest axial
 * slice. Positive where the reference has lesion (a miss), negative where it has not.
 */
import type { Case } from '../core/src/node/case.ts';
import type { PromptPoint } from '../core/src/prompts.ts';
import { regionCentre } from '../core/src/prompts.ts';
import type { Vec3, Volume } from '../core/src/volume.ts';
import type { EngineClient } from '../workers/src/client.ts';
import type { ChannelVolume } from '../workers/src/protocol.ts';

export function largestErrorClick(mask: Uint8Array, truth: Uint8Array, dims: Vec3): PromptPoint | undefined {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const label = new Int32Array(n);
  let best: number[] = [];
  for (let s = 0; s < n; s++) {
    if (label[s] || !mask[s] === !truth[s]) continue;
    const comp = [s];
    label[s] = 1;
    for (let q = 0; q < comp.length; q++) {
      const v = comp[q];
      const i = v % nx;
      const j = Math.floor(v / nx) % ny;
      const k = Math.floor(v / (nx * ny));
      for (const w of [
        i > 0 ? v - 1 : -1,
        i < nx - 1 ? v + 1 : -1,
        j > 0 ? v - nx : -1,
        j < ny - 1 ? v + nx : -1,
        k > 0 ? v - nx * ny : -1,
        k < nz - 1 ? v + nx * ny : -1,
      ])
        if (w >= 0 && !label[w] && !mask[w] !== !truth[w] && !truth[w] === !truth[s]) {
          label[w] = 1;
          comp.push(w);
        }
    }
    if (comp.length > best.length) best = comp;
  }
  if (!best.length) return undefined;
  const perSlice = new Map<number, number[]>();
  for (const v of best) {
    const k = Math.floor(v / (nx * ny));
    perSlice.set(k, [...(perSlice.get(k) ?? []), v - k * nx * ny]);
  }
  const [k, pixels] = [...perSlice].sort((a, b) => b[1].length - a[1].length)[0];
  const region = new Uint8Array(nx * ny);
  for (const p of pixels) region[p] = 1;
  const c = regionCentre(region, ny, nx);
  return { ijk: [c % nx, Math.floor(c / nx), k], positive: !!truth[best[0]] };
}

/** A disc of `radiusMm` painted (positive) or erased (negative) on the click's slice: a brush stroke. */
export function brush(mask: Uint8Array, click: PromptPoint, dims: Vec3, spacing: Vec3, radiusMm: number) {
  const [nx, ny] = dims;
  const [ci, cj, k] = click.ijk;
  const ri = Math.ceil(radiusMm / spacing[0]);
  const rj = Math.ceil(radiusMm / spacing[1]);
  for (let j = Math.max(0, cj - rj); j <= Math.min(ny - 1, cj + rj); j++)
    for (let i = Math.max(0, ci - ri); i <= Math.min(nx - 1, ci + ri); i++)
      if (((i - ci) * spacing[0]) ** 2 + ((j - cj) * spacing[1]) ** 2 <= radiusMm ** 2)
        mask[k * nx * ny + j * nx + i] = click.positive ? 1 : 0;
}

function channels(kase: Case): Record<string, ChannelVolume> {
  return Object.fromEntries(
    Object.entries(kase.sequences).map(([s, v]) => {
      const vol = v as Volume;
      const data = vol.data instanceof Float32Array ? vol.data : Float32Array.from(vol.data);
      return [
        s,
        { dims: vol.dims, spacing: vol.spacing, origin: vol.origin, direction: vol.direction, data },
      ];
    }),
  );
}

/**
 * The case's mask (volume grid) proposed with `points`: with `base` (the unprompted proposal)
 * only the slices the clicks touch are proposed and replace base's, as the viewer's Refine does.
 */
export async function proposeMask(
  engine: EngineClient,
  kase: Case,
  points: PromptPoint[],
  base?: Uint8Array,
): Promise<{ mask: Uint8Array; touched: number[]; seconds: number; firstSliceSeconds: number }> {
  const t0 = performance.now();
  let firstSliceSeconds = Number.NaN;
  const [nx, ny, nz] = kase.label?.dims ?? Object.values(kase.sequences)[0]!.dims;
  const mask = base ? base.slice() : new Uint8Array(nx * ny * nz);
  const run = engine.propose(
    {
      caseName: kase.root,
      volumes: channels(kase),
      seed: 0,
      ...(base ? { prompts: { points }, onlyTouched: true } : points.length ? { prompts: { points } } : {}),
    },
    (e) => {
      if (e.type !== 'slice') return;
      if (Number.isNaN(firstSliceSeconds)) firstSliceSeconds = (performance.now() - t0) / 1000;
      mask.set(e.result.mask, e.result.k * nx * ny);
    },
  );
  const s = await run.result;
  return { mask, touched: s.touched ?? s.slices, seconds: s.seconds.total, firstSliceSeconds };
}
