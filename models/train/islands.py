"""Dropping small islands the members disagree on: the measurement, and the fixture of the app's copy.

A proposal's stray components far from the lesion cost little Dice but most of its HD95, and a
reader must erase each one. Most of them are small and uncertain, so the rule tried here is: drop
a connected component of the mask (26-connected, as evaluate_v2.py counts false positives) when it
is under ISLAND_ML AND the mean of the uncertainty map over it (the members' std smoothed as the
app's map, uncertainty.py) is at least ISLAND_STD. A confident component of any size stays, so
does any component of a multifocal lesion the members agree on.

The thresholds were picked by looking at the components of v3.0's held-out proposals, so the
held-out figures are not a test of the rule; the site fold scored afterwards (a model that never
saw the site, --save of quick_check.py) is.

  /usr/bin/python3 models/train/islands.py --pred runs/pred-v3b-off --out runs/islands-heldout.json
      (the app's outputs: <case>/mask.nii.gz and uncertainty.nii.gz, the 15 held-out cases)
  /usr/bin/python3 models/train/islands.py --saved runs/save-loso-CS-io50 --site CS --out r.json
      (quick_check.py --save: <case>.npy mean and std/<case>.npy, smoothed here as the app does)
  /usr/bin/python3 models/train/islands.py --fixture runs/pred-v3b-off/TCGA_FG_5962_20000626
      (test/fixtures/islands/: a block of that proposal and what the rule leaves of it)

The app applies the same rule (core/src/islands.ts) where the model's manifest asks for it
(recommended.dropIslands) since model 3.0.1.
"""
import argparse
import json
import os
import sys

import nibabel as nib
import numpy as np
from scipy.ndimage import label as cc_label

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datasets import all_cases, load_case, split  # noqa: E402
from evaluate import dice, hd95  # noqa: E402
from evaluate_v2 import fp_ml_outside  # noqa: E402
from uncertainty import uncertainty_map  # noqa: E402

ISLAND_ML = 0.5
ISLAND_STD = 0.2
SIGMA_VOXELS = 1.0  # the shipped manifest's recommended.uncertaintySigmaVoxels


def drop_uncertain_islands(mask, unc, voxel_ml):
    """-> (mask without the small uncertain components, mL dropped)."""
    lab, n = cc_label(mask, structure=np.ones((3, 3, 3)))
    out, dropped = mask.copy(), 0.0
    for i in range(1, n + 1):
        comp = lab == i
        ml = comp.sum() * voxel_ml
        if ml < ISLAND_ML and unc[comp].mean() >= ISLAND_STD:
            out[comp] = False
            dropped += ml
    return out, dropped


def write_fixture(proposal):
    """test/fixtures/islands/block: a real 48 x 48 x 12 block of an app proposal (mask.nii.gz and
    uncertainty.nii.gz, FG_5962 of v3.0: the lesion's edge with the small components round it) and
    the mask this rule leaves, stored x fastest as the engine holds a volume
    (test/unit/islands.test.ts checks core/src/islands.ts against it)."""
    from make_fixtures import write
    im = nib.load(os.path.join(proposal, 'mask.nii.gz'))
    mask = np.asarray(im.dataobj) > 0
    unc = np.asarray(nib.load(os.path.join(proposal, 'uncertainty.nii.gz')).dataobj, np.float32)
    voxel_ml = float(np.prod(im.header.get_zooms()[:3])) / 1000
    kept, _ = drop_uncertain_islands(mask, unc, voxel_ml)
    # the block round the largest island the rule drops (as cut, it holds islands and lesion)
    lab, n = cc_label(mask & ~kept, structure=np.ones((3, 3, 3)))
    sizes = np.bincount(lab.ravel())[1:]
    c = [int(np.mean(a)) for a in np.nonzero(lab == 1 + int(np.argmax(sizes)))]
    size = (48, 48, 12)
    lo = [max(0, min(ci - h // 2, dim - h)) for ci, h, dim in zip(c, size, mask.shape)]
    cut = tuple(slice(a, a + h) for a, h in zip(lo, size))
    block_mask, block_unc = mask[cut], unc[cut]
    block_kept, dropped = drop_uncertain_islands(block_mask, block_unc, voxel_ml)
    xf = lambda a: np.ascontiguousarray(np.asarray(a, np.float32).transpose(2, 1, 0))  # noqa: E731
    _, comps = cc_label(block_mask, structure=np.ones((3, 3, 3)))
    _, left = cc_label(block_kept, structure=np.ones((3, 3, 3)))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'islands')
    write('block', {'source': os.path.basename(os.path.normpath(proposal)), 'origin': lo, 'dims': list(size),
                    'voxelMl': voxel_ml, 'rule': {'belowMl': ISLAND_ML, 'uncertaintyAtLeast': ISLAND_STD},
                    'components': comps, 'componentsKept': left, 'droppedMl': dropped},
          {'mask': xf(block_mask), 'uncertainty': xf(block_unc), 'kept': xf(block_kept)}, out=out)


def proposals(args):
    """-> (case, mask, uncertainty map) for each case with a proposal."""
    if args.pred:
        for c in split()[1]:
            d = os.path.join(args.pred, c['name'])
            if os.path.exists(os.path.join(d, 'mask.nii.gz')):
                yield (c, np.asarray(nib.load(os.path.join(d, 'mask.nii.gz')).dataobj) > 0,
                       np.asarray(nib.load(os.path.join(d, 'uncertainty.nii.gz')).dataobj, np.float32))
    else:
        for c in all_cases():
            p = os.path.join(args.saved, c['name'] + '.npy')
            if c.get('site') == args.site and os.path.exists(p):
                std = np.load(os.path.join(args.saved, 'std', c['name'] + '.npy')).astype(np.float32)
                yield c, np.load(p).astype(np.float32) > 0.5, uncertainty_map(std, SIGMA_VOXELS)


def main():
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument('--pred', help='folder of the app\'s proposals (propose-dataset), one subfolder per case')
    src.add_argument('--saved', help='folder of quick_check.py --save')
    src.add_argument('--fixture', help="an app proposal folder: write test/fixtures/islands/ from it")
    ap.add_argument('--site', help='with --saved: the TCGA-LGG site scored')
    ap.add_argument('--out')
    args = ap.parse_args()
    if args.fixture:
        return write_fixture(args.fixture)
    if not args.out:
        ap.error('--pred and --saved need --out')
    if args.saved and not args.site:
        ap.error('--saved needs --site')
    rows = []
    for c, mask, unc in proposals(args):
        _, truth, spacing, _ = load_case(c)
        truth = truth > 0
        voxel_ml = float(np.prod(spacing)) / 1000
        kept, dropped = drop_uncertain_islands(mask, unc, voxel_ml)
        row = dict(case=c['name'], dropped_ml=dropped)
        for k, m in (('as proposed', mask), ('islands dropped', kept)):
            row[k] = dict(dice=dice(m, truth), hd95_mm=hd95(m, truth, spacing),
                          fp_ml_outside=fp_ml_outside(m, truth, voxel_ml))
        rows.append(row)
        a, b = row['as proposed'], row['islands dropped']
        print(f"{c['name']:28s} dropped {dropped:.3f} mL  Dice {a['dice']:.3f} -> {b['dice']:.3f}  "
              f"HD95 {a['hd95_mm']:5.1f} -> {b['hd95_mm']:5.1f}  FP mL {a['fp_ml_outside']:.2f} -> "
              f"{b['fp_ml_outside']:.2f}", flush=True)
    summary = {k: {m: float(np.nanmean([r[k][m] for r in rows])) for m in ('dice', 'hd95_mm', 'fp_ml_outside')}
               for k in ('as proposed', 'islands dropped')}
    print(json.dumps(summary, indent=1))
    json.dump(dict(rule=dict(island_ml=ISLAND_ML, island_std=ISLAND_STD, sigma_voxels=SIGMA_VOXELS),
                   cases=rows, summary=summary), open(args.out, 'w'), indent=1)


if __name__ == '__main__':
    main()
