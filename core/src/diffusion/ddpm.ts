import {
  applyGuide,
  type SamplerEntry,
  ScheduledSampler,
  type StepArgs,
  type StepOutput,
} from './sampler.ts';

/** The paper's ancestral sampler (Ho et al. 2020): all T steps, t = T-1 .. 0. */
export class DdpmSampler extends ScheduledSampler {
  constructor(...args: ConstructorParameters<typeof ScheduledSampler>) {
    super(...args);
    this.setTimesteps(this.schedule.T);
  }
  setTimesteps(_n: number): void {
    // DDPM is defined on every step; asking for fewer is a different sampler (use DDIM).
    this.timesteps = Array.from({ length: this.schedule.T }, (_, i) => this.schedule.T - 1 - i);
  }
  needsNoise(i: number): boolean {
    return this.timesteps[i] > 0;
  }
  /**
   * x_{t-1} ~ q(x_{t-1} | x_t, x0), the posterior of Ho et al. 2020 eq. 6-7:
   * mean = coef1 x0 + coef2 x_t, variance β̃_t (its log clipped at t = 0); no noise at t = 0.
   * A guide replaces x0 in the mean (X0Guide).
   */
  step(...[i, pred, x, noise, out, guide]: StepArgs): StepOutput {
    const t = this.timesteps[i];
    const x0 = this.predictX0(i, pred, x);
    if (guide) applyGuide(x0, guide);
    const c1 = this.schedule.posteriorMeanCoef1[t];
    const c2 = this.schedule.posteriorMeanCoef2[t];
    const sd = Math.exp(0.5 * this.schedule.posteriorLogVarianceClipped[t]);
    for (let j = 0; j < x.length; j++) {
      const mean = c1 * x0[j] + c2 * x[j];
      out[j] = t === 0 || !noise ? mean : mean + sd * noise[j];
    }
    return { prev: out, x0 };
  }
}

export const ddpm: SamplerEntry = {
  create: (schedule, prediction) => new DdpmSampler(schedule, prediction),
  fixedSteps: (T) => T,
};
