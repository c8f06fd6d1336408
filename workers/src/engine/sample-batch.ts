import * as ort from 'onnxruntime-node';
import { CLICK_GUIDANCE, clickGuide } from '../../../core/src/click-guidance.ts';
import { createSampler, type X0Guide } from '../../../core/src/diffusion/samplers.ts';
import { Schedule } from '../../../core/src/diffusion/schedule.ts';
import type { CropMode, SamplerName } from '../../../core/src/lists.ts';
import type { ModelFrame } from '../../../core/src/model-frame.ts';
import { clickMaps, type ModelClick } from '../../../core/src/prompts.ts';
import { Rng } from '../../../core/src/rng.ts';
import { type CropBox, cropGrid, cutPlanes, headBox, pastePlanes } from './crop.ts';
import type { LoadedModel } from './session.ts';

export interface SamplingRun {
  samplerName: SamplerName;
  steps: number;
  eta: number;
  seed: number;
  /** Where the network runs on a slice (crop.ts); default 'head'. */
  crop?: CropMode;
}

/** Runs the diffusion sampler on model slices: each slice's members' final x0 ([members * H * W], [-1, 1]). */
export interface BatchSampler {
  sample(batch: number[], clicks?: ModelClick[][]): Promise<Float32Array[] | 'cancelled'>;
  /**
   * `slices` cut into batches of one crop size each, about `images` whole frames' worth of
   * pixels per batch (smaller crops: more slices per batch).
   */
  batches(slices: number[], clicksFor: (k: number) => ModelClick[], images: number): number[][];
  /** Seconds spent inside ONNX runtime so far. */
  readonly modelSeconds: number;
  /** 'head' when slices are cropped (asked for, and the model and frame allow it). */
  readonly crop: CropMode;
  /** Pixels the network ran on / whole frames' pixels, over the forwards so far (1 without crop). */
  readonly frameFraction: number;
}

const key = (k: number, clicks: readonly ModelClick[]) =>
  `${k}:${clicks.map((c) => `${c.positive ? '+' : '-'}${c.propagated ? 'p' : ''}${c.row},${c.col}`).join(';')}`;

/**
 * The sampling loop of a proposal. Each slice's members come from its own RNG seeded by
 * (seed, k), drawn on the whole frame and cut to the slice's crop, and the model's output is
 * batch-invariant, so a slice gives the same members in any batch. With `remember` (prompt
 * runs, which propose a slice while planning and again in the final pass), each (slice, clicks)
 * is sampled once.
 */
export function batchSampler(
  model: LoadedModel,
  frame: ModelFrame,
  members: number,
  run: SamplingRun,
  hooks: { isCancelled(): boolean },
  progress: (batch: number[], step: number, steps: number) => void,
  remember = false,
): BatchSampler {
  const { manifest, session } = model;
  const schedule = Schedule.fromSpec(manifest.schedule);
  const [H, W] = manifest.preprocess.inputSize;
  const C = manifest.channels.length;
  // a prompt model takes two more image channels, the click maps (zero: no clicks)
  const P = manifest.prompts ? manifest.prompts.channels.length : 0;
  const HW = H * W;
  const memory = new Map<string, Float32Array>();
  const state = { modelSeconds: 0, pixels: 0, framePixels: 0 };
  const whole: CropBox = { r0: 0, c0: 0, h: H, w: W };
  const grid =
    (run.crop ?? 'head') === 'head' && frame.foregroundFloor ? cropGrid(manifest, session) : undefined;
  const clickReach = P ? Math.ceil(4 * manifest.prompts!.sigmaPx) : 0;
  const boxes = new Map<string, CropBox>();
  const boxOf = (k: number, clicks: readonly ModelClick[]): CropBox => {
    if (!grid) return whole;
    const kk = key(k, clicks);
    let box = boxes.get(kk);
    if (!box) {
      box = headBox(frame.input(k), frame.foregroundFloor!, H, W, grid, clicks, clickReach);
      boxes.set(kk, box);
    }
    return box;
  };

  /** One batch whose slices share one crop size. */
  async function sampleCrop(
    batch: number[],
    clicks: ModelClick[][],
    boxes: CropBox[],
  ): Promise<Float32Array[] | 'cancelled'> {
    const { h, w } = boxes[0];
    const hw = h * w;
    const B = batch.length * members;
    const CI = C + P;
    const image = new Float32Array(B * CI * hw);
    const planes = new Float32Array(CI * HW);
    for (const [bi, k] of batch.entries()) {
      planes.set(frame.input(k));
      if (P) clickMaps(clicks[bi] ?? [], H, W, manifest.prompts!.sigmaPx, planes.subarray(C * HW));
      const at = bi * members * CI * hw;
      cutPlanes(planes, 0, CI, W, H, boxes[bi], image, at);
      for (let m = 1; m < members; m++) image.copyWithin(at + m * CI * hw, at, at + CI * hw);
    }
    // the clicks also steer x0 at each step (core/src/click-guidance.ts), the same for every
    // member of a slice
    const guideFor = (step: number, steps: number) => {
      let guide: X0Guide | undefined;
      if (P)
        for (const [bi] of batch.entries()) {
          const g = clickGuide(
            clicks[bi] ?? [],
            H,
            W,
            manifest.prompts!.sigmaPx,
            step,
            steps,
            CLICK_GUIDANCE,
          );
          if (!g) continue;
          // built on the whole frame, cut to the slice's crop like its image and noise
          guide ??= { weight: new Float32Array(B * hw), target: new Float32Array(B * hw) };
          for (let m = 0; m < members; m++) {
            cutPlanes(g.weight, 0, 1, W, H, boxes[bi], guide.weight, (bi * members + m) * hw);
            cutPlanes(g.target, 0, 1, W, H, boxes[bi], guide.target, (bi * members + m) * hw);
          }
        }
      return guide;
    };
    const rngs = batch.map((k) => new Rng((run.seed * 100003 + k * 7919 + 1) >>> 0));
    const frameNoise = new Float32Array(members * HW);
    const drawNoise = (out: Float32Array) => {
      for (const [bi, rng] of rngs.entries()) {
        rng.fillGaussian(frameNoise);
        cutPlanes(frameNoise, 0, members, W, H, boxes[bi], out, bi * members * hw);
      }
      return out;
    };
    let x: Float32Array = drawNoise(new Float32Array(B * hw));
    let next: Float32Array = new Float32Array(B * hw);
    const noise = new Float32Array(B * hw);
    const sampler = createSampler(run.samplerName, schedule, manifest.prediction, {
      eta: run.eta,
      steps: run.steps,
    });
    const ts = sampler.timesteps;
    const imageTensor = new ort.Tensor('float32', image, [B, CI, h, w]);
    for (let i = 0; i < ts.length; i++) {
      if (hooks.isCancelled()) return 'cancelled';
      const tm = performance.now();
      const out = await session.run({
        image: imageTensor,
        x_t: new ort.Tensor('float32', x, [B, 1, h, w]),
        t: new ort.Tensor('float32', new Float32Array(B).fill(ts[i]), [B]),
      });
      state.modelSeconds += (performance.now() - tm) / 1000;
      state.pixels += B * hw;
      state.framePixels += B * HW;
      sampler.step(
        i,
        out.pred.data as Float32Array,
        x,
        sampler.needsNoise(i) ? drawNoise(noise) : undefined,
        next,
        guideFor(i, ts.length),
      );
      [x, next] = [next, x];
      progress(batch, i, ts.length);
    }
    // outside the crop: background in every member (x0 = -1, probability 0, std 0)
    return batch.map((_, bi) =>
      pastePlanes(x.subarray(bi * members * hw, (bi + 1) * members * hw), members, H, W, boxes[bi], -1),
    );
  }

  /** Any batch: its slices grouped by crop size, each group one run, results in batch order. */
  async function sampleNew(batch: number[], clicks: ModelClick[][]): Promise<Float32Array[] | 'cancelled'> {
    const groups = new Map<string, number[]>();
    const bx = batch.map((k, bi) => boxOf(k, clicks[bi] ?? []));
    for (const [bi, b] of bx.entries()) {
      const g = `${b.h}x${b.w}`;
      groups.set(g, [...(groups.get(g) ?? []), bi]);
    }
    const out: Float32Array[] = new Array(batch.length);
    for (const idx of groups.values()) {
      const x = await sampleCrop(
        idx.map((bi) => batch[bi]),
        idx.map((bi) => clicks[bi] ?? []),
        idx.map((bi) => bx[bi]),
      );
      if (x === 'cancelled') return x;
      for (const [j, bi] of idx.entries()) out[bi] = x[j];
    }
    return out;
  }

  return {
    get modelSeconds() {
      return state.modelSeconds;
    },
    crop: grid ? 'head' : 'off',
    get frameFraction() {
      return state.framePixels ? state.pixels / state.framePixels : 1;
    },
    batches(slices, clicksFor, images) {
      const groups = new Map<string, number[]>();
      for (const k of slices) {
        const b = boxOf(k, clicksFor(k));
        const g = `${b.h}x${b.w}`;
        groups.set(g, [...(groups.get(g) ?? []), k]);
      }
      const out: number[][] = [];
      for (const [g, ks] of groups) {
        const [h, w] = g.split('x').map(Number);
        const per = Math.max(1, Math.floor((images * HW) / (members * h * w)));
        for (let i = 0; i < ks.length; i += per) out.push(ks.slice(i, i + per));
      }
      return out;
    },
    async sample(batch, clicks = []) {
      if (!remember) return sampleNew(batch, clicks);
      const keys = batch.map((k, bi) => key(k, clicks[bi] ?? []));
      const todo = batch.map((_, bi) => bi).filter((bi) => !memory.has(keys[bi]));
      if (todo.length) {
        const x = await sampleNew(
          todo.map((bi) => batch[bi]),
          todo.map((bi) => clicks[bi] ?? []),
        );
        if (x === 'cancelled') return x;
        for (const [j, bi] of todo.entries()) memory.set(keys[bi], x[j]);
      }
      return keys.map((kk) => memory.get(kk)!);
    },
  };
}
