"""The proposal grown by the scan's own FLAIR contrast: the rule, its measurement, the app's fixture.

The held-out misses are mostly under-segmentation at the lesion's edge (CS_6666 33 mL truth, 17.5
proposed; pat222 198 / 169) and the missed voxels lie within a few mm of the proposal with FLAIR
intensities between normal tissue and the lesion. A site constant cannot say where a lesion's edge
is on an unseen scanner; the scan itself can. So, per case, after the ensemble:

  lesion level L  the median FLAIR over the confident core (mean probability >= CORE_P; the whole
                  proposal when the core has fewer than 10 voxels)
  normal level N  the median FLAIR over a shell SHELL_MM outside the proposal, of its voxels above
                  the shell's own 25th percentile (leaves out air and CSF; every level an order
                  statistic, so the rule does not change under any increasing affine intensity map)
  a voxel joins   when it lies within band_mm of the proposal, its FLAIR >= N + alpha (L - N), its
                  mean probability >= min_p, and it connects (faces) to the proposal through such
                  voxels. Nothing joins when L <= N (a lesion not brighter than its surround), nor a voxel
                  whose mean probability is > 0.5 (in the proposal already, or an island the app dropped).

Medians and percentiles are order statistics (the value at floor(q (n - 1)) of the sorted values),
not numpy's interpolating percentile, so that the app's copy (core/src/contrast-grow.ts) gives the
same voxels; distances are exact Euclidean in mm (scipy's EDT; the app's core/src/distance-map.ts).

  /usr/bin/python3 models/train/contrast_grow.py --saved /tmp/fold/DU --site DU --out r.json
      (quick_check.py --save: <case>.npy mean; proposal = mean >= 0.5; every setting of SETTINGS)
  /usr/bin/python3 models/train/contrast_grow.py --fixture PRED_DIR/TCGA_CS_6666_20011109
      (test/fixtures/contrast-grow/: a block of that proposal and what the rule adds to it)
"""
import argparse
import json
import os
import sys

import numpy as np
from scipy import ndimage as ndi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datasets import all_cases, load_case  # noqa: E402
from evaluate import dice  # noqa: E402

CORE_P = 0.8
SHELL_MM = (5.0, 20.0)
SETTINGS = [dict(alpha=a, band_mm=b, min_p=p) for a in (0.5, 0.7) for b in (3.0, 6.0) for p in (0.0, 0.05)]


def order_stat(values, q):
    """The value at floor(q (n - 1)) of the sorted values (None when there are none)."""
    if values.size == 0:
        return None
    k = int(np.floor(q * (values.size - 1)))
    return float(np.partition(values, k)[k])


def grow(mask, prob, flair, spacing, alpha, band_mm, min_p):
    """-> (the grown mask, a dict of the levels used); `mask` bool, the rest float arrays, one grid."""
    info = dict(lesion=None, normal=None, threshold=None, added=0)
    if not mask.any():
        return mask, info
    core = prob >= CORE_P
    if core.sum() < 10:
        core = mask
    dist = ndi.distance_transform_edt(~mask, sampling=spacing)
    around = flair[(dist > SHELL_MM[0]) & (dist < SHELL_MM[1])]
    floor = order_stat(around, 0.25)
    shell = around[around > floor] if floor is not None else around
    lesion, normal = order_stat(flair[core], 0.5), order_stat(shell, 0.5)
    info.update(lesion=lesion, normal=normal)
    if normal is None or lesion <= normal:
        return mask, info
    t = normal + alpha * (lesion - normal)
    info['threshold'] = t
    cand = (dist <= band_mm) & (flair >= t) & (prob >= min_p) & (prob <= 0.5)
    lab, _ = ndi.label(cand | mask)
    keep = np.unique(lab[mask])
    out = np.isin(lab, keep[keep > 0]) & (cand | mask)
    info['added'] = int(out.sum() - mask.sum())
    return out, info


def score_saved(saved, site, out):
    rows = []
    for c in all_cases():
        if c.get('site') != site or not os.path.exists(os.path.join(saved, c['name'] + '.npy')):
            continue
        vols, truth, spacing, _ = load_case(c)
        truth = truth > 0
        prob = np.load(os.path.join(saved, c['name'] + '.npy')).astype(np.float32)
        mask = prob >= 0.5
        row = dict(case=c['name'], base=dice(mask, truth), settings=[])
        for s in SETTINGS:
            g, info = grow(mask, prob, vols[0], spacing, **s)
            row['settings'].append(dict(s, dice=dice(g, truth), **info))
        print(row['case'], round(row['base'], 3), ' '.join(f"{r['dice'] - row['base']:+.3f}" for r in row['settings']),
              flush=True)
        rows.append(row)
    json.dump(dict(site=site, settings=SETTINGS, cases=rows), open(out, 'w'), indent=1)


def write_fixture(proposal, setting):
    """test/fixtures/contrast-grow/block: a real 48 x 48 x 12 block of an app proposal (the mean,
    probability.nii.gz, of --export nifti-probability) with the case's FLAIR, cut round the voxels
    the rule adds to the whole volume, and what the rule adds to the block itself (its own levels),
    stored x fastest as the engine holds a volume (test/unit/contrast-grow.test.ts)."""
    import nibabel as nib
    from make_fixtures import write
    name = os.path.basename(os.path.normpath(proposal))
    case = next(c for c in all_cases() if c['name'] == name)
    vols, _, spacing, _ = load_case(case)
    prob = np.asarray(nib.load(os.path.join(proposal, 'probability.nii.gz')).dataobj, np.float32)
    grown, _ = grow(prob > 0.5, prob, vols[0], spacing, **setting)
    c = [int(np.mean(a)) for a in np.nonzero(grown & ~(prob > 0.5))]
    size = (48, 48, 12)
    lo = [max(0, min(ci - h // 2, dim - h)) for ci, h, dim in zip(c, size, prob.shape)]
    cut = tuple(slice(a, a + h) for a, h in zip(lo, size))
    bp, bf = prob[cut], vols[0][cut]
    bg, info = grow(bp > 0.5, bp, bf, spacing, **setting)
    xf = lambda a: np.ascontiguousarray(np.asarray(a, np.float32).transpose(2, 1, 0))  # noqa: E731
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'contrast-grow')
    rule = dict(alpha=setting['alpha'], bandMm=setting['band_mm'], minProbability=setting['min_p'])
    write('block', dict(source=name, origin=lo, dims=list(size), spacing=[float(s) for s in spacing], rule=rule,
                        lesionLevel=info['lesion'], normalLevel=info['normal'], threshold=info['threshold'],
                        added=info['added']),
          {'probability': xf(bp), 'flair': xf(bf), 'grown': xf(bg)}, out=out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--saved', help="quick_check.py --save folder of a site fold")
    ap.add_argument('--site')
    ap.add_argument('--out')
    ap.add_argument('--fixture', help='an app proposal folder with probability.nii.gz: write the fixture')
    ap.add_argument('--setting', type=int, help='with --fixture: the index into SETTINGS (the chosen one)')
    args = ap.parse_args()
    if args.saved:
        return score_saved(args.saved, args.site, args.out)
    if args.fixture:
        return write_fixture(args.fixture, SETTINGS[args.setting])
    ap.error('--saved or --fixture')


if __name__ == '__main__':
    main()
