import * as ort from 'onnxruntime-node';
import { createSampler } from '../../../core/src/diffusion/samplers.ts';
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

/**
 * Mirrors each W-wide row of `src` (every plane) left-right (reverses its columns: the model frame's columns
 * run along L, core/src/model-frame.ts) into `dst` (not `src` itself).
 */
export function mirrorColumns(src: Float32Array, W: number, dst: Float32Array): Float32Array {
  for (let row = 0; row < src.length / W; row++) {
    const at = row * W;
    for (let c = 0; c < W; c++) dst[at + c] = src[at + W - 1 - c];
  }
  return dst;
}

/** With the manifest's `recommended.flipMembers`, the odd-numbered members work mirrored left-right. */
export const isFlippedMember = (m: number, flip: boolean) => flip && m % 2 === 1;

const key = (k: number, clicks: readonly ModelClick[]) =>
  `${k}:${clicks.map((c) => `${c.positive ? '+' : '-'}${c.row},${c.col}`).join(';')}`;

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
  const flip = manifest.recommended.flipMembers === true;
  const memory = new Map<string, Float32Array>();
  const state = { modelSeconds: 0 };

  async function sampleNew(batch: number[], clicks: ModelClick[][]): Promise<Float32Array[] | 'cancelled'> {
    const B = batch.length * members;
    const CI = C + P;
    const image = new Float32Array(B * CI * HW);
    const maps = new Float32Array(2 * HW);
    const inpMirrored = new Float32Array(flip ? C * HW : 0);
    const mapsMirrored = new Float32Array(flip ? 2 * HW : 0);
    for (const [bi, k] of batch.entries()) {
      const inp = frame.input(k);
      if (P) clickMaps(clicks[bi] ?? [], H, W, manifest.prompts!.sigmaPx, maps);
      if (flip) {
        mirrorColumns(inp, W, inpMirrored);
        if (P) mirrorColumns(maps, W, mapsMirrored);
      }
      for (let m = 0; m < members; m++) {
        const at = (bi * members + m) * CI * HW;
        const mirrored = isFlippedMember(m, flip);
        image.set(mirrored ? inpMirrored : inp, at);
        if (P) image.set(mirrored ? mapsMirrored : maps, at + C * HW);
      }
    }
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
      );
      [x, next] = [next, x];
      progress(batch, i, ts.length);
    }
    // a flipped member's whole chain ran mirrored (every sampler step is per pixel, its noise
    // i.i.d.), so mirroring its final x0 back is the same as mirroring x0 / x_t at every step
    const plane = new Float32Array(flip ? HW : 0);
    for (let bi = 0; flip && bi < batch.length; bi++)
      for (let m = 0; m < members; m++) {
        if (!isFlippedMember(m, flip)) continue;
        const member = x.subarray((bi * members + m) * HW, (bi * members + m + 1) * HW);
        member.set(mirrorColumns(member, W, plane));
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
