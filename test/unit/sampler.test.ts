import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DdimSampler, DdpmSampler } from '../../core/src/diffusion/samplers.ts';
import type { Prediction } from '../../core/src/diffusion/schedule.ts';
import { Schedule } from '../../core/src/diffusion/schedule.ts';
import { readManifest } from '../../workers/src/engine/session.ts';
import { loadFixture, maxAbsDiff } from '../helpers/fixtures.ts';
import { REPO } from '../helpers/paths.ts';

const MODEL_DIR = join(REPO, 'models', 'quorum-wt-2ch');
const manifest = readManifest(MODEL_DIR);
const schedule = Schedule.fromSpec(manifest.schedule);
const kind = manifest.prediction as Prediction;

function step(arr: Float32Array, i: number, n: number): Float32Array {
  return arr.subarray(i * n, (i + 1) * n);
}

describe('schedule', () => {
  it('equals the PyTorch schedule (float32 fixture)', () => {
    const fx = loadFixture('schedule');
    const pairs: [string, Float64Array][] = [
      ['betas', schedule.betas],
      ['alphas_cumprod', schedule.alphasCumprod],
      ['posterior_variance', schedule.posteriorVariance],
      ['posterior_log_variance_clipped', schedule.posteriorLogVarianceClipped],
      ['posterior_mean_coef1', schedule.posteriorMeanCoef1],
      ['posterior_mean_coef2', schedule.posteriorMeanCoef2],
    ];
    for (const [name, ours] of pairs) {
      const ref = fx.arrays[name].data;
      for (let t = 0; t < ours.length; t++)
        expect(Math.abs(ours[t] - ref[t]), `${name}[${t}]`).toBeLessThanOrEqual(
          2e-7 * Math.abs(ref[t]) + 1e-12,
        );
    }
  });
});

describe('DDIM', () => {
  for (const name of ['ddim', 'ddim-eta1']) {
    it(`${name}: every step reproduces PyTorch given the same predictions and noise`, () => {
      const fx = loadFixture(name);
      const steps = fx.meta.steps as number;
      const sampler = new DdimSampler(schedule, kind, fx.meta.eta as number, steps);
      expect(sampler.timesteps).toEqual(fx.meta.timesteps);
      const n = fx.arrays.x_T.data.length;
      let x = fx.arrays.x_T.data;
      for (let i = 0; i < steps; i++) {
        const noise = fx.arrays.noise ? step(fx.arrays.noise.data, i, n) : undefined;
        expect(sampler.needsNoise(i)).toBe(fx.arrays.noise !== undefined && i + 1 < steps);
        const { prev: out } = sampler.step(
          i,
          step(fx.arrays.preds.data, i, n),
          x,
          noise,
          new Float32Array(n),
        );
        expect(maxAbsDiff(out, step(fx.arrays.xs.data, i, n)), `step ${i}`).toBeLessThan(1e-5);
        x = step(fx.arrays.xs.data, i, n);
      }
    });
  }

  it('runs end to end with onnxruntime-node and matches the PyTorch 10-step sample to 1e-4', async () => {
    const fx = loadFixture('ddim');
    const session = await ort.InferenceSession.create(join(MODEL_DIR, manifest.file), {
      intraOpNumThreads: 2,
    });
    const sampler = new DdimSampler(schedule, kind, 0, fx.meta.steps as number);
    const { image, x_T } = fx.arrays;
    const n = x_T.data.length;
    let x: Float32Array = x_T.data.slice();
    const imageTensor = new ort.Tensor('float32', image.data, image.shape);
    for (let i = 0; i < sampler.timesteps.length; i++) {
      const out = await session.run({
        image: imageTensor,
        x_t: new ort.Tensor('float32', x, x_T.shape),
        t: new ort.Tensor('float32', Float32Array.of(sampler.timesteps[i]), [1]),
      });
      x = sampler.step(i, out.pred.data as Float32Array, x, undefined, new Float32Array(n)).prev;
    }
    const last = fx.arrays.xs.data.subarray((sampler.timesteps.length - 1) * n);
    expect(maxAbsDiff(x, last)).toBeLessThan(1e-4);
  });

  it('gives any number of steps >= 1, descending from T-1 to 0', () => {
    for (const n of [1, 2, 5, 25, 999, 1000]) {
      const s = new DdimSampler(schedule, kind, 0, n);
      expect(s.timesteps.length).toBe(Math.min(n, 1000));
      expect(s.timesteps[0]).toBe(999);
      if (n > 1) expect(s.timesteps.at(-1)).toBe(0);
      for (let i = 1; i < s.timesteps.length; i++) expect(s.timesteps[i]).toBeLessThan(s.timesteps[i - 1]);
    }
    expect(() => new DdimSampler(schedule, kind, 0, 0)).toThrow(/at least 1 step/);
  });
});

describe('DDPM (the paper sampler)', () => {
  it('reproduces single ancestral steps at t = 999, 500, 1, 0', () => {
    const fx = loadFixture('ddpm');
    const ts = fx.meta.t as number[];
    const sampler = new DdpmSampler(schedule, kind);
    expect(sampler.timesteps.length).toBe(1000);
    const n = fx.arrays.x_t.data.length / ts.length;
    for (const [j, t] of ts.entries()) {
      const i = sampler.timesteps.indexOf(t);
      const { prev: out } = sampler.step(
        i,
        step(fx.arrays.pred.data, j, n),
        step(fx.arrays.x_t.data, j, n),
        step(fx.arrays.noise.data, j, n),
        new Float32Array(n),
      );
      expect(maxAbsDiff(out, step(fx.arrays.x_prev.data, j, n)), `t=${t}`).toBeLessThan(1e-5);
      expect(sampler.needsNoise(i)).toBe(t > 0);
    }
  });
});
