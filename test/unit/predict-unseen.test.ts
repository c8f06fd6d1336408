/**
 * models/train/predict_unseen.py turns the site folds into the README's prediction and the model
 * card's numbers. Its intervals must be the textbook ones (the Wilson score interval as scipy computes
 * it, for every count a fold could give), and the committed unseen-prediction.json must be what the
 * script makes of the committed folds today (so the README and the card quote a reproducible figure).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PYTHON, REPO } from '../helpers/paths.ts';

const TRAIN = join(REPO, 'models', 'train');

describe('predict_unseen.py', () => {
  it("Wilson intervals equal scipy's for every k of n = 5, 23, 38", () => {
    const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(TRAIN)})
from predict_unseen import wilson
from scipy.stats import binomtest
worst = 0.0
for n in (5, 23, 38):
    for k in range(n + 1):
        ci = binomtest(k, n).proportion_ci(method='wilson')
        ours = wilson(k, n)
        worst = max(worst, abs(ours[0] - ci.low), abs(ours[1] - ci.high))
print(json.dumps(worst))
`;
    // ours are rounded to 3 decimals
    expect(JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' }))).toBeLessThanOrEqual(
      0.0005,
    );
  });

  it('the committed prediction is what the script makes of the committed folds', () => {
    const out = JSON.parse(execFileSync(PYTHON, [join(TRAIN, 'predict_unseen.py')], { encoding: 'utf8' }));
    const stored = JSON.parse(
      readFileSync(join(REPO, 'models', 'quorum-wt-v2', 'unseen-prediction.json'), 'utf8'),
    );
    expect(out).toEqual(stored);
    // and its pooled mean is the folds' patients' mean
    const folds = JSON.parse(
      readFileSync(join(REPO, 'models', 'quorum-wt-v2', 'case-confidence-folds.json'), 'utf8'),
    ).folds as Record<string, { cases: { dice: number }[] }>;
    const dice = Object.values(folds).flatMap((f) => f.cases.map((c) => c.dice));
    expect(out.patient.mean).toBeCloseTo(dice.reduce((a, b) => a + b, 0) / dice.length, 3);
  });
});
