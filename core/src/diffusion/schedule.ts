/**
 * The diffusion noise schedule: betas and everything derived from them, in float64, with the
 * names of improved-diffusion's gaussian_diffusion.py. The Python twin is models/train/diffusion.py;
 * test/fixtures/<model>/schedule.* keeps them equal.
 */
export interface ScheduleSpec {
  kind: 'linear' | 'cosine';
  timesteps: number;
  betaStart?: number;
  betaEnd?: number;
}

export type Prediction = 'epsilon' | 'x0' | 'v';

export function linearBetas(T: number, start = 1e-4, end = 0.02): Float64Array {
  const b = new Float64Array(T);
  // numpy.linspace: start + i * (end - start) / (T - 1), with the last value exact
  for (let i = 0; i < T; i++) b[i] = T === 1 ? start : start + (i * (end - start)) / (T - 1);
  if (T > 1) b[T - 1] = end;
  return b;
}

export function cosineBetas(T: number, s = 0.008, maxBeta = 0.999): Float64Array {
  const f = (t: number) => Math.cos(((t / T + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const b = new Float64Array(T);
  for (let i = 0; i < T; i++) b[i] = Math.min(1 - f(i + 1) / f(i), maxBeta);
  return b;
}

export class Schedule {
  readonly T: number;
  readonly betas: Float64Array;
  readonly alphasCumprod: Float64Array;
  readonly alphasCumprodPrev: Float64Array;
  readonly posteriorVariance: Float64Array;
  readonly posteriorLogVarianceClipped: Float64Array;
  readonly posteriorMeanCoef1: Float64Array;
  readonly posteriorMeanCoef2: Float64Array;

  constructor(betas: Float64Array) {
    const T = betas.length;
    this.T = T;
    this.betas = betas;
    this.alphasCumprod = new Float64Array(T);
    this.alphasCumprodPrev = new Float64Array(T);
    this.posteriorVariance = new Float64Array(T);
    this.posteriorLogVarianceClipped = new Float64Array(T);
    this.posteriorMeanCoef1 = new Float64Array(T);
    this.posteriorMeanCoef2 = new Float64Array(T);
    let ab = 1;
    for (let t = 0; t < T; t++) {
      this.alphasCumprodPrev[t] = ab;
      ab *= 1 - betas[t];
      this.alphasCumprod[t] = ab;
    }
    for (let t = 0; t < T; t++) {
      const ab = this.alphasCumprod[t];
      const abPrev = this.alphasCumprodPrev[t];
      this.posteriorVariance[t] = (betas[t] * (1 - abPrev)) / (1 - ab);
      this.posteriorMeanCoef1[t] = (betas[t] * Math.sqrt(abPrev)) / (1 - ab);
      this.posteriorMeanCoef2[t] = ((1 - abPrev) * Math.sqrt(1 - betas[t])) / (1 - ab);
    }
    // the posterior variance is 0 at t = 0; its log is clipped to the value at t = 1
    for (let t = 0; t < T; t++)
      this.posteriorLogVarianceClipped[t] = Math.log(this.posteriorVariance[t === 0 && T > 1 ? 1 : t]);
  }

  static fromSpec(s: ScheduleSpec): Schedule {
    return new Schedule(
      s.kind === 'linear' ? linearBetas(s.timesteps, s.betaStart, s.betaEnd) : cosineBetas(s.timesteps),
    );
  }

  /** Any parameterisation -> x0, clipped to the mask range [-1, 1]; written into `out`. */
  predictX0(
    pred: Float32Array,
    xt: Float32Array,
    t: number,
    kind: Prediction,
    out: Float32Array,
  ): Float32Array {
    const ab = this.alphasCumprod[t];
    const sa = Math.sqrt(ab);
    const s1 = Math.sqrt(1 - ab);
    for (let i = 0; i < xt.length; i++) {
      const x0 =
        kind === 'x0'
          ? pred[i]
          : kind === 'epsilon'
            ? (xt[i] - s1 * pred[i]) / sa
            : sa * xt[i] - s1 * pred[i];
      out[i] = x0 < -1 ? -1 : x0 > 1 ? 1 : x0;
    }
    return out;
  }
}
