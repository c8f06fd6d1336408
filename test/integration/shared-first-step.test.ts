import { beforeAll, describe, expect, it } from 'vitest';
import { Schedule } from '../../core/src/diffusion/schedule.ts';
import { batchSampler, isSharedStep } from '../../workers/src/engine/sample-batch.ts';
import type { LoadedModel } from '../../workers/src/engine/session.ts';
import { shippedModelOnSlice } from '../helpers/model-slice.ts';

/**
 * `recommended.shareFirstStep` (core/src/manifest.ts) on the shipped v2 network and a real
 * TCGA-LGG slice: at t = 999 the members of one kind (unflipped, flipped) share one network run;
 * each keeps its own noise afterwards.
 */
describe('members sharing the first step', () => {
  const MEMBERS = 4;
  let on: Awaited<ReturnType<typeof shippedModelOnSlice>>;
  beforeAll(async () => {
    on = await shippedModelOnSlice();
  }, 60_000);

  // the shipped manifest may set the options either way: both are made explicit here; one network
  // (a deep ensemble shares per network and kind: test/integration/deep-ensemble.test.ts)
  const withOptions = (shareFirstStep: boolean): LoadedModel => ({
    ...on.model,
    sessions: on.model.sessions.slice(0, 1),
    manifest: {
      ...on.model.manifest,
      recommended: { ...on.model.manifest.recommended, flipMembers: true, shareFirstStep },
    },
  });
  const sample = async (m: LoadedModel, steps: number) => {
    const run = { samplerName: 'ddim' as const, steps, eta: 1, seed: 3 };
    const s = batchSampler(m, on.frame, MEMBERS, run, { isCancelled: () => false }, () => {});
    const x = await s.sample([on.k]);
    if (x === 'cancelled') throw new Error('cancelled');
    return { x: x[0], fraction: s.frameFraction };
  };
  const maxDiff = (a: Float32Array, b: Float32Array) =>
    a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

  it('shares t = 999 only: √ᾱ is under 1% there and not at the next steps', () => {
    const schedule = Schedule.fromSpec(on.model.manifest.schedule);
    expect(isSharedStep(schedule, 999)).toBe(true);
    expect(isSharedStep(schedule, 749)).toBe(false);
    expect(isSharedStep(schedule, 666)).toBe(false);
  });

  it("gives each kind's first member's x0 to its kind, and runs 2 members instead of 4 there", async () => {
    const [H, W] = on.frame.inputSize;
    const HW = H * W;
    const member = (x: Float32Array, m: number) => x.subarray(m * HW, (m + 1) * HW);
    // one step (t = 999 only): the output is that step's x0
    const own = await sample(withOptions(false), 1);
    const shared = await sample(withOptions(true), 1);
    expect(maxDiff(member(shared.x, 0), member(own.x, 0))).toBeLessThan(1e-5);
    expect(maxDiff(member(shared.x, 1), member(own.x, 1))).toBeLessThan(1e-5);
    expect(maxDiff(member(shared.x, 2), member(shared.x, 0))).toBe(0);
    expect(maxDiff(member(shared.x, 3), member(shared.x, 1))).toBe(0);
    // without sharing, members of one kind differ by their noise even at t = 999
    expect(maxDiff(member(own.x, 2), member(own.x, 0))).toBeGreaterThan(1e-3);
    expect(shared.fraction / own.fraction).toBeCloseTo(2 / MEMBERS, 6);

    // four steps: only the first is shared, and the members still differ by their noise
    const own4 = await sample(withOptions(false), 4);
    const shared4 = await sample(withOptions(true), 4);
    expect(shared4.fraction / own4.fraction).toBeCloseTo((2 + 3 * MEMBERS) / (4 * MEMBERS), 6);
    expect(maxDiff(member(shared4.x, 2), member(shared4.x, 0))).toBeGreaterThan(0.01);
    expect(maxDiff(member(shared4.x, 3), member(shared4.x, 1))).toBeGreaterThan(0.01);
  }, 120_000);
});
