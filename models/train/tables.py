"""README tables from evaluate_v2.py's JSON (so the README says exactly what was measured).

  /usr/bin/python3 models/train/tables.py runs/metrics-v2.8-all.json            # every method (EXPERIMENTS.md)
  /usr/bin/python3 models/train/tables.py runs/metrics-v2.8-all.json --compact  # the README's: the four the model issue asks for, and the model shipped before
"""
import json
import sys

SHIPPED = 'v9.1.1'  # the method whose confidence and false positives the case table shows
METHODS = [('v1', 'v1 (quorum-wt-2ch), 5 members'),
           ('v9.1.1', 'v9.1.1 (shipped: v9.0 with the proposal\'s edge grown by the scan\'s FLAIR contrast, contrast-grow-plan.json)'),
           ('v9.1', 'v9.1.0 (the same edge rule with its air/CSF floor from the scan\'s positive voxels; replaced the same day)'),
           ('v9.0', 'v9.0 (shipped before: a deep ensemble, 4, 3 and 3 members from three networks trained with v6\'s recipe and different seeds)'),
           ('v9.0-single', 'v9.0, single sample (the first network, as v8.0\'s)'),
           ('v9-long', 'v9 (v6\'s recipe, a third pair of seeds; alone, for the record: mean 0.8316)'),
           ('v8.0', 'v8.0 (shipped before: a deep ensemble, 5 members from each of two networks trained with v6\'s recipe and different seeds)'),
           ('v8.0-single', 'v8.0, single sample (the first network)'),
           ('v6-long', 'v6 (v5\'s recipe with stage A 10000 iterations; not shipped alone: FG 0.8879, the bar 0.888)'),
           ('v7-long', 'v7 (v6\'s recipe, new seeds; not shipped alone: mean 0.8289, the bar 0.833)'),
           ('v5.0', 'v5.0 (shipped before: v3.0.1\'s recipe and sampler with the FLAIR of the slice below and above as two more input channels)'),
           ('v5.0-single', 'v5.0, single sample'),
           ('v3.0.1', 'v3.0.1 (shipped before: v3.0 with the small uncertain islands dropped, under 0.5 mL with a mean map value of at least 0.2)'),
           ('v4-w24', 'v4 (v3.0.1\'s recipe and sampler at UNet width 24; not shipped: mean +0.004, the rule needed +0.010)'),
           ('v3.0', 'v3.0 (shipped before: v3 weights, trained from scratch with half of each batch the image alone at t = 999; v2.3.3\'s sampler on the whole frame, no crop)'),
           ('v3.0-crop', 'v3.0 weights with v2.3.3\'s crop to the head (16 px)'),
           ('v2.3.3', 'v2.3.3 (shipped before: v2.3 weights, DDIM 4, first step shared, flipped members, crop 16 px, 10 members, uncertainty map smoothed 1 voxel)'),
           ('v2.3.2', 'v2.3.2 (shipped before: v2.3.3 with the members\' std as the map)'),
           ('v2.3.1-m8', 'v2.3.1 settings, 8 members'),
           ('v2.3.1', 'v2.3.1 (shipped before: v2.3.2 with 5 members)'),
           ('v2.3-s4sh', 'v2.3.1 settings, Box-Muller noise (before the ziggurat)'),
           ('v2.3-crop', 'v2.3 (shipped before: DDIM 5, flipped members, crop 16 px), 5 members'),
           ('v2.3-s4', 'v2.3, DDIM 4, no sharing'),
           ('v2.3-g5s1', 'v2.3, DDIM 4 from t = 749 (no t = 999 step)'),
           ('v2.3-g4s1', 'v2.3, DDIM 3 from t = 666 (no t = 999 step)'),
           ('v2.3-m8', 'v2.3, DDIM 5, crop 8 px'),
           ('v2.4-m16', 'v2.4 (v2.3 + 1200 it., half on crops), DDIM 5, crop 16 px'),
           ('v2.4-m8', 'v2.4, DDIM 5, crop 8 px'),
           ('v2.4-lc-s4sh', 'v2.4-lc (+ lesion-contrast augmentation), as shipped'),
           ('v2.5-core', 'v2.5-core (v2.4 + lesion-core augmentation, 30% of slices), as shipped'),
           ('v2.5-core10', 'v2.5-core10 (v2.4 + lesion-core augmentation, 10% of slices), as shipped'),
           ('v2.6-io50', 'v2.6-io50 (v2.3 + 800 it., half of each batch the image alone at t = 999), as shipped'),
           ('v2.3-flip', 'v2.3, flipped members, whole frame, 5 members'),
           ('v2.3', 'v2.3, DDIM 5, no flipped members, 5 members'),
           ('v2.2', 'v2.2, DDIM 5, 5 members'),
           ('v2.2-3', 'v2.2, DDIM 3, 5 members'),
           ('v2', 'v2.1, DDIM 5, 5 members'),
           ('v2.0', 'v2.0 (before fine-tuning), 5 members'), ('v2.0-single', 'v2.0, single sample'),
           ('v2-single', 'v2, single sample'), ('v3.0.1-single', 'v3.0.1, single sample'),
           ('baseline-ctx1', 'deterministic UNet, same backbone + data + context, 10000 iterations (det-ctx1-baseline-plan.json)'),
           ('baseline-2000', 'deterministic UNet, same backbone + data, 2000 iterations'),
           ('baseline', 'deterministic UNet, same backbone + data, 600 iterations')]
# The README's comparison (the model issue's): v1, the shipped v2 line, its single sample, the deterministic UNet;
# and the model shipped before, so that a reader sees what the last change did.
COMPACT = [('v1', 'v1 (quorum-wt-2ch), 5 members'),
           ('v9.1.1', 'v9.1.1, shipped (10 members, 3 networks, edge grown)'),
           ('v9.0-single', 'v9.0 and v9.1, single sample'),
           ('v9.0', 'v9.0, shipped before (the same without the edge rule)'),
           ('baseline-ctx1', 'deterministic UNet, same backbone + data')]
COMPACT_SHORT = {'v1': 'v1', 'v9.1.1': 'shipped', 'v9.0-single': 'single sample', 'v9.0': 'v9.0',
                 'baseline-ctx1': 'deterministic UNet'}


def fmt(v, nd=3):
    return '–' if v is None else f'{v:.{nd}f}'


def compact(m):
    s = m['summary']
    print('| data (held-out cases) | method | Dice (mean) | Dice (min) | HD95 mm | FP mL outside lesion | error AUROC | QU-BraTS |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    for g in (g for g in s if g != 'confidence'):
        for key, label in COMPACT:
            a = s[g].get(key)
            if a:
                print(f"| {g} ({s[g]['cases']}) | {label} | {fmt(a.get('dice'))} | {fmt(a.get('min_dice'))} | "
                      f"{fmt(a.get('hd95_mm'), 1)} | {fmt(a.get('fp_ml_outside'), 1)} | {fmt(a.get('auroc'))} | "
                      f"{fmt(a.get('qu_brats'))} |")
    print()
    print('| case | role | reference mL | ' + ' | '.join(f'{COMPACT_SHORT[k]} Dice' for k, _ in COMPACT)
          + f' | {SHIPPED} confidence | {SHIPPED} FP mL outside |')
    print('| --- ' * (5 + len(COMPACT)) + '|')
    for r in m['cases']:
        mm = r['methods']
        print(f"| {r['case']} | {r['role']} | {r['truth_ml']:.1f} | "
              + ' | '.join(fmt(mm.get(k, {}).get('dice')) for k, _ in COMPACT)
              + f" | {fmt(mm.get(SHIPPED, {}).get('confidence'))} | {fmt(mm.get(SHIPPED, {}).get('fp_ml_outside'), 1)} |")
    c = s.get('confidence', {}).get(SHIPPED)
    if c:
        print()
        print(f"{SHIPPED}: Spearman(confidence, Dice) = {c['spearman_with_dice']:.2f} over {c['cases']} cases; "
              f"worst case in the lowest-confidence quarter: {'yes' if c['worst_case_in_lowest_quarter'] else 'no'}")


def main(path, *flags):
    m = json.load(open(path))
    if '--compact' in flags:
        return compact(m)
    s = m['summary']
    groups = [g for g in s if g != 'confidence']
    print('| data (held-out cases) | method | Dice (mean) | Dice (min) | HD95 mm | FP mL outside lesion | error AUROC | QU-BraTS |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    for g in groups:
        for key, label in METHODS:
            a = s[g].get(key)
            if not a:
                continue
            print(f"| {g} ({s[g]['cases']}) | {label} | {fmt(a.get('dice'))} | {fmt(a.get('min_dice'))} | "
                  f"{fmt(a.get('hd95_mm'), 1)} | {fmt(a.get('fp_ml_outside'), 1)} | {fmt(a.get('auroc'))} | "
                  f"{fmt(a.get('qu_brats'))} |")
    print()
    shown = [k for k in ('v9.1.1', 'v9.1', 'v9.0', 'v9-long', 'v8.0', 'v6-long', 'v7-long', 'v5.0', 'v3.0.1', 'v4-w24', 'v3.0', 'v3.0-crop', 'v2.3.3', 'v2.3.1', 'v2.3-crop', 'v2.4-m16', 'v2.4-lc-s4sh', 'v2.5-core', 'v2.5-core10', 'v2.6-io50') if any(k in r['methods'] for r in m['cases'])]
    print('| case | role | reference mL | v1 Dice | v2.0 Dice | v2.1 Dice | v2.2 Dice | v2.2 DDIM 3 | '
          + ''.join(f"{k}{' (shipped)' if k == SHIPPED else ''} | " for k in shown)
          + f'baseline | baseline 2000 it. | baseline 10000 it. + context | {SHIPPED} confidence | {SHIPPED} FP mL outside |')
    print('| --- ' * (13 + len(shown)) + '|')
    for r in m['cases']:
        mm = r['methods']
        d = lambda k: fmt(mm.get(k, {}).get('dice'))  # noqa: E731
        print(f"| {r['case']} | {r['role']} | {r['truth_ml']:.1f} | {d('v1')} | {d('v2.0')} | {d('v2')} | {d('v2.2')} | {d('v2.2-3')} | "
              + ''.join(f'{d(k)} | ' for k in shown)
              + f"{d('baseline')} | {d('baseline-2000')} | {d('baseline-ctx1')} | {fmt(mm.get(SHIPPED, {}).get('confidence'))} | "
              f"{fmt(mm.get(SHIPPED, {}).get('fp_ml_outside'), 1)} |")
    print()
    for k, c in s.get('confidence', {}).items():
        print(f"- {k}: Spearman(confidence, Dice) = {c['spearman_with_dice']:.2f} over {c['cases']} cases; "
              f"worst case in the lowest-confidence quarter: {'yes' if c['worst_case_in_lowest_quarter'] else 'no'}")


if __name__ == '__main__':
    main(*sys.argv[1:])
