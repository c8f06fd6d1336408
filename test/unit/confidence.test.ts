import { describe, expect, it } from 'vitest';
import {
  caseConfidence,
  DEFAULT_LOW_CONFIDENCE,
  lowConfidenceThreshold,
  sliceAgreement,
} from '../../core/src/metrics.ts';

/** Mean over members, as the engine computes it. */
const meanOf = (ms: number[][]) => ms[0].map((_, i) => ms.reduce((s, m) => s + m[i], 0) / ms.length);

describe('member-agreement confidence', () => {
  it('counts a slice: member masks (p > 0.5) against the consensus (mean > 0.5)', () => {
    // 6 pixels, 3 members. Means: .9 .7 .4 .6 .1 .5 -> consensus 1 1 0 1 0 0 (0.5 is not > 0.5)
    const ms = [
      [1.0, 0.9, 0.6, 0.8, 0.0, 0.5],
      [0.9, 0.6, 0.3, 0.2, 0.3, 0.9],
      [0.8, 0.6, 0.3, 0.8, 0.0, 0.1],
    ];
    const mean = meanOf(ms);
    const s = sliceAgreement(ms, mean);
    // member masks: 1 1 1 1 0 0 | 1 1 0 0 0 1 | 1 1 0 1 0 0
    expect(s).toEqual({ intersection: 3 + 2 + 3, memberArea: 4 + 3 + 3, consensusArea: 3, members: 3 });
    // 2 * 8 / (10 + 3 * 3)
    expect(caseConfidence([s])).toBeCloseTo(16 / 19, 12);
  });

  it('pools slices before dividing (not a mean of slice Dices)', () => {
    const a = { intersection: 10, memberArea: 10, consensusArea: 5, members: 2 }; // slice Dice 1
    const b = { intersection: 0, memberArea: 2, consensusArea: 0, members: 2 }; // slice Dice 0
    expect(caseConfidence([a, b])).toBeCloseTo(20 / 22, 12);
    expect(caseConfidence([b])).toBe(0);
  });

  it('is 1 when all members agree, and when nothing is proposed anywhere', () => {
    const m = [0, 0.9, 0.8, 0.1];
    const agree = sliceAgreement([m, m, m], m);
    expect(agree).toEqual({ intersection: 6, memberArea: 6, consensusArea: 2, members: 3 });
    expect(caseConfidence([agree])).toBe(1);
    const empty = sliceAgreement(
      [
        [0, 0.2],
        [0.4, 0.1],
      ],
      [0.2, 0.15],
    );
    expect(empty).toEqual({ intersection: 0, memberArea: 0, consensusArea: 0, members: 2 });
    expect(caseConfidence([empty, empty])).toBe(1);
    expect(caseConfidence([])).toBe(1);
  });

  it('falls as members drift apart', () => {
    // two members with lesions that overlap less and less
    const conf = (shift: number) => {
      const a = Array.from({ length: 20 }, (_, i) => (i >= 5 && i < 10 ? 1 : 0));
      const b = Array.from({ length: 20 }, (_, i) => (i >= 5 + shift && i < 10 + shift ? 1 : 0));
      const mean = meanOf([a, b]);
      return caseConfidence([sliceAgreement([a, b], mean)]);
    };
    expect(conf(0)).toBe(1);
    // mean of 0/1 masks is 1 only where both agree, so c = a ∧ b: Dice = 2*2|a∧b| / (10 + 2|a∧b|)
    expect(conf(2)).toBeCloseTo(12 / 16, 12);
    expect(conf(5)).toBe(0);
    expect(conf(1)).toBeGreaterThan(conf(2));
  });

  it('rejects a member of another size', () => {
    expect(() => sliceAgreement([[1, 0]], [1, 0, 0])).toThrow(RangeError);
  });

  it("takes the threshold from the model's manifest, else 0.8", () => {
    expect(DEFAULT_LOW_CONFIDENCE).toBe(0.8);
    expect(lowConfidenceThreshold(undefined)).toBe(0.8);
    expect(lowConfidenceThreshold({})).toBe(0.8);
    expect(lowConfidenceThreshold({ caseConfidence: { lowBelow: 0.65 } })).toBe(0.65);
    expect(lowConfidenceThreshold({ caseConfidence: { lowBelow: 'x' } })).toBe(0.8);
  });
});
