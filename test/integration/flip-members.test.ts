import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelFrame } from '../../core/src/model-frame.ts';
import { batchSampler, mirrorColumns } from '../../workers/src/engine/sample-batch.ts';
import type { LoadedModel } from '../../workers/src/engine/session.ts';
import { shippedModelOnSlice } from '../helpers/model-slice.ts';

/**
 * `recommended.flipMembers` (core/src/manifest.ts) on the shipped v2 network and a real TCGA-LGG
 * slice: an odd-numbered member must be exactly the unflipped sampler's member run on the
 * left-right mirrored slice, mirrored back; an even-numbered member must not change.
 */
describe('flipped ensemble members', () => {
  const MEMBERS = 4;
  const run = { samplerName: 'ddim' as const, steps: 3, eta: 1, seed: 5 };
  const hooks = { isCancelled: () => false };
  let model: LoadedModel;
  let frame: ModelFrame;
  let k: number;
  beforeAll(async () => {
    ({ model, frame, k } = await shippedModelOnSlice());
  }, 60_000);

  const sample = async (m: LoadedModel, f: ModelFrame) => {
    const x = await batchSampler(m, f, MEMBERS, run, hooks, () => {}).sample([k]);
    if (x === 'cancelled') throw new Error('cancelled');
    return x[0];
  };
  const maxDiff = (a: Float32Array, b: Float32Array) =>
    a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

  it('mirrors the odd members only, and their chain runs wholly on the mirrored slice', async () => {
    const [H, W] = frame.inputSize;
    const HW = H * W;
    // the shipped manifest may set the option either way: both settings are made explicit here
    // (and the first step is not shared: a shared step's x0 is its kind's first member's)
    const withOption = (flipMembers: boolean): LoadedModel => ({
      ...model,
      manifest: {
        ...model.manifest,
        recommended: { ...model.manifest.recommended, flipMembers, shareFirstStep: false },
      },
    });
    const flipped = withOption(true);
    const unflipped = withOption(false);
    const mirroredFrame: ModelFrame = {
      ...frame,
      input: (kk) => {
        const inp = frame.input(kk);
        return mirrorColumns(inp, W, new Float32Array(inp.length));
      },
    };
    const plain = await sample(unflipped, frame);
    const onMirrored = await sample(unflipped, mirroredFrame);
    const withFlip = await sample(flipped, frame);
    const member = (x: Float32Array, m: number) => x.subarray(m * HW, (m + 1) * HW);
    for (let m = 0; m < MEMBERS; m++) {
      const expected =
        m % 2 === 1 ? mirrorColumns(member(onMirrored, m), W, new Float32Array(HW)) : member(plain, m);
      expect(maxDiff(member(withFlip, m), expected), `member ${m}`).toBeLessThan(1e-4);
    }
    // the network is not exactly mirror-symmetric, so flipping changes the odd members
    expect(maxDiff(member(withFlip, 1), member(plain, 1))).toBeGreaterThan(0.01);
  }, 120_000);

  it('mirrorColumns reverses each row of every plane', () => {
    const src = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i);
    expect([...mirrorColumns(src, 3, new Float32Array(12))]).toEqual([2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9]);
  });
});
