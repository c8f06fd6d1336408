import {
  applyGuide,
  type SamplerEntry,
  ScheduledSampler,
  type StepArgs,
  type StepOutput,
} from './sampler.ts';
import type { Prediction, Schedule } from './schedule.ts';

/** DDIM (Song et al. 2021): any number of steps >= 1; η = 0 deterministic, η = 1 ~ DDPM variance. */
export class DdimSampler extends ScheduledSampler {
  constructor(
    schedule: Schedule,
    prediction: Prediction,
    private readonly eta: number,
    steps = 10,
  ) {
    super(schedule, prediction);
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
  /**
   * Song et al. 2021 eq. 12: x_{t-1} = √ᾱ_{t-1} x0 + √(1 - ᾱ_{t-1} - σ_t²) ε + σ_t z, with
   * ε = (x_t - √ᾱ_t x0) / √(1 - ᾱ_t) and σ_t = η √((1 - ᾱ_{t-1}) / (1 - ᾱ_t)) √(1 - ᾱ_t / ᾱ_{t-1})
   * (eq. 16). The last step returns x0. With a guide, ε is the network's (from its own x0) and
   * the guided x0 takes the first term (X0Guide: replacement).
   */
  step(...[i, pred, x, noise, out, guide]: StepArgs): StepOutput {
    const t = this.timesteps[i];
    const tPrev = i + 1 < this.timesteps.length ? this.timesteps[i + 1] : -1;
    const x0 = this.predictX0(i, pred, x);
    if (tPrev < 0) {
      if (guide) applyGuide(x0, guide);
      out.set(x0);
      return { prev: out, x0 };
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
      if (guide) x0[j] += guide.weight[j] * (guide.target[j] - x0[j]);
      out[j] = saPrev * x0[j] + dirCoef * eps + (noise && sigma > 0 ? sigma * noise[j] : 0);
    }
    return { prev: out, x0 };
  }
}

export const ddim: SamplerEntry = {
  create: (schedule, prediction, opts) => new DdimSampler(schedule, prediction, opts.eta, opts.steps),
};
