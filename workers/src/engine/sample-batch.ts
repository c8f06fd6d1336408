import { CLICK_GUIDANCE, clickGuide } from '../../../core/src/click-guidance.ts';
import { createSampler, type X0Guide } from '../../../core/src/diffusion/samplers.ts';
import { Schedule } from '../../../core/src/diffusion/schedule.ts';
import type { CropMode, SamplerName } from '../../../core/src/lists.ts';
import { networkOfMember } from '../../../core/src/manifest.ts';
import type { ModelFrame } from '../../../core/src/model-frame.ts';
import { clickMaps, type ModelClick } from '../../../core/src/prompts.ts';
import { Rng } from '../../../core/src/rng.ts';
import { type CropBox, cropGrid, cutPlanes, headBox, pastePlanes, recommendedCrop } from './crop.ts';
import { gatherRows, NetworkRunner } from './networks.ts';
import type { SampleCache } from './sample-cache.ts';
import type { LoadedModel } from './session.ts';

export interface SamplingRun {
  samplerName: SamplerName;
  steps: number;
  eta: number;
  seed: number;
  /** Where the network runs on a slice (crop.ts); absent: the manifest's (recommendedCrop). */
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
  /** Slices the network ran on so far (the others asked for came from the cache). */
  readonly sampled: number;
  /** Seconds spent inside ONNX runtime so far. */
  readonly modelSeconds: number;
  /** 'head' when slices are cropped (asked for, and the model and frame allow it). */
  readonly crop: CropMode;
  /**
   * Pixels the network ran on / every member's whole frame at every step, over the batches so far
   * (1 without crop or shared first step).
   */
  readonly frameFraction: number;
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

/**
 * Where x_t holds less than this share of signal (√ᾱ_t), the network's x0 is all but a function
 * of the image: with `recommended.shareFirstStep` the members of a slice share that step's
 * prediction (one network run per kind of member instead of one per member).
 */
export const SHARED_STEP_SIGNAL = 0.01;

/** Is a first step at timestep t one the members may share (√ᾱ_t < SHARED_STEP_SIGNAL)? */
export const isSharedStep = (schedule: Schedule, t: number) =>
  Math.sqrt(schedule.alphasCumprod[t]) < SHARED_STEP_SIGNAL;

/** With the manifest's `recommended.flipMembers`, the odd-numbered members work mirrored left-right. */
export const isFlippedMember = (m: number, flip: boolean) => flip && m % 2 === 1;

const key = (k: number, clicks: readonly ModelClick[]) =>
  `${k}:${clicks.map((c) => `${c.positive ? '+' : '-'}${c.propagated ? 'p' : ''}${c.row},${c.col}`).join(';')}`;

/**
 * The sampling loop of a proposal. Each slice's members come from its own RNG seeded by
 * (seed, k), drawn on the whole frame and cut to the slice's crop, and the model's output is
 * batch-invariant, so a slice gives the same members in any batch. With a `cache` (the case's,
 * PreparedCase.samples, or a prompt run's own: it proposes a slice while planning and again in
 * the final pass), each (settings, slice, clicks) is sampled once.
 */
export function batchSampler(
  model: LoadedModel,
  frame: ModelFrame,
  members: number,
  run: SamplingRun,
  hooks: { isCancelled(): boolean },
  progress: (batch: number[], step: number, steps: number) => void,
  cache?: SampleCache,
): BatchSampler {
  const { manifest, sessions } = model;
  const networks = new NetworkRunner(sessions);
  const networkOf = Array.from({ length: members }, (_, m) => networkOfMember(m, members, sessions.length));
  const schedule = Schedule.fromSpec(manifest.schedule);
  const [H, W] = manifest.preprocess.inputSize;
  // the sequences, and the neighbour slices' channels of a context model (core/src/context-frame.ts)
  const C = frame.channels;
  // a prompt model takes two more image channels, the click maps (zero: no clicks)
  const P = manifest.prompts ? manifest.prompts.channels.length : 0;
  const HW = H * W;
  const flip = manifest.recommended.flipMembers === true;
  const shareFirst = manifest.recommended.shareFirstStep === true;
  // a flipped member runs on the mirrored frame, so on the mirror image of its slice's crop box
  const mirrorBox = (b: CropBox): CropBox => ({ ...b, c0: W - b.c0 - b.w });
  const state = { modelSeconds: 0, pixels: 0, framePixels: 0, sampled: 0 };
  const whole: CropBox = { r0: 0, c0: 0, h: H, w: W };
  const grid =
    (run.crop ?? recommendedCrop(manifest)) === 'head' && frame.foregroundFloor
      ? cropGrid(manifest, sessions[0])
      : undefined;
  const clickReach = P ? Math.ceil(4 * manifest.prompts!.sigmaPx) : 0;
  // what besides the slice and its clicks decides its members (the cache's key)
  const settings = `${manifest.name} ${manifest.version}|${members}|${run.samplerName}|${run.steps}|${run.eta}|${run.seed}|${grid ? 'head' : 'off'}|`;
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
    const mirrored = new Float32Array(flip ? CI * HW : 0);
    for (const [bi, k] of batch.entries()) {
      planes.set(frame.input(k));
      if (P) clickMaps(clicks[bi] ?? [], H, W, manifest.prompts!.sigmaPx, planes.subarray(C * HW));
      if (flip) mirrorColumns(planes, W, mirrored);
      const at = bi * members * CI * hw;
      cutPlanes(planes, 0, CI, W, H, boxes[bi], image, at);
      for (let m = 1; m < members; m++)
        if (isFlippedMember(m, flip))
          cutPlanes(mirrored, 0, CI, W, H, mirrorBox(boxes[bi]), image, at + m * CI * hw);
        else image.copyWithin(at + m * CI * hw, at, at + CI * hw);
    }
    // the clicks also steer x0 at each step (core/src/click-guidance.ts), the same for every
    // member of a slice; a guide differs only between the last step and the others (clickGuide),
    // so each is built once per batch, not at every step
    const guides = new Map<boolean, X0Guide | undefined>();
    const guideFor = (step: number, steps: number) => {
      const last = step === steps - 1;
      if (!guides.has(last)) guides.set(last, buildGuide(step, steps));
      return guides.get(last);
    };
    const buildGuide = (step: number, steps: number) => {
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
          const gm = flip
            ? {
                weight: mirrorColumns(g.weight, W, new Float32Array(HW)),
                target: mirrorColumns(g.target, W, new Float32Array(HW)),
              }
            : g;
          for (let m = 0; m < members; m++) {
            const [src, box] = isFlippedMember(m, flip) ? [gm, mirrorBox(boxes[bi])] : [g, boxes[bi]];
            cutPlanes(src.weight, 0, 1, W, H, box, guide.weight, (bi * members + m) * hw);
            cutPlanes(src.target, 0, 1, W, H, box, guide.target, (bi * members + m) * hw);
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
    /** The networks on the rows of image [n, CI, h, w] and x_t [n, 1, h, w] at step i, row r being member memberOf[r]. */
    const forward = async (img: Float32Array, xt: Float32Array, memberOf: number[], i: number) => {
      const pred = await networks.run(
        img,
        xt,
        ts[i],
        memberOf.map((m) => networkOf[m]),
        { channels: CI, h, w },
      );
      state.pixels += memberOf.length * hw;
      return pred;
    };
    const rowMembers = batch.flatMap(() => networkOf.map((_, m) => m));
    // a shared first step runs each slice's first member of each kind (unflipped, flipped) on
    // each network and gives its x0 to the others of its kind and network
    const shareAtFirst = shareFirst && isSharedStep(schedule, ts[0]);
    // a member's kind: its network and whether it works mirrored; the first of each kind leads it
    const kindOf = (m: number) => networkOf[m] * 2 + (isFlippedMember(m, flip) ? 1 : 0);
    const leaders: number[] = [];
    const leaderOf: number[] = [];
    for (let m = 0; m < members; m++) {
      let at = leaders.findIndex((l) => kindOf(l) === kindOf(m));
      if (at < 0) at = leaders.push(m) - 1;
      leaderOf.push(at);
    }
    const L = leaders.length;
    // each slice's leaders: their rows in the batch, packed [batch * L]
    const leaderRows = batch.flatMap((_, bi) => leaders.map((m) => bi * members + m));
    for (let i = 0; i < ts.length; i++) {
      if (hooks.isCancelled()) return 'cancelled';
      const tm = performance.now();
      let out: Float32Array;
      if (shareAtFirst && i === 0) {
        const led = await forward(
          gatherRows(image, leaderRows, CI * hw),
          gatherRows(x, leaderRows, hw),
          batch.flatMap(() => leaders),
          i,
        );
        out = new Float32Array(B * hw);
        for (let bi = 0; bi < batch.length; bi++)
          for (let m = 0; m < members; m++) {
            const from = (bi * L + leaderOf[m]) * hw;
            out.set(led.subarray(from, from + hw), (bi * members + m) * hw);
          }
      } else out = await forward(image, x, rowMembers, i);
      state.modelSeconds += (performance.now() - tm) / 1000;
      state.framePixels += B * HW;
      sampler.step(
        i,
        out,
        x,
        sampler.needsNoise(i) ? drawNoise(noise) : undefined,
        next,
        guideFor(i, ts.length),
      );
      [x, next] = [next, x];
      progress(batch, i, ts.length);
    }
    // a flipped member's whole chain ran mirrored (every sampler step is per pixel, its noise
    // i.i.d.), so mirroring its final x0 back is the same as mirroring x0 / x_t at every step;
    // mirrored within the mirrored box, it lands in the slice's own box
    const plane = new Float32Array(flip ? hw : 0);
    for (let bi = 0; flip && bi < batch.length; bi++)
      for (let m = 0; m < members; m++) {
        if (!isFlippedMember(m, flip)) continue;
        const member = x.subarray((bi * members + m) * hw, (bi * members + m + 1) * hw);
        member.set(mirrorColumns(member, w, plane));
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
    get sampled() {
      return state.sampled;
    },
    async sample(batch, clicks = []) {
      if (!cache) {
        state.sampled += batch.length;
        return sampleNew(batch, clicks);
      }
      const keys = batch.map((k, bi) => settings + key(k, clicks[bi] ?? []));
      const out = keys.map((kk) => cache.get(kk));
      const todo = batch.map((_, bi) => bi).filter((bi) => !out[bi]);
      state.sampled += todo.length;
      if (todo.length) {
        const x = await sampleNew(
          todo.map((bi) => batch[bi]),
          todo.map((bi) => clicks[bi] ?? []),
        );
        if (x === 'cancelled') return x;
        for (const [j, bi] of todo.entries()) {
          out[bi] = x[j];
          cache.set(keys[bi], x[j]);
        }
      }
      return out as Float32Array[];
    },
  };
}
