/**
 * The worklist's marker and the viewer's notice for a low-confidence case (renderer/src/lib/dataset.ts).
 * A case whose proposal is empty is flagged too (its members' agreement with an empty consensus is ~0:
 * 0.00-0.05 on four lesion-free heads, README _healthy_mirror_); it is said as what it is, an empty
 * proposal to check for a missed lesion, not as a proposal that "may have failed".
 */
import { describe, expect, it } from 'vitest';
import type { WorklistCase } from '../../core/src/api-dataset.ts';
import { NOTHING_PROPOSED } from '../../core/src/metrics.ts';
import { LOW_CONFIDENCE, lowConfidenceMarker, lowConfidenceNotice } from '../../renderer/src/lib/dataset.ts';

const flagged = (o: Partial<WorklistCase>): WorklistCase => ({
  name: 'c',
  path: '/d/c',
  status: 'proposed',
  secondsSpent: 0,
  lowConfidence: true,
  ...o,
});

describe('low-confidence marker and notice', () => {
  it('a proposal with a lesion: the members disagree, check it slice by slice', () => {
    const c = flagged({ lesionVolumeMl: 3.2, confidence: 0.778 });
    expect(lowConfidenceMarker(c)).toBe(LOW_CONFIDENCE);
    expect(lowConfidenceNotice(c)).toBe(
      'Low confidence: review this case first. Its ensemble members agree at only 0.77 (1 = full agreement), ' +
        'so the pre-labelled proposal may have failed: check it slice by slice.',
    );
  });

  it('an empty proposal: nothing proposed, check for a missed lesion', () => {
    const c = flagged({ lesionVolumeMl: 0, confidence: 0.047 });
    expect(lowConfidenceMarker(c)).toBe(`${LOW_CONFIDENCE} · ${NOTHING_PROPOSED}`);
    const notice = lowConfidenceNotice(c) ?? '';
    expect(notice).toMatch(/^Low confidence: review this case first\. Nothing was proposed/);
    expect(notice).toContain('(agreement 0.04)');
    expect(notice).toContain('a lesion the model missed');
    expect(notice).not.toContain('may have failed');
  });

  it('a case that is not flagged has no notice, whatever its proposal', () => {
    expect(
      lowConfidenceNotice(flagged({ lowConfidence: false, lesionVolumeMl: 0, confidence: 1 })),
    ).toBeUndefined();
  });
});
