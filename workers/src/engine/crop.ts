import type * as ort from 'onnxruntime-node';
import type { CropMode } from '../../../core/src/lists.ts';
import type { ModelManifest } from '../../../core/src/manifest.ts';
import type { ModelClick } from '../../../core/src/prompts.ts';

/**
 * Crop to the head (issue 15): the network runs only on a slice's head bounding box plus a margin,
 * a window of the model frame whose sides are multiples of what the UNet's downsampling needs; the
 * frame around it is background (x0 = -1: probability 0, every member agrees, std 0). The top and
 * bottom of a head fill a fraction of the 120 x 120 frame, so most slices cost less. GroupNorm
 * sees fewer background pixels in a crop, so results differ slightly from the whole frame: the
 * margin and the Dice it keeps are measured (README, "Speed").
 */

/**
 * Background pixels kept around the head on each side (model pixels: 2 mm each) for a model whose
 * manifest does not say (`recommended.cropMarginPx`, chosen for a model trained on crops). 16
 * (32 mm): measured on the 15 held-out cases with v2.2, which never saw a crop in training, 8 lost
 * 0.034 Dice on one skull-stripped case (README, "Speed").
 */
export const CROP_MARGIN_PX = 16;

/** Where the network runs when a request names no crop: the manifest's `recommended.crop`, else the head box. */
export function recommendedCrop(manifest: ModelManifest): CropMode {
  return manifest.recommended.crop ?? 'head';
}

export interface CropBox {
  r0: number;
  c0: number;
  h: number;
  w: number;
}

/** Multiples a crop's side and origin keep, and the margin around the head. */
export interface CropGrid {
  /** Side multiple: what the UNet's downsampling needs, at least 16 (few size classes batch well). */
  size: number;
  /** Origin multiple: the whole frame's grid at the coarsest level (stride-2 phases kept). */
  origin: number;
  /** Background model pixels kept around the head on each side. */
  margin: number;
}

/**
 * The crop grid of a model: 2^(downsamplings) of its UNet (the `mults` in the manifest's
 * provenance, one downsampling fewer than levels; without them 5 levels are assumed, a coarser
 * grid that also suits fewer), with the manifest's margin. Undefined when the model's height and width are fixed (an export
 * before dynamic H/W): no crop then.
 */
export function cropGrid(manifest: ModelManifest, session: ort.InferenceSession): CropGrid | undefined {
  const image = session.inputMetadata.find((m) => m.name === 'image');
  const shape = image && 'shape' in image ? image.shape : undefined;
  if (!shape || typeof shape[2] === 'number' || typeof shape[3] === 'number') return undefined;
  const arch = manifest.provenance?.arch as { mults?: unknown[] } | undefined;
  const levels = Array.isArray(arch?.mults) ? arch.mults.length : 5;
  const origin = 2 ** (levels - 1);
  return { size: Math.max(16, origin), origin, margin: manifest.recommended.cropMarginPx ?? CROP_MARGIN_PX };
}

/** Start and size of a window holding [lo, hi] plus margin, on the grid, inside n. */
function span(lo: number, hi: number, n: number, grid: CropGrid): [number, number] {
  let a = Math.max(0, lo - grid.margin);
  a -= a % grid.origin;
  const size = Math.ceil((Math.min(n - 1, hi + grid.margin) - a + 1) / grid.size) * grid.size;
  if (size >= n) return [0, n];
  return [Math.min(a, n - size), size];
}

/**
 * The head box of one slice's input [C, H, W]: pixels above the frame's foreground floor in any
 * channel, and every click (with its Gaussian's reach), plus the margin. The whole frame when the
 * slice has no head pixel.
 */
export function headBox(
  input: Float32Array,
  floors: readonly number[],
  H: number,
  W: number,
  grid: CropGrid,
  clicks: readonly ModelClick[] = [],
  clickReach = 0,
): CropBox {
  let rMin = H;
  let rMax = -1;
  let cMin = W;
  let cMax = -1;
  const HW = H * W;
  for (let r = 0; r < H; r++)
    for (let c = 0; c < W; c++) {
      let head = false;
      for (let ch = 0; ch < floors.length && !head; ch++) head = input[ch * HW + r * W + c] > floors[ch];
      if (!head) continue;
      if (r < rMin) rMin = r;
      if (r > rMax) rMax = r;
      if (c < cMin) cMin = c;
      if (c > cMax) cMax = c;
    }
  for (const k of clicks) {
    rMin = Math.min(rMin, Math.floor(k.row - clickReach));
    rMax = Math.max(rMax, Math.ceil(k.row + clickReach));
    cMin = Math.min(cMin, Math.floor(k.col - clickReach));
    cMax = Math.max(cMax, Math.ceil(k.col + clickReach));
  }
  if (rMax < 0) return { r0: 0, c0: 0, h: H, w: W };
  const [r0, h] = span(Math.max(0, rMin), Math.min(H - 1, rMax), H, grid);
  const [c0, w] = span(Math.max(0, cMin), Math.min(W - 1, cMax), W, grid);
  return { r0, c0, h, w };
}

/** Copies `planes` planes [H, W] of src (from srcAt) cut to box into dst at dstAt. */
export function cutPlanes(
  src: Float32Array,
  srcAt: number,
  planes: number,
  W: number,
  H: number,
  box: CropBox,
  dst: Float32Array,
  dstAt: number,
) {
  for (let p = 0; p < planes; p++)
    for (let r = 0; r < box.h; r++) {
      const from = srcAt + p * H * W + (box.r0 + r) * W + box.c0;
      dst.set(src.subarray(from, from + box.w), dstAt + (p * box.h + r) * box.w);
    }
}

/** Planes [h, w] of src pasted into whole frames [H, W] filled with `outside`. */
export function pastePlanes(
  src: Float32Array,
  planes: number,
  H: number,
  W: number,
  box: CropBox,
  outside: number,
): Float32Array {
  const out = new Float32Array(planes * H * W).fill(outside);
  for (let p = 0; p < planes; p++)
    for (let r = 0; r < box.h; r++) {
      const from = (p * box.h + r) * box.w;
      out.set(src.subarray(from, from + box.w), p * H * W + (box.r0 + r) * W + box.c0);
    }
  return out;
}
