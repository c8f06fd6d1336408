"""A thin-stack plan's rule, parts (1) and (2) (v15-thin-tune-plan.json, v16-thin-share-plan.json):
a candidate against 9.1.1 on the 12 held-out TCGA heads' thin stacks and on the 15 held-out cases
as stored. Prints each case and the verdict of each part; exits 1 when a part fails.

  /usr/bin/python3 models/train/thin_rule.py --robust runs/robust-v16/robustness.json \\
      --metrics runs/metrics-v16-trio.json --method v16-trio --loss-ratio 0.75

9.1.1's figures are the committed ones: its thin stacks of 10 heads in v14-six-measurements.json
(runs/robust-v14-911), FG_6689's and CS_6669's in robustness-v9.1.json, its held-out cases in the
manifest's metrics (method v9.1.1). (3), the card's rows and the bench, is another script's.
"""
import argparse
import json
import os
import sys

MODEL = os.path.join(os.path.dirname(__file__), '..', 'quorum-wt-v2')
BASE = 'v9.1.1'


def load(name):
    with open(os.path.join(MODEL, name)) as f:
        return json.load(f)


def thin_losses(rows):
    """{head: (identity Dice, thin-stack Dice)} of robustness.py rows keyed 'CASE/TRANSFORM'."""
    heads = {k.split('/')[0] for k in rows if k.endswith('/thin_slices')}
    return {h: (rows[f'{h}/identity']['dice'], rows[f'{h}/thin_slices']['dice']) for h in sorted(heads)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--robust', required=True, help="the candidate's robustness.json (--only identity thin_slices)")
    ap.add_argument('--metrics', required=True, help="evaluate_v2.py's file for the candidate's held-out proposals")
    ap.add_argument('--method', required=True, help="the candidate's name in --metrics")
    ap.add_argument('--loss-ratio', type=float, required=True, help="(1): mean thin-stack loss at most this x 9.1.1's")
    ap.add_argument('--head-drop', type=float, default=0.010, help="(1): no head's thin stack below 9.1.1's by more")
    ap.add_argument('--mean-drop', type=float, default=0.003, help="(2): the 15's mean Dice not below 9.1.1's by more")
    ap.add_argument('--case-drop', type=float, default=0.03, help="(2): no case below 9.1.1's by more")
    ap.add_argument('--auroc', type=float, default=0.90, help='(2): error AUROC at least')
    args = ap.parse_args()

    base_rows = {k: {'dice': v['9.1.1']} for k, v in load('v14-six-measurements.json')['thin_stacks'].items()}
    base_rows.update(load('robustness-v9.1.json'))
    with open(args.robust) as f:
        cand = thin_losses(json.load(f))
    base = thin_losses({k: v for k, v in base_rows.items() if k.split('/')[0] in cand})
    missing = sorted(set(cand) - set(base))
    if missing or len(cand) != 12:
        sys.exit(f'{args.robust}: expected the 12 held-out heads with 9.1.1 figures; missing {missing}, got {len(cand)}')
    print('head                      9.1.1 id   thin   cand id   thin   thin vs 9.1.1')
    for h in cand:
        (bi, bt), (ci, ct) = base[h], cand[h]
        print(f'{h:24s}  {bi:.3f}   {bt:.3f}   {ci:.3f}   {ct:.3f}   {ct - bt:+.3f}')
    loss = lambda d: sum(i - t for i, t in d.values()) / len(d)  # noqa: E731
    worst = min(cand[h][1] - base[h][1] for h in cand)
    ok1 = loss(cand) <= args.loss_ratio * loss(base) and worst >= -args.head_drop
    print(f'(1) mean thin-stack loss {loss(cand):.4f} vs 9.1.1 {loss(base):.4f} (ratio {loss(cand) / loss(base):.2f}, '
          f'allowed {args.loss_ratio}); worst head {worst:+.3f} (allowed -{args.head_drop}): {"passes" if ok1 else "FAILS"}')

    with open(args.metrics) as f:
        met = json.load(f)
    ours = {c['case']: c['methods'][args.method] for c in met['cases']}
    theirs = {c['case']: c['methods'][BASE] for c in load('manifest.json')['metrics']['cases'] if c['case'] in ours}
    if len(ours) != 15 or set(ours) != set(theirs):
        sys.exit(f'{args.metrics}: expected the 15 held-out cases that 9.1.1 was scored on')
    drops = {c: ours[c]['dice'] - theirs[c]['dice'] for c in ours}
    for c in sorted(drops, key=drops.get):
        print(f'{c:30s} 9.1.1 {theirs[c]["dice"]:.3f}  candidate {ours[c]["dice"]:.3f}  {drops[c]:+.3f}')
    mean = lambda d: sum(v['dice'] for v in d.values()) / len(d)  # noqa: E731
    summary = met['summary']
    auroc = summary['all held-out'][args.method]['auroc']
    worst_first = summary['confidence'][args.method]['worst_case_in_lowest_quarter']
    ok2 = (mean(ours) >= mean(theirs) - args.mean_drop and min(drops.values()) >= -args.case_drop
           and auroc >= args.auroc and worst_first)
    print(f'(2) mean {mean(ours):.4f} vs 9.1.1 {mean(theirs):.4f}; worst case {min(drops.values()):+.3f} '
          f'(allowed -{args.case_drop}); AUROC {auroc:.3f}; worst case in the lowest-confidence quarter: {worst_first}: '
          f'{"passes" if ok2 else "FAILS"}')
    sys.exit(0 if ok1 and ok2 else 1)


if __name__ == '__main__':
    main()
