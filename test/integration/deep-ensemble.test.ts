import { beforeAll, describe, expect, it } from 'vitest';
import { networkOfMember } from '../../core/src/manifest.ts';
import { batchSampler } from '../../workers/src/engine/sample-batch.ts';
import type { LoadedModel } from '../../workers/src/engine/session.ts';
import { shippedModelOnSlice } from '../helpers/model-slice.ts';

/**
 * The shipped deep ensemble (manifest "networks": networks trained apart, core/src/manifest.ts; 9.0.0
 * has three) on a real unseen-site TCGA-LGG slice: each member runs on its own block's network, with
 * the same noise it would have in a run of that network alone.
 */
describe('a deep ensemble of several networks', () => {
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

  it('is what the shipped model is: three networks of the same inputs', () => {
    expect(on.model.manifest.networks).toHaveLength(3);
    expect(on.model.sessions).toHaveLength(3);
    for (const s of on.model.sessions) expect(s.inputNames).toEqual(on.model.sessions[0].inputNames);
  });

  it("runs members 0-3, 4-6 and 7-9 on the first, second and third network, each as that network's own run would", async () => {
    const nets = on.model.sessions;
    const HW = on.frame.inputSize[0] * on.frame.inputSize[1];
    const all = await sample(variant(nets, false));
    const alone = [];
    for (const n of nets) alone.push(await sample(variant([n], false)));
    expect([0, 3, 4, 6, 7, 9].map((m) => networkOfMember(m, MEMBERS, nets.length))).toEqual([
      0, 0, 1, 1, 2, 2,
    ]);
    for (let slice = 0; slice < 2; slice++)
      for (let m = 0; m < MEMBERS; m++) {
        const net = networkOfMember(m, MEMBERS, nets.length);
        const member = (x: Float32Array) => x.subarray(m * HW, (m + 1) * HW);
        expect(maxDiff(member(all.x[slice]), member(alone[net].x[slice]))).toBe(0);
        // the networks differ: the test would see a member run on the wrong one
        for (let other = 0; other < nets.length; other++)
          if (other !== net)
            expect(maxDiff(member(all.x[slice]), member(alone[other].x[slice]))).toBeGreaterThan(0.05);
      }
  }, 300_000);

  it('shares the first step per network and kind: 6 network runs per slice there instead of 10', async () => {
    const nets = on.model.sessions;
    const HW = on.frame.inputSize[0] * on.frame.inputSize[1];
    const own = await sample(variant(nets, false));
    const shared = await sample(variant(nets, true));
    // 4 steps, the first with 2 rows (unflipped, flipped) per network, 6 of 10: (3 * 10 + 6) / (4 * 10)
    expect(shared.fraction / own.fraction).toBeCloseTo(36 / 40, 6);
    // the first network's leaders (member 0 unflipped, 1 flipped) are the same with or without the
    // others, so its members are those of the first network alone, sharing as well
    const aloneA = await sample(variant([nets[0]], true));
    for (let m = 0; m < 4; m++)
      expect(
        maxDiff(shared.x[0].subarray(m * HW, (m + 1) * HW), aloneA.x[0].subarray(m * HW, (m + 1) * HW)),
      ).toBe(0);
  }, 300_000);
});
