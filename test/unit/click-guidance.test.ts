/**
 * Click guidance (issue 12): the x0 replacement in the samplers' step (DDIM eq. 12 and the DDPM
 * posterior with the guided x0, the network's ε kept) and the per-slice guide built from clicks.
 */
import { describe, expect, it } from 'vitest';
import { CLICK_GUIDANCE, clickGuide } from '../../core/src/click-guidance.ts';
import { DdimSampler, DdpmSampler, type X0Guide } from '../../core/src/diffusion/samplers.ts';
import { Schedule } from '../../core/src/diffusion/schedule.ts';
import type { ModelClick } from '../../core/src/prompts.ts';
import { Rng } from '../../core/src/rng.ts';

const schedule = Schedule.fromSpec({ kind: 'linear', timesteps: 1000, betaStart: 0.0001, betaEnd: 0.02 });
const n = 64;
const gaussian = (seed: number) => {
  const a = new Float32Array(n);
  new Rng(seed).fillGaussian(a);
  return a;
};
// x0 predictions inside [-1, 1] (so clipping does not enter), x_t and noise
const pred = gaussian(1).map((v) => Math.tanh(v));
const xt = gaussian(2);
const noise = gaussian(3);
const guide: X0Guide = {
  weight: Float32Array.from({ length: n }, (_, j) => (j % 4) / 3),
  target: Float32Array.from({ length: n }, (_, j) => (j % 2 ? 1 : -1)),
};

describe('x0 replacement in the sampler step', () => {
  it('DDIM: x_{t-1} moves by √ᾱ_{t-1} w (target - x0) and the network ε is kept', () => {
    const s = new DdimSampler(schedule, 'x0', 1, 5);
    const i = 1;
    const plain = s.step(i, pred, xt, noise, new Float32Array(n)).prev;
    const guided = s.step(i, pred, xt, noise, new Float32Array(n), guide);
    const saPrev = Math.sqrt(schedule.alphasCumprod[s.timesteps[i + 1]]);
    for (let j = 0; j < n; j++) {
      const want = plain[j] + saPrev * guide.weight[j] * (guide.target[j] - pred[j]);
      expect(guided.prev[j]).toBeCloseTo(want, 5);
      expect(guided.x0[j]).toBeCloseTo(pred[j] + guide.weight[j] * (guide.target[j] - pred[j]), 6);
    }
  });

  it('DDIM: the last step returns the guided x0; weight 0 changes nothing', () => {
    const s = new DdimSampler(schedule, 'x0', 1, 5);
    const last = s.step(4, pred, xt, undefined, new Float32Array(n), guide).prev;
    for (let j = 0; j < n; j++) if (guide.weight[j] === 1) expect(last[j]).toBe(guide.target[j]);
    const zero = { weight: new Float32Array(n), target: guide.target };
    const a = s.step(2, pred, xt, noise, new Float32Array(n)).prev;
    const b = s.step(2, pred, xt, noise, new Float32Array(n), zero).prev;
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
  });

  it('DDPM: the posterior mean takes the guided x0', () => {
    const s = new DdpmSampler(schedule, 'x0');
    const i = s.timesteps.indexOf(500);
    const plain = s.step(i, pred, xt, noise, new Float32Array(n)).prev;
    const guided = s.step(i, pred, xt, noise, new Float32Array(n), guide).prev;
    const c1 = schedule.posteriorMeanCoef1[500];
    for (let j = 0; j < n; j++)
      expect(guided[j]).toBeCloseTo(plain[j] + c1 * guide.weight[j] * (guide.target[j] - pred[j]), 5);
  });
});

describe('clickGuide', () => {
  const H = 30;
  const W = 30;
  const user: ModelClick = { slice: 4, row: 10, col: 12, positive: true };
  const carried: ModelClick = { slice: 4, row: 20, col: 20, positive: false, propagated: true };
  const g = { ...CLICK_GUIDANCE, width: { positive: 1, negative: 1 }, user: 1, propagated: 0.5 };

  it("a user's click pulls toward its sign with full weight at its pixel, fading with distance", () => {
    const out = clickGuide([user], H, W, 1.75, 0, 5, g)!;
    expect(out.weight[10 * W + 12]).toBeCloseTo(1, 6);
    expect(out.target[10 * W + 12]).toBe(1);
    expect(out.weight[10 * W + 16]).toBeLessThan(out.weight[10 * W + 13]);
    expect(out.weight[25 * W + 2]).toBe(0);
    expect(clickGuide([], H, W, 1.75, 0, 5, g)).toBeUndefined();
  });

  it('a propagated click steers with its own weight, and never at the last step', () => {
    const early = clickGuide([user, carried], H, W, 1.75, 0, 5, g)!;
    expect(early.weight[20 * W + 20]).toBeCloseTo(0.5, 6);
    expect(early.target[20 * W + 20]).toBe(-1);
    const last = clickGuide([user, carried], H, W, 1.75, 4, 5, g)!;
    expect(last.weight[20 * W + 20]).toBe(0);
    expect(last.weight[10 * W + 12]).toBeCloseTo(1, 6);
    expect(clickGuide([carried], H, W, 1.75, 4, 5, g)).toBeUndefined();
  });

  it('each sign has its own width', () => {
    const w = { ...g, width: { positive: 3, negative: 1 } };
    const neg: ModelClick = { ...user, positive: false };
    const pos = clickGuide([user], H, W, 1.75, 0, 5, w)!.weight[10 * W + 16];
    expect(pos).toBeCloseTo(Math.exp(-16 / (2 * (3 * 1.75) ** 2)), 6);
    expect(clickGuide([neg], H, W, 1.75, 0, 5, w)!.weight[10 * W + 16]).toBeCloseTo(
      Math.exp(-16 / (2 * 1.75 ** 2)),
      6,
    );
  });

  it('where a positive and a negative click overlap, the nearer one decides', () => {
    const neg: ModelClick = { slice: 4, row: 10, col: 18, positive: false };
    const out = clickGuide([user, neg], H, W, 1.75, 0, 5, g)!;
    expect(out.target[10 * W + 13]).toBe(1);
    expect(out.target[10 * W + 17]).toBe(-1);
  });
});
