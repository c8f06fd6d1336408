"""Apply a candidate's ship rule, written before its run, to evaluate_v2.py's output.

  /usr/bin/python3 models/train/ship_check.py --metrics runs/metrics-v4.json --candidate v4-w24 \
      --plan models/quorum-wt-v2/v4-width24-plan.json

The rule compares the candidate with the shipped model's rows in the manifest (the same held-out
cases: the 15, or those evaluate_v2.py --add-held-out leaves; same app, same sampler settings). The
Dice, AUROC and per-case floors are read from the plan's "thresholds" so the rule stays where it was
written; the speed criterion (10 members per slice) is npm run bench's and is printed as a reminder,
not checked here.
Exit status 0 when every checked criterion holds, 1 otherwise.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(__file__)
MANIFEST = os.path.join(HERE, '..', 'quorum-wt-v2', 'manifest.json')


def check(metrics, manifest, candidate, shipped, t):
    summary = metrics['summary']
    shipped_rows = {c['case']: c['methods'][shipped] for c in manifest['metrics']['cases']}
    results = []

    def add(name, value, bar, ok):
        results.append(dict(criterion=name, value=value, bar=bar, ok=bool(ok)))

    for name, group, key, bar in (('held-out mean Dice', 'all held-out', 'dice', 'mean_dice'),
                                  ('unseen site FG Dice', 'TCGA-LGG unseen site (FG)', 'dice', 'fg_dice'),
                                  ('unseen patients Dice', 'TCGA-LGG unseen patients', 'dice', 'unseen_patients_dice'),
                                  ('error AUROC (all)', 'all held-out', 'auroc', 'auroc')):
        if bar not in t:
            continue  # not this plan's criterion (v11's has no FG bar: 5 of FG's 6 patients train there)
        value = summary[group][candidate][key]
        add(name, value, t[bar], value >= t[bar])
    if 'fp_ml_outside' in t:
        # a plan may also bound the stray components (mL outside the lesion, mean over the cases): at most the bar
        value = summary['all held-out'][candidate]['fp_ml_outside']
        add('FP mL outside the lesion', value, t['fp_ml_outside'], value <= t['fp_ml_outside'])
    newly_low = []
    for row in metrics['cases']:
        if candidate not in row['methods']:
            continue
        d = row['methods'][candidate]['dice']
        before = shipped_rows.get(row['case'], {}).get('dice')
        if d < t['case_floor'] and (before is None or before >= t['case_floor']):
            newly_low.append(f"{row['case']} {d:.3f} (shipped {'none' if before is None else f'{before:.3f}'})")
    add(f"no case newly below {t['case_floor']}", newly_low, [], not newly_low)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--metrics', required=True, help='evaluate_v2.py --out file holding the candidate')
    ap.add_argument('--candidate', required=True, help='its --pred name')
    ap.add_argument('--plan', required=True, help='the plan JSON with "thresholds" and "shipped"')
    args = ap.parse_args()
    with open(args.plan) as f:
        plan = json.load(f)
    with open(args.metrics) as f:
        metrics = json.load(f)
    with open(MANIFEST) as f:
        manifest = json.load(f)
    results = check(metrics, manifest, args.candidate, plan['shipped'], plan['thresholds'])
    for r in results:
        # four decimals: a bar of 0.888 is missed by 0.8879, which three would print as 0.888
        value = r['value'] if isinstance(r['value'], list) else f"{r['value']:.4f}"
        print(f"{'PASS' if r['ok'] else 'FAIL'}  {r['criterion']:<28} {value}  (bar {r['bar']})")
    print(f"also required: {plan['thresholds'].get('speed', 'npm run bench engine')}")
    sys.exit(0 if all(r['ok'] for r in results) else 1)


if __name__ == '__main__':
    main()
