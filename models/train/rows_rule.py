"""A plan's part (3) on the robustness rows (v15-v17 plans): a candidate's robustness.py rows against 9.1.1's
committed ones, every row (case/rewriting) not lower by more than --drop, and on the lesion-free heads
(healthy_mirror) no more proposed than 9.1.1 where the reference has no lesion. Prints the rows that fall; exits 1 if any
row is missing or falls too far.

  /usr/bin/python3 models/train/rows_rule.py --rows runs/robust-X-*/robustness.json \\
      [--healthy runs/robust-healthy-X/robustness.json]

--rows takes several files (a run per case, and the --register rigid run for the @rigid rows: robustness.py
writes its file only at its end, ~30 min a case here), merged.
"""
import argparse
import json
import sys

from thin_rule import load  # 9.1.1's committed files in models/quorum-wt-v2


def compare(cand, base, drop):
    """[(row, 9.1.1 Dice, candidate Dice)] of the rows below 9.1.1's by more than drop, and the rows missing."""
    missing = sorted(set(base) - set(cand))
    worse = [(k, base[k]['dice'], cand[k]['dice']) for k in sorted(base)
             if k in cand and cand[k]['dice'] < base[k]['dice'] - drop]
    return worse, missing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rows', nargs='+', required=True,
                    help="the candidate's robustness.json files on 9.1.1's four cases, every rewriting (merged)")
    ap.add_argument('--healthy', help="the candidate's robustness.json, --only identity healthy_mirror on the five heads")
    ap.add_argument('--drop', type=float, default=0.010)
    ap.add_argument('--skip-identity', action='store_true',
                    help="leave out each case's identity row (the case as stored, which a plan's part (2) judges)")
    ap.add_argument('--base', default='robustness-v9.1.json', help="9.1.1's rows (in models/quorum-wt-v2)")
    ap.add_argument('--base-healthy', default='robustness-healthy-v9.1.json')
    args = ap.parse_args()
    ok = True
    pairs = [(args.rows, args.base)] + ([([args.healthy], args.base_healthy)] if args.healthy else [])
    for cand_files, base_file in pairs:
        cand = {}
        for path in cand_files:
            with open(path) as f:
                cand.update(json.load(f))
        cand_file = ', '.join(cand_files)
        base = load(base_file)
        if args.skip_identity:
            base = {k: v for k, v in base.items() if not k.endswith('/identity')}
        worse, missing = compare(cand, base, args.drop)
        for row, b, c in worse:
            print(f'{row:55s} 9.1.1 {b:.3f}  candidate {c:.3f}  {c - b:+.3f}')
        if missing:
            print(f'{cand_file}: {len(missing)} rows of {base_file} missing, e.g. {missing[:3]}')
        # a lesion-free head (reference 0 mL): more proposed than 9.1.1 did there is a false lesion
        falls = [k for k, v in cand.items() if v.get('reference_ml') == 0 and v['ml'] > base.get(k, {}).get('ml', 0)]
        for k in falls:
            print(f'{k}: {cand[k]["ml"]} mL proposed on a lesion-free head')
        good = not worse and not missing and not falls
        print(f'{cand_file} against {base_file}: {len(base)} rows, {len(worse)} below by more than {args.drop}, '
              f'{len(missing)} missing: {"passes" if good else "FAILS"}')
        ok &= good
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
