import { beforeAll, describe, expect, it } from 'vitest';
import { networkOfMember } from '../../core/src/manifest.ts';
import { batchSampler } from '../../workers/src/engine/sample-batch.ts';
import type { LoadedModel } from '../../workers/src/engine/session.ts';
import { shippedModelOnSlice } from '../helpers/model-slice.ts';

/**
 * The shipped deep ensemble (manifest "networks": two networks trained apart, core/src/manifest.ts)
 * on a real unseen-site TCGA-LGG slice: each member runs on its own block's network, with the same
 * noise it would have in a run of that network alone.
 */
describe('a deep ensemble of two networks', () => {
  const MEMBERS = 10;
  let on: Awaited<ReturnType<typeof shippedModelOnSlice>>;
  beforeAll(async () => {
    on = await shippedModelOnSlice();
  }, 60_000);

  const variant = (sessions: LoadedModel['sessions'], shareFirstStep: boolean): LoadedModel => ({
    ...on.model,
    sessions,
    manifest: {
      ...on.model.manifest,
      recommended: { ...on.model.manifest.recommended, flipMembers: true, shareFirstStep },
    },
  });
  const sample = async (m: LoadedModel) => {
    const run = { samplerName: 'ddim' as const, steps: 4, eta: 1, seed: 5 };
    const s = batchSampler(m, on.frame, MEMBERS, run, { isCancelled: () => false }, () => {});
    // two slices in one batch: rows of both are gathered per network and scattered back
    const x = await s.sample([on.k, on.k + 1]);
    if (x === 'cancelled') throw new Error('cancelled');
    return { x, fraction: s.frameFraction };
  };
  const maxDiff = (a: Float32Array, b: Float32Array) =>
    a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

  it('is what the shipped model is: two networks of the same inputs', () => {
    expect(on.model.manifest.networks).toHaveLength(2);
    expect(on.model.sessions).toHaveLength(2);
    expect(on.model.sessions[1].inputNames).toEqual(on.model.sessions[0].inputNames);
  });

  it("runs members 0-4 on the first network and 5-9 on the second, each as that network's own run would", async () => {
    const [a, b] = on.model.sessions;
    const HW = on.frame.inputSize[0] * on.frame.inputSize[1];
    const pair = await sample(variant([a, b], false));
    const alone = [await sample(variant([a], false)), await sample(variant([b], false))];
    for (let slice = 0; slice < 2; slice++)
      for (let m = 0; m < MEMBERS; m++) {
        const net = networkOfMember(m, MEMBERS, 2);
        const member = (x: Float32Array) => x.subarray(m * HW, (m + 1) * HW);
        expect(maxDiff(member(pair.x[slice]), member(alone[net].x[slice]))).toBe(0);
        // the two networks differ: the test would see a member run on the wrong one
        expect(maxDiff(member(pair.x[slice]), member(alone[1 - net].x[slice]))).toBeGreaterThan(0.05);
      }
  }, 300_000);

  it('shares the first step per network and kind: 4 network runs per slice there instead of 10', async () => {
    const [a, b] = on.model.sessions;
    const HW = on.frame.inputSize[0] * on.frame.inputSize[1];
    const own = await sample(variant([a, b], false));
    const shared = await sample(variant([a, b], true));
    // 4 steps, the first with 4 of 10 rows: (3 * 10 + 4) / (4 * 10)
    expect(shared.fraction / own.fraction).toBeCloseTo(34 / 40, 6);
    // the first network's leaders (member 0 unflipped, 1 flipped) are the same with or without the
    // second, so its members are those of the first network alone, sharing as well
    const aloneA = await sample(variant([a], true));
    for (let m = 0; m < 5; m++)
      expect(
        maxDiff(shared.x[0].subarray(m * HW, (m + 1) * HW), aloneA.x[0].subarray(m * HW, (m + 1) * HW)),
      ).toBe(0);
  }, 300_000);
});
