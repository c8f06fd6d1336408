import type { Prediction, Schedule } from './schedule.ts';

/** What one step gives, as diffusers' scheduler output: the previous sample and the predicted x0. */
export interface StepOutput {
  /** x at the next (smaller) timestep; at the last step, x0 itself. */
  prev: Float32Array;
  /** The model's prediction turned into x0, clipped to the mask range [-1, 1]. */
  x0: Float32Array;
}

/**
 * Replacement guidance on x0 (the user's clicks, issue 12): before the update, the predicted x0
 * becomes x0 + weight (target - x0) per pixel, while the noise direction stays the network's.
 * Where weight is 1 the step then draws x_{t-1} around √ᾱ_{t-1} target, the known-region
 * replacement of RePaint (Lugmayr et al. 2022) and of Song et al. 2021's imputation (score SDE,
 * appendix I), written in x0: the next steps denoise a sample that holds the target there, and
 * the network, which sees x_t, carries it as far as the image agrees.
 */
export interface X0Guide {
  /** [0, 1] per pixel, as x. */
  weight: Float32Array;
  /** What x0 is pulled toward per pixel (mask scale: +1 lesion, -1 none). */
  target: Float32Array;
}

/** step()'s arguments: step index i, the model's prediction at timesteps[i], x there, fresh noise when needsNoise(i), the buffer for x at the next timestep, and an optional guide on x0. */
export type StepArgs = [
  i: number,
  pred: Float32Array,
  x: Float32Array,
  noise: Float32Array | undefined,
  out: Float32Array,
  guide?: X0Guide,
];

/**
 * Samplers in the style of diffusers' schedulers (scheduling_ddim.py): `setTimesteps(n)` chooses
 * the steps, `step()` does the maths for one of them and returns `{ prev, x0 }`, and the model
 * call stays outside, so samplers are interchangeable. Noise is an argument, so a run can be
 * replayed exactly (fixtures, seeds).
 */
export interface Sampler {
  readonly timesteps: number[];
  setTimesteps(n: number): void;
  /** Does step index `i` need fresh gaussian noise? (The caller draws it.) */
  needsNoise(i: number): boolean;
  /** x at timesteps[i] and the model's prediction there -> `{ prev: x at the next timestep (written into out), x0 }`. */
  step(...args: StepArgs): StepOutput;
}

export interface SamplerOptions {
  /** DDIM's η: 0 deterministic, 1 the DDPM posterior variance. */
  eta: number;
  steps: number;
}

/** A registered sampler (core/src/diffusion/samplers.ts): how to build it, and whether it fixes its step count. */
export interface SamplerEntry {
  create(schedule: Schedule, prediction: Prediction, opts: SamplerOptions): Sampler;
  /** Samplers defined on every step of the schedule (DDPM) run T steps whatever was asked. */
  fixedSteps?(T: number): number;
}

/** What every sampler shares: the schedule, the timesteps and x0 from the model's prediction. */
export abstract class ScheduledSampler implements Sampler {
  timesteps: number[] = [];
  private x0: Float32Array = new Float32Array(0);
  constructor(
    protected readonly schedule: Schedule,
    protected readonly prediction: Prediction,
  ) {}
  abstract setTimesteps(n: number): void;
  abstract needsNoise(i: number): boolean;
  abstract step(...args: StepArgs): StepOutput;
  /** x0 predicted at timesteps[i] (Ho et al. 2020 eq. 15 for ε; x0 and v as they are), in a reused buffer. */
  protected predictX0(i: number, pred: Float32Array, x: Float32Array): Float32Array {
    if (this.x0.length !== x.length) this.x0 = new Float32Array(x.length);
    return this.schedule.predictX0(pred, x, this.timesteps[i], this.prediction, this.x0);
  }
}

/** x0 <- x0 + weight (target - x0), in place (X0Guide). */
export function applyGuide(x0: Float32Array, guide: X0Guide): Float32Array {
  for (let j = 0; j < x0.length; j++) x0[j] += guide.weight[j] * (guide.target[j] - x0[j]);
  return x0;
}
