"""Does a case-level score flag the failures of a site the network never saw? (case-confidence-folds-plan.json)

Per site fold: each patient's Dice (raw, and after the shipped edge rule: what a user gets) against
  C0  the app's case confidence, the member-agreement Dice (quick_check.py --out writes it per patient)
  C1  1 - V_u / (V_p + V_u): V_p voxels with mean > 0.5, V_u voxels with 0.1 <= mean <= 0.5
  C2  1 - U / (U + V_p): U the sum of the members' std (voxels), V_p as C1
and, per fold and pooled: Spearman(score, Dice), the patients in the fold's lowest-scoring quarter, whether
the worst patient and every patient under Dice 0.5 are among them, and how many a threshold flags.

  /usr/bin/python3 models/train/fold_confidence.py --fold CS runs/save-CS8000 runs/qc-CS8000-conf.json \
      --fold DU runs/save-DU8000 runs/qc-DU8000-conf-a.json,runs/qc-DU8000-conf-b.json --out r.json
"""
import argparse
import json
import os
import sys

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contrast_grow import SETTINGS, grow  # noqa: E402
from datasets import all_cases, load_case  # noqa: E402
from evaluate import dice  # noqa: E402
from evaluate_v2 import lowest_quarter  # noqa: E402

SHIPPED_EDGE = SETTINGS[1]  # alpha 0.5, B 3 mm, pmin 0.05 (model 9.1.1's manifest)
SCORES = ('C0', 'C1', 'C2')
UNSURE = 0.1  # C1's lower bound: a mean this high means at least one member in ten (one in five here) says lesion


def uncertain_share(mean):
    p, u = int((mean > 0.5).sum()), int(((mean >= UNSURE) & (mean <= 0.5)).sum())
    return 1.0 - u / (p + u) if p + u else 1.0


def std_share(mean, std):
    p, u = float((mean > 0.5).sum()), float(std.sum())
    return 1.0 - u / (u + p) if u + p else 1.0


def saved_patients(saved, qc_files):
    """Each patient of a saved fold run: (name, its confidence, load_case's (vols, truth, spacing, _), the mean
    probability) for every patient in the quick_check.py --out files, from the --save folder `saved`."""
    conf = {}
    for f in qc_files:
        q = json.load(open(f))
        if not q.get('confidence'):
            sys.exit(f'{f}: no per-patient confidence (written by a quick_check.py older than this check?)')
        conf.update(q['confidence'])
    by_name = {c['name']: c for c in all_cases()}
    for name in sorted(conf):
        path = os.path.join(saved, name + '.npy')
        if not os.path.exists(path):
            sys.exit(f'{path}: missing (quick_check.py --save into {saved} for this patient)')
        yield name, conf[name], load_case(by_name[name]), np.load(path).astype(np.float32)


def patient_rows(saved, qc_files):
    rows = []
    for name, conf, (vols, truth, spacing, _), mean in saved_patients(saved, qc_files):
        std = np.load(os.path.join(saved, 'std', name + '.npy')).astype(np.float32)
        t = truth > 0
        # grown from mean >= 0.5 as contrast_grow.score_saved grew the folds (the README's figures with the rule)
        grown, _ = grow(mean >= 0.5, mean, vols[0], spacing, **SHIPPED_EDGE)
        rows.append(dict(case=name, dice_raw=dice(mean > 0.5, t), dice=dice(grown, t), C0=conf,
                         C1=uncertain_share(mean), C2=std_share(mean, std), reference_ml=float(t.sum() * np.prod(spacing) / 1000)))
        print(' '.join(f'{k} {v:.3f}' if isinstance(v, float) else str(v) for k, v in rows[-1].items()), flush=True)
    return rows


def summary(rows):
    out = {}
    worst = min(rows, key=lambda r: r['dice'])['case']
    failed = [r['case'] for r in rows if r['dice'] < 0.5]
    for s in SCORES:
        low = [rows[i]['case'] for i in lowest_quarter(np.array([r[s] for r in rows]))]
        out[s] = dict(spearman=float(spearmanr([r[s] for r in rows], [r['dice'] for r in rows]).correlation),
                      spearman_raw=float(spearmanr([r[s] for r in rows], [r['dice_raw'] for r in rows]).correlation),
                      lowest_quarter=low, worst_in_quarter=worst in low, failed_in_quarter=[c in low for c in failed])
    out['C0']['flagged_at_0.93'] = [r['case'] for r in rows if r['C0'] < 0.93]
    return dict(worst=worst, under_0_5=failed, **out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--fold', nargs=3, action='append', required=True, metavar=('SITE', 'SAVED', 'QC_JSONS'),
                    help='a site, its quick_check.py --save folder and its --out files (comma-separated)')
    ap.add_argument('--out')
    args = ap.parse_args()
    folds, pooled = {}, []
    for site, saved, qc in args.fold:
        rows = patient_rows(saved, qc.split(','))
        folds[site] = dict(cases=rows, **summary(rows))
        pooled += rows
    result = dict(folds=folds, pooled=summary(pooled), n=len(pooled))
    for k, v in [*((s, f) for s, f in folds.items()), ('pooled', result['pooled'])]:
        print(k, ' '.join(f"{s} rho {v[s]['spearman']:.2f} worst-in-q {v[s]['worst_in_quarter']} "
                          f"fails-in-q {sum(v[s]['failed_in_quarter'])}/{len(v['under_0_5'])};" for s in SCORES))
    if args.out:
        json.dump(result, open(args.out, 'w'), indent=1)


if __name__ == '__main__':
    main()
