import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { networkFiles } from '../../core/src/manifest.ts';
import { readManifest } from '../../workers/src/engine/session.ts';
import { loadFixture, maxAbsDiff } from '../helpers/fixtures.ts';
import { REPO } from '../helpers/paths.ts';

const MODEL_DIR = join(REPO, 'models', 'quorum-wt-2ch');

describe('the v1 model (quorum-wt-2ch, kept as an option)', () => {
  const manifest = readManifest(MODEL_DIR);

  it('has a manifest the app can follow', () => {
    expect(manifest.channels).toEqual(['flair', 't1c']);
    expect(manifest.preprocess).toMatchObject({
      brainMask: 'not-mode',
      normalise: 'zscore-brain',
      resize: 'bilinear',
      sliceAxis: 2,
    });
    expect(manifest.preprocess.inputSize).toHaveLength(2);
    expect(manifest.schedule).toMatchObject({
      kind: 'linear',
      timesteps: 1000,
      betaStart: 1e-4,
      betaEnd: 0.02,
    });
    expect(['epsilon', 'x0', 'v']).toContain(manifest.prediction);
    expect(manifest.recommended.members).toBeGreaterThanOrEqual(1);
    expect(manifest.recommended.steps).toBeGreaterThanOrEqual(1);
    expect(manifest.training.heldOut).toContain('brats_2013_pat0003');
    expect(manifest.training.subjects).not.toContain('brats_2013_pat0003');
    expect(manifest.training.licence).toMatch(/CC BY-NC-SA/);
    expect(manifest.provenance?.onnxVsTorchMaxAbsError as number).toBeLessThan(1e-4);
  });

  it('is small enough to commit (<= 30 MB)', () => {
    expect(statSync(join(MODEL_DIR, manifest.file)).size).toBeLessThanOrEqual(30 * 1024 * 1024);
  });

  it('reproduces the PyTorch denoising step on a real held-out slice to 1e-4 in onnxruntime-node', async () => {
    const fx = loadFixture('step');
    const session = await ort.InferenceSession.create(join(MODEL_DIR, manifest.file), {
      intraOpNumThreads: 2,
    });
    const { image, x_t, t, pred } = fx.arrays;
    const out = await session.run({
      image: new ort.Tensor('float32', image.data, image.shape),
      x_t: new ort.Tensor('float32', x_t.data, x_t.shape),
      t: new ort.Tensor('float32', t.data, t.shape),
    });
    expect(out.pred.dims).toEqual(pred.shape);
    const err = maxAbsDiff(out.pred.data as Float32Array, pred.data);
    expect(err).toBeLessThan(1e-4);
    // the step is not trivial: the prediction differs from its input
    expect(maxAbsDiff(pred.data, x_t.data)).toBeGreaterThan(0.1);
  });
});

describe('the v2 model (the default)', () => {
  const dir = join(REPO, 'models', 'quorum-wt-v2');
  const manifest = readManifest(dir);

  it('has a manifest with the head-robust preprocessing, a held-out site, licences and metrics', () => {
    expect(manifest.channels).toEqual(['flair', 't1c']);
    expect(manifest.preprocess).toMatchObject({ kind: 'head-robust-v2', spacingMm: 2 });
    expect(manifest.prediction).toBe('x0');
    // leave-one-site-out: no TCGA-LGG patient of the held-out site FG in training, all of them held out
    expect(manifest.training.subjects.filter((s) => s.startsWith('TCGA_FG_'))).toEqual([]);
    expect(manifest.training.heldOut.filter((s) => s.startsWith('TCGA_FG_')).length).toBe(6);
    for (const s of manifest.training.heldOut) expect(manifest.training.subjects).not.toContain(s);
    expect(manifest.training.licence).toMatch(/TCGA-LGG/);
    expect(manifest.training.licence).toMatch(/CC BY-NC-SA/);
    expect(manifest.caseConfidence?.lowBelow).toBeGreaterThan(0);
    expect(manifest.caseConfidence?.lowBelow).toBeLessThan(1);
    expect(manifest.provenance?.onnxVsTorchMaxAbsError as number).toBeLessThan(1e-4);
    expect(Object.keys(manifest.metrics ?? {})).toContain('summary');
  });

  it('records, for each network of its ensemble, an ONNX check and a training set without held-out cases', () => {
    const networks = manifest.provenance?.networks as
      | { file: string; onnxVsTorchMaxAbsError: number; trainingConfig: { subjects: string[] } }[]
      | undefined;
    expect(networks?.map((n) => n.file)).toEqual(networkFiles(manifest));
    for (const n of networks ?? []) {
      expect(n.onnxVsTorchMaxAbsError, n.file).toBeLessThan(1e-4);
      // a network trained on another split would leak held-out patients into the pooled proposal
      expect([...n.trainingConfig.subjects].sort(), n.file).toEqual([...manifest.training.subjects].sort());
    }
  });

  it('is small enough to commit (<= 30 MB, every network together)', () => {
    const bytes = networkFiles(manifest).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    expect(bytes).toBeLessThanOrEqual(30 * 1024 * 1024);
  });

  it("refuses a manifest whose island or edge rule is malformed, naming the file (the shipped one's reads)", () => {
    expect(manifest.recommended.dropIslands).toEqual({ belowMl: 0.5, uncertaintyAtLeast: 0.2 });
    expect(manifest.recommended.growEdge).toBeDefined();
    const bad = mkdtempSync(join(tmpdir(), 'quorum-manifest-'));
    try {
      const shipped = readFileSync(join(dir, 'manifest.json'), 'utf8');
      const broken: [string, unknown][] = [
        ['dropIslands', { belowMl: '0.5', uncertaintyAtLeast: 0.2 }],
        ['growEdge', { alpha: 0.5, bandMm: 0, minProbability: 0.05 }],
      ];
      for (const [key, rule] of broken) {
        const text = JSON.parse(shipped);
        text.recommended[key] = rule;
        writeFileSync(join(bad, 'manifest.json'), JSON.stringify(text));
        expect(() => readManifest(bad)).toThrow(new RegExp(`recommended\\.${key} must be`));
        expect(() => readManifest(bad)).toThrow(
          expect.objectContaining({ file: join(bad, 'manifest.json') }),
        );
      }
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it('reproduces the PyTorch denoising step on a real held-out slice to 1e-4 in onnxruntime-node', async () => {
    const fx = loadFixture('step', 'quorum-wt-v2');
    const session = await ort.InferenceSession.create(join(dir, manifest.file), { intraOpNumThreads: 2 });
    const { image, x_t, t, pred } = fx.arrays;
    const out = await session.run({
      image: new ort.Tensor('float32', image.data, image.shape),
      x_t: new ort.Tensor('float32', x_t.data, x_t.shape),
      t: new ort.Tensor('float32', t.data, t.shape),
    });
    expect(maxAbsDiff(out.pred.data as Float32Array, pred.data)).toBeLessThan(1e-4);
    expect(maxAbsDiff(pred.data, x_t.data)).toBeGreaterThan(0.1);
  });
});
