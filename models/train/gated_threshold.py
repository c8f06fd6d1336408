"""A lower threshold where the members disagree (gated-threshold-plan.json), scored on saved site folds.

Per patient of each fold (quick_check.py --save: the mean probability; --out: the member-agreement
Dice, the app's case confidence C0): the proposal is mean >= T when C0 < G, else mean >= 0.5 as
today, and the shipped edge rule (contrast_grow.SETTINGS[1]) grows from it. Every setting of
SETTINGS is scored against the shipped one (T 0.5, no gate) after the edge rule; the summary applies
the plan's rule to the folds named by --choose-on and reports the others as the check.

  /usr/bin/python3 models/train/gated_threshold.py --fold CS runs/save-CS8000 runs/qc-CS8000-conf.json \
      --fold DU runs/save-DU8000 runs/qc-DU8000-conf-a.json,runs/qc-DU8000-conf-b.json \
      --fold HT runs/save-HT8000c runs/qc-HT8000-conf.json --choose-on CS DU --out r.json
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contrast_grow import SETTINGS as EDGE_SETTINGS, grow  # noqa: E402
from evaluate import dice  # noqa: E402
from fold_confidence import saved_patients  # noqa: E402

SHIPPED_EDGE = EDGE_SETTINGS[1]
SETTINGS = [dict(t=t, gate=g) for g in (0.93, 1.01) for t in (0.2, 0.3, 0.4)]
MIN_GAIN, MAX_LOSS = 0.005, 0.03  # the plan's rule


def fold_rows(site, saved, qc_files):
    rows = []
    for name, conf, (vols, truth, spacing, _), mean in saved_patients(saved, qc_files):
        t = truth > 0

        def scored(mask):
            return dice(grow(mask, mean, vols[0], spacing, **SHIPPED_EDGE)[0], t)

        base = scored(mean >= 0.5)  # contrast_grow.score_saved's proposal, as the fold figures
        row = dict(site=site, case=name, confidence=conf, shipped=base, settings=[])
        for s in SETTINGS:
            row['settings'].append(scored(mean >= s['t']) if conf < s['gate'] else base)
        print(site, name, f"C0 {conf:.3f} shipped {base:.3f}",
              ' '.join(f'{d - base:+.3f}' for d in row['settings']), flush=True)
        rows.append(row)
    return rows


def summarise(rows):
    out = dict(n=len(rows), shipped=float(np.mean([r['shipped'] for r in rows])),
               under_0_5_shipped=sum(r['shipped'] < 0.5 for r in rows), settings=[])
    for i, s in enumerate(SETTINGS):
        d = np.array([r['settings'][i] for r in rows])
        change = d - np.array([r['shipped'] for r in rows])
        out['settings'].append(dict(s, mean=float(d.mean()), gain=float(change.mean()), worst=float(change.min()),
                                    worst_case=rows[int(change.argmin())]['case'], under_0_5=int((d < 0.5).sum())))
    return out


def choose(summary):
    ok = [s for s in summary['settings'] if s['gain'] >= MIN_GAIN and s['worst'] >= -MAX_LOSS]
    if not ok:
        return None
    return max(ok, key=lambda s: (round(s['mean'], 6), s['t'], -s['gate']))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--fold', nargs=3, action='append', required=True, metavar=('SITE', 'SAVED', 'QC_JSONS'))
    ap.add_argument('--choose-on', nargs='+', required=True, help='the folds the setting is chosen on')
    ap.add_argument('--out')
    args = ap.parse_args()
    rows = [r for site, saved, qc in args.fold for r in fold_rows(site, saved, qc.split(','))]
    chosen_on = [r for r in rows if r['site'] in args.choose_on]
    check = [r for r in rows if r['site'] not in args.choose_on]
    result = dict(settings=SETTINGS, edge=SHIPPED_EDGE, rows=rows, choose_on=summarise(chosen_on))
    result['chosen'] = choose(result['choose_on'])
    if check:
        result['check'] = summarise(check)
    for k in ('choose_on', 'check'):
        if k in result:
            print(k, f"n {result[k]['n']} shipped {result[k]['shipped']:.4f} (<0.5: {result[k]['under_0_5_shipped']})")
            for s in result[k]['settings']:
                print(f"  T {s['t']} G {s['gate']}: mean {s['mean']:.4f} gain {s['gain']:+.4f} worst {s['worst']:+.3f} "
                      f"({s['worst_case']}) <0.5: {s['under_0_5']}")
    print('chosen', result['chosen'])
    if args.out:
        json.dump(result, open(args.out, 'w'), indent=1)


if __name__ == '__main__':
    main()
