import * as ort from 'onnxruntime-node';
import { CLICK_GUIDANCE, clickGuide } from '../../../core/src/click-guidance.ts';
import { createSampler, type X0Guide } from '../../../core/src/diffusion/samplers.ts';
import { Schedule } from '../../../core/src/diffusion/schedule.ts';
import type { SamplerName } from '../../../core/src/lists.ts';
import type { ModelFrame } from '../../../core/src/model-frame.ts';
import { clickMaps, type ModelClick } from '../../../core/src/prompts.ts';
import { Rng } from '../../../core/src/rng.ts';
import type { LoadedModel } from './session.ts';

export interface SamplingRun {
  samplerName: SamplerName;
  steps: number;
  eta: number;
  seed: number;
}

/** Runs the diffusion sampler on model slices: each slice's members' final x0 ([members * H * W], [-1, 1]). */
export interface BatchSampler {
  sample(batch: number[], clicks?: ModelClick[][]): Promise<Float32Array[] | 'cancelled'>;
  /** Seconds spent inside ONNX runtime so far. */
  readonly modelSeconds: number;
}

const key = (k: number, clicks: readonly ModelClick[]) =>
  `${k}:${clicks.map((c) => `${c.positive ? '+' : '-'}${c.propagated ? 'p' : ''}${c.row},${c.col}`).join(';')}`;

/**
 * The sampling loop of a proposal. Each slice's members come from its own RNG seeded by
 * (seed, k) and the model's output is batch-invariant, so a slice gives the same members in any
 * batch. With `remember` (prompt runs, which propose a slice while planning and again in the
 * final pass), each (slice, clicks) is sampled once.
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
  const state = { modelSeconds: 0 };

  async function sampleNew(batch: number[], clicks: ModelClick[][]): Promise<Float32Array[] | 'cancelled'> {
    const B = batch.length * members;
    const CI = C + P;
    const image = new Float32Array(B * CI * HW);
    const maps = new Float32Array(2 * HW);
    for (const [bi, k] of batch.entries()) {
      const inp = frame.input(k);
      if (P) clickMaps(clicks[bi] ?? [], H, W, manifest.prompts!.sigmaPx, maps);
      for (let m = 0; m < members; m++) {
        const at = (bi * members + m) * CI * HW;
        image.set(inp, at);
        if (P) image.set(maps, at + C * HW);
      }
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
          guide ??= { weight: new Float32Array(B * HW), target: new Float32Array(B * HW) };
          for (let m = 0; m < members; m++) {
            guide.weight.set(g.weight, (bi * members + m) * HW);
            guide.target.set(g.target, (bi * members + m) * HW);
          }
        }
      return guide;
    };
    const rngs = batch.map((k) => new Rng((run.seed * 100003 + k * 7919 + 1) >>> 0));
    const drawNoise = (out: Float32Array) => {
      for (const [bi, rng] of rngs.entries())
        rng.fillGaussian(out.subarray(bi * members * HW, (bi + 1) * members * HW));
      return out;
    };
    let x: Float32Array = drawNoise(new Float32Array(B * HW));
    let next: Float32Array = new Float32Array(B * HW);
    const noise = new Float32Array(B * HW);
    const sampler = createSampler(run.samplerName, schedule, manifest.prediction, {
      eta: run.eta,
      steps: run.steps,
    });
    const ts = sampler.timesteps;
    const imageTensor = new ort.Tensor('float32', image, [B, CI, H, W]);
    for (let i = 0; i < ts.length; i++) {
      if (hooks.isCancelled()) return 'cancelled';
      const tm = performance.now();
      const out = await session.run({
        image: imageTensor,
        x_t: new ort.Tensor('float32', x, [B, 1, H, W]),
        t: new ort.Tensor('float32', new Float32Array(B).fill(ts[i]), [B]),
      });
      state.modelSeconds += (performance.now() - tm) / 1000;
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
    return batch.map((_, bi) => x.slice(bi * members * HW, (bi + 1) * members * HW));
  }

  return {
    get modelSeconds() {
      return state.modelSeconds;
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
