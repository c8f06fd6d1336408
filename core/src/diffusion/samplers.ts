import type { Prediction, Schedule } from './schedule.ts';

/**
 * Samplers in the diffusers style: `setTimesteps(n)` chooses the steps, `step()` does the maths
 * for one of them, and the model call stays outside, so DDPM, DDIM and later samplers are
 * interchangeable. Noise is an argument, so a run can be replayed exactly (fixtures, seeds).
 */
export interface Sampler {
  readonly timesteps: number[];
  setTimesteps(n: number): void;
  /** Does step index `i` need fresh gaussian noise? (The caller draws it.) */
  needsNoise(i: number): boolean;
  /** x at timesteps[i] and the model's prediction there -> x at the next timestep (or x0). */
  step(
    i: number,
    pred: Float32Array,
    x: Float32Array,
    noise: Float32Array | undefined,
    out: Float32Array,
  ): Float32Array;
}

/** The paper's ancestral sampler: all T steps, t = T-1 .. 0. */
export class DdpmSampler implements Sampler {
  timesteps: number[] = [];
  private x0: Float32Array = new Float32Array(0);
  constructor(
    private readonly schedule: Schedule,
    private readonly prediction: Prediction,
  ) {
    this.setTimesteps(schedule.T);
  }
  setTimesteps(_n: number): void {
    // DDPM is defined on every step; asking for fewer is a different sampler (use DDIM).
    this.timesteps = Array.from({ length: this.schedule.T }, (_, i) => this.schedule.T - 1 - i);
  }
  needsNoise(i: number): boolean {
    return this.timesteps[i] > 0;
  }
  step(
    i: number,
    pred: Float32Array,
    x: Float32Array,
    noise: Float32Array | undefined,
    out: Float32Array,
  ): Float32Array {
    const t = this.timesteps[i];
    if (this.x0.length !== x.length) this.x0 = new Float32Array(x.length);
    const x0 = this.schedule.predictX0(pred, x, t, this.prediction, this.x0);
    const c1 = this.schedule.posteriorMeanCoef1[t];
    const c2 = this.schedule.posteriorMeanCoef2[t];
    const sd = Math.exp(0.5 * this.schedule.posteriorLogVarianceClipped[t]);
    for (let j = 0; j < x.length; j++) {
      const mean = c1 * x0[j] + c2 * x[j];
      out[j] = t === 0 || !noise ? mean : mean + sd * noise[j];
    }
    return out;
  }
}

/** DDIM (Song et al. 2021): any number of steps >= 1; eta = 0 deterministic, eta = 1 ~ DDPM variance. */
export class DdimSampler implements Sampler {
  timesteps: number[] = [];
  private x0: Float32Array = new Float32Array(0);
  constructor(
    private readonly schedule: Schedule,
    private readonly prediction: Prediction,
    private readonly eta: number,
    steps = 10,
  ) {
    this.setTimesteps(steps);
  }
  /** Evenly spaced from T-1 down to 0 (numpy round-half-even on linspace, like the Python side). */
  setTimesteps(n: number): void {
    const T = this.schedule.T;
    if (!(n >= 1)) throw new RangeError(`DDIM needs at least 1 step, got ${n}`);
    if (n >= T) {
      this.timesteps = Array.from({ length: T }, (_, i) => T - 1 - i);
      return;
    }
    const ts: number[] = [];
    for (let i = 0; i < n; i++) {
      const v = n === 1 ? T - 1 : T - 1 - (i * (T - 1)) / (n - 1);
      const r = Math.round(v);
      ts.push(Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r);
    }
    this.timesteps = ts;
  }
  needsNoise(i: number): boolean {
    return this.eta > 0 && i + 1 < this.timesteps.length;
  }
  step(
    i: number,
    pred: Float32Array,
    x: Float32Array,
    noise: Float32Array | undefined,
    out: Float32Array,
  ): Float32Array {
    const t = this.timesteps[i];
    const tPrev = i + 1 < this.timesteps.length ? this.timesteps[i + 1] : -1;
    if (this.x0.length !== x.length) this.x0 = new Float32Array(x.length);
    const x0 = this.schedule.predictX0(pred, x, t, this.prediction, this.x0);
    if (tPrev < 0) {
      out.set(x0);
      return out;
    }
    const ab = this.schedule.alphasCumprod[t];
    const abPrev = this.schedule.alphasCumprod[tPrev];
    const sigma = this.eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
    const dirCoef = Math.sqrt(Math.max(1 - abPrev - sigma * sigma, 0));
    const sa = Math.sqrt(ab);
    const s1 = Math.sqrt(1 - ab);
    const saPrev = Math.sqrt(abPrev);
    for (let j = 0; j < x.length; j++) {
      const eps = (x[j] - sa * x0[j]) / s1;
      out[j] = saPrev * x0[j] + dirCoef * eps + (noise && sigma > 0 ? sigma * noise[j] : 0);
    }
    return out;
  }
}
