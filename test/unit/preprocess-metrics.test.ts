import { describe, expect, it } from 'vitest';
import {
  binaryEntropy,
  dice,
  ensembleStats,
  hd95,
  uncertaintyScore,
  volumeMl,
} from '../../core/src/metrics.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { brainMask, modeValue, prepareCase, resizeBilinear, sliceInput } from '../../core/src/preprocess.ts';
import { Rng } from '../../core/src/rng.ts';
import { readManifest } from '../../workers/src/engine/session.ts';
import { loadFixture, maxAbsDiff } from '../helpers/fixtures.ts';
import { DATA, REPO } from '../helpers/paths.ts';

describe('preprocessing', () => {
  it('reproduces the Python-preprocessed real slice of the step fixture (not-mode mask, z-score, torch bilinear)', async () => {
    const fx = loadFixture('step');
    const dir = `${DATA}/${fx.meta.subject}`;
    const manifest = readManifest(`${REPO}/models/quorum-wt-2ch`);
    const flair = await loadVolume(`${dir}/Flair_subtrMeanDivStd.nii.gz`);
    const t1c = await loadVolume(`${dir}/T1c_subtrMeanDivStd.nii.gz`);
    const prepared = prepareCase({ flair, t1c }, manifest, 'pat0003');
    const ours = sliceInput(prepared, fx.meta.sliceIndex as number, manifest.preprocess.inputSize);
    const ref = fx.arrays.image.data.subarray(0, ours.length);
    expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-4);
    // the brain mask equals the expert brain mask shipped with the data
    const expert = await loadVolume(`${dir}/brainmask.nii.gz`);
    let diff = 0;
    for (let i = 0; i < expert.data.length; i++)
      if ((expert.data[i] > 0 ? 1 : 0) !== prepared.brain[i]) diff++;
    expect(diff / expert.data.length).toBeLessThan(1e-3);
  });

  it('names the missing sequence', async () => {
    const manifest = readManifest(`${REPO}/models/quorum-wt-2ch`);
    const flair = { dims: [2, 2, 1] as [number, number, number], data: new Float32Array(4) };
    expect(() => prepareCase({ flair }, manifest, '/cases/x')).toThrow(/\/cases\/x: .*missing: t1c/);
  });

  it('mode, mask and bilinear resize on hand-checkable inputs', () => {
    expect(modeValue([3, 1, 3, 2, 3])).toBe(3);
    expect([
      ...brainMask([
        [0, 0, 5, 0],
        [7, 7, 7, 1],
      ]),
    ]).toEqual([0, 0, 1, 1]);
    // 2x downsampling with align_corners=False is an exact 2x2 average
    const src = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect([...resizeBilinear(src, 4, 4, 2, 2)]).toEqual([3.5, 5.5, 11.5, 13.5]);
    // and upsampling clamps at the border
    expect([...resizeBilinear(Float32Array.from([0, 4]), 1, 2, 1, 4)]).toEqual([0, 1, 3, 4]);
  });
});

describe('metrics', () => {
  it('Dice, volumes, entropy', () => {
    expect(dice([1, 1, 0, 0], [1, 0, 1, 0])).toBeCloseTo(0.5);
    expect(dice([0, 0], [0, 0])).toBe(1);
    expect(volumeMl([1, 1, 1, 0], [2, 2, 2.5])).toBeCloseTo(0.03);
    expect(binaryEntropy(0.5)).toBeCloseTo(1);
    expect(binaryEntropy(0)).toBe(0);
  });

  it('HD95 of two cubes shifted by 3 voxels along an anisotropic axis is 3 * spacing', () => {
    const dims: [number, number, number] = [20, 20, 20];
    const a = new Uint8Array(8000);
    const b = new Uint8Array(8000);
    for (let k = 5; k < 12; k++)
      for (let j = 5; j < 12; j++) for (let i = 5; i < 12; i++) a[i + 20 * (j + 20 * k)] = 1;
    for (let k = 5; k < 12; k++)
      for (let j = 5; j < 12; j++) for (let i = 8; i < 15; i++) b[i + 20 * (j + 20 * k)] = 1;
    expect(hd95(a, b, dims, [2, 1, 1])).toBeCloseTo(6, 5);
    expect(hd95(a, a, dims, [1, 1, 1])).toBe(0);
    expect(Number.isNaN(hd95(a, new Uint8Array(8000), dims, [1, 1, 1]))).toBe(true);
  });

  it('ensemble statistics', () => {
    const s = ensembleStats([Float32Array.of(1, 0, 1), Float32Array.of(1, 0, 0)]);
    expect([...s.mean]).toEqual([1, 0, 0.5]);
    expect([...s.std]).toEqual([0, 0, 0.5]);
    expect([...s.mask]).toEqual([1, 0, 0]);
    expect(s.entropy[2]).toBeCloseTo(1);
    expect(uncertaintyScore(s.std, 2)).toBeCloseTo(1);
  });

  it('seeded RNG is reproducible and gaussian', () => {
    const a = new Rng(7).fillGaussian(new Float32Array(20000));
    const b = new Rng(7).fillGaussian(new Float32Array(20000));
    expect(maxAbsDiff(a, b)).toBe(0);
    const mean = a.reduce((x, y) => x + y, 0) / a.length;
    const v = a.reduce((x, y) => x + (y - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
    expect(maxAbsDiff(a, new Rng(8).fillGaussian(new Float32Array(20000)))).toBeGreaterThan(1);
  });

  it("the RNG's gaussians follow the normal distribution, tails included (ziggurat)", () => {
    const n = 400_000;
    const x = new Rng(11).fillGaussian(new Float32Array(n));
    // Φ by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
    const phi = (z: number) => {
      const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
      const poly =
        t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
      const erf = 1 - poly * Math.exp(-(z * z) / 2);
      return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
    };
    const sorted = Float64Array.from(x).sort();
    let ks = 0;
    for (let i = 0; i < n; i += 97) ks = Math.max(ks, Math.abs((i + 0.5) / n - phi(sorted[i])));
    expect(ks).toBeLessThan(0.004); // Kolmogorov-Smirnov: 99.9% bound at this n is 0.003
    let m2 = 0;
    let m4 = 0;
    for (const v of x) {
      m2 += v * v;
      m4 += v ** 4;
    }
    expect(m2 / n).toBeCloseTo(1, 1);
    expect(m4 / n).toBeGreaterThan(2.9); // kurtosis 3: the tails are there
    expect(m4 / n).toBeLessThan(3.1);
    for (const [z, expected] of [
      [1, 0.3173],
      [2, 0.0455],
      [3, 0.0027],
      [3.5, 0.000465],
    ]) {
      const beyond = x.reduce((c, v) => c + (Math.abs(v) > z ? 1 : 0), 0) / n;
      expect(Math.abs(beyond - expected), `P(|x| > ${z})`).toBeLessThan(4 * Math.sqrt(expected / n) + 1e-4);
    }
  });
});
