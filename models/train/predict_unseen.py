"""What the site folds predict for a patient of a hospital the model never saw, with intervals.

The three leave-one-site-out folds of TCGA-LGG (case-confidence-folds.json: one network per fold trained
on the other sites, 5 members, the shipped edge rule; 38 patients of CS, DU and HT) are the data closest
to "a new site's scans as they come from the scanner". This turns them into the README's prediction:
the distribution of a new patient's Dice, the share of failures with a Wilson interval, how that depends
on the lesion's size, what the case confidence's flag (< 0.93) says about a patient, and how far a site's
mean strays from another's. The unseen site FG scored by the shipped model (manifest metrics, method
v<version>: three networks, 10 members) is reported beside them, not pooled: a different protocol.

  /usr/bin/python3 models/train/predict_unseen.py [--out models/quorum-wt-v2/unseen-prediction.json]
"""
import argparse
import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.normpath(os.path.join(HERE, '..', 'quorum-wt-v2'))
LOW_CONFIDENCE = 0.93  # the manifest's caseConfidence.lowBelow
SMALL_ML = 5.0  # lesions under this volume are where the folds' failures are


def wilson(k, n, z=1.96):
    """95% Wilson score interval of a proportion k/n (sound at k = 0 and for small n)."""
    if n == 0:
        return [0.0, 1.0]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)]


def share(dice, below):
    k = int(np.sum(dice < below))
    return {'count': f'{k} of {len(dice)}', 'share': round(k / len(dice), 3), 'ci95': wilson(k, len(dice))}


def pooled_mean_ci(by_site, rng, n_boot=10000):
    """Mean over patients, 95% interval resampling patients within each site (the sites held fixed)."""
    means = []
    for _ in range(n_boot):
        draw = [rng.choice(d, size=len(d), replace=True) for d in by_site.values()]
        means.append(np.concatenate(draw).mean())
    return [round(float(np.percentile(means, 2.5)), 3), round(float(np.percentile(means, 97.5)), 3)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--folds', default=os.path.join(MODEL, 'case-confidence-folds.json'))
    ap.add_argument('--manifest', default=os.path.join(MODEL, 'manifest.json'))
    ap.add_argument('--out', help='write the prediction as JSON here')
    args = ap.parse_args()
    folds = json.load(open(args.folds))['folds']
    cases = [dict(c, site=s) for s, f in folds.items() for c in f['cases']]
    dice = np.array([c['dice'] for c in cases])
    conf = np.array([c['C0'] for c in cases])
    ml = np.array([c['reference_ml'] for c in cases])
    by_site = {s: np.array([c['dice'] for c in f['cases']]) for s, f in folds.items()}
    flagged = conf < LOW_CONFIDENCE
    small = ml < SMALL_ML
    site_means = {s: round(float(d.mean()), 3) for s, d in by_site.items()}
    manifest = json.load(open(args.manifest))
    shipped = 'v' + manifest['version']  # the shipped model's method name in its metrics
    fg = [c['methods'][shipped] for c in manifest['metrics']['cases']
          if c.get('role') == 'held-out site' and shipped in c['methods']]
    out = {
        'what': __doc__.split('\n\n')[0],
        'data': f'{len(cases)} patients of {len(folds)} site folds ({", ".join(f"{s} {len(d)}" for s, d in by_site.items())})',
        'patient': {
            'mean': round(float(dice.mean()), 3),
            'mean_ci95_patients_resampled': pooled_mean_ci(by_site, np.random.default_rng(0)),
            'median': round(float(np.median(dice)), 3),
            'p10': round(float(np.percentile(dice, 10)), 3),
            'below_0_5': share(dice, 0.5),
            'below_0_7': share(dice, 0.7),
        },
        'by_lesion_size': {
            f'under {SMALL_ML:g} mL': {'patients': int(small.sum()), 'mean': round(float(dice[small].mean()), 3),
                                       'below_0_5': share(dice[small], 0.5)},
            f'{SMALL_ML:g} mL or more': {'patients': int((~small).sum()), 'mean': round(float(dice[~small].mean()), 3),
                                         'below_0_5': share(dice[~small], 0.5)},
        },
        'flag': {
            'flagged': f'{int(flagged.sum())} of {len(dice)}',
            'flagged_mean': round(float(dice[flagged].mean()), 3),
            'unflagged_mean': round(float(dice[~flagged].mean()), 3),
            'unflagged_below_0_7': share(dice[~flagged], 0.7),
            'below_0_7_flagged': f'{int((flagged & (dice < 0.7)).sum())} of {int((dice < 0.7).sum())}',
        },
        'sites': {
            'means': site_means,
            'spread': round(max(site_means.values()) - min(site_means.values()), 3),
            'fg_shipped_model': {'patients': len(fg), 'mean': round(float(np.mean([m['dice'] for m in fg])), 3)}
            if fg else None,
        },
    }
    print(json.dumps(out, indent=1))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=1)
            f.write('\n')


if __name__ == '__main__':
    main()
