"""Held-out evaluation of v1, v2 (ensemble and single sample) and the deterministic baseline,
per dataset, on the outputs of the app itself.

  node bin/quorum.mjs propose-dataset runs/heldout --out runs/pred-v2 --model models/quorum-wt-v2
  node bin/quorum.mjs propose-dataset runs/heldout --out runs/pred-v2-single --members 1 ...
  node bin/quorum.mjs propose-dataset runs/heldout --out runs/pred-v1 --model models/quorum-wt-2ch
  /usr/bin/python3 models/train/evaluate_v2.py --link runs/heldout          # makes the case folder
  /usr/bin/python3 models/train/evaluate_v2.py --pred v1=runs/pred-v1 --pred v2=runs/pred-v2 \
      --pred v2-single=runs/pred-v2-single --baseline runs/v2-base --out metrics-v2.json

The proposals are read from mask.nii.gz / uncertainty.nii.gz / report.json exactly as a user gets
them (quorum propose-dataset), so these numbers are the app's, preprocessing included. The
baseline (a deterministic UNet of the same backbone on the same data) is run here with
preprocess.py, which the fixture test keeps equal to the app's.

Per case and method: Dice, HD95 (mm, header spacing: nominal 1 mm for TCGA-LGG), false-positive
mL outside the lesion (predicted connected components, 26-connected, touching no reference
voxel), the AUROC of the std for error voxels inside the head (foreground of preprocess.py),
the QU-BraTS score (Mehta et al. 2022: filtered Dice, filtered TP and TN ratios over uncertainty
thresholds 0, .25, .5, .75, 1 of std / 0.5), and the case confidence of report.json.
"""
import argparse
import json
import os
import sys

import nibabel as nib
import numpy as np
import torch
from scipy.ndimage import label as cc_label
from scipy.stats import rankdata, spearmanr

sys.path.insert(0, os.path.dirname(__file__))
import context as through_plane  # noqa: E402
from datasets import load_case, split  # noqa: E402
from evaluate import dice, hd95, load_model  # noqa: E402
from preprocess import INPUT_SIZE, ModelFrame, foreground  # noqa: E402
from train import ADD_HELD_OUT, cases_kept  # noqa: E402

HERE = os.path.dirname(__file__)


def fp_ml_outside(pred, truth, voxel_ml):
    lab, n = cc_label(pred, structure=np.ones((3, 3, 3)))
    if n == 0:
        return 0.0
    touching = np.unique(lab[truth & pred])
    outside = ~np.isin(lab, touching) & (lab > 0)
    return float(outside.sum() * voxel_ml)


def auroc(score, positive):
    pos = positive.sum()
    neg = positive.size - pos
    if pos == 0 or neg == 0:
        return float('nan')
    r = rankdata(score)
    return float((r[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def qu_brats(pred, truth, u, region):
    """u in [0, 1]; voxels with u > tau are filtered out. -> score, AUCs."""
    taus = [0.0, 0.25, 0.5, 0.75, 1.0]
    p, t, uu = pred[region], truth[region], u[region]
    tp0 = np.sum(p & t)
    tn0 = np.sum(~p & ~t)
    d, ftp, ftn = [], [], []
    for tau in taus:
        keep = uu <= tau
        d.append(dice(p[keep], t[keep]))
        ftp.append((tp0 - np.sum(p[keep] & t[keep])) / tp0 if tp0 else 0.0)
        ftn.append((tn0 - np.sum(~p[keep] & ~t[keep])) / tn0 if tn0 else 0.0)
    auc = lambda y: float(np.trapz(y, taus))  # noqa: E731
    a_d, a_tp, a_tn = auc(d), auc(ftp), auc(ftn)
    return (a_d + (1 - a_tp) + (1 - a_tn)) / 3, dict(dice=a_d, ftp=a_tp, ftn=a_tn)


@torch.no_grad()
def baseline_mask(model, frame, vols, context=0):
    """One pass per slice at the model frame; context: the FLAIR of that many slices below and above as
    more channels, built as the network's training built them (context.py)."""
    ks = frame.slices
    out = np.zeros(frame.shape, np.float64)
    for i in range(0, len(ks), 32):
        chunk = ks[i:i + 32]
        img = torch.from_numpy(through_plane.frame_inputs(frame, vols, range(i, i + len(chunk)), context))
        prob = torch.sigmoid(model(img, torch.zeros(len(chunk), 1, *INPUT_SIZE), torch.zeros(len(chunk))))
        for k, p in zip(chunk, prob[:, 0].numpy()):
            frame.place(out, k, frame.to_native(p))
    return out > 0.5


def held_out(add_held_out='none'):
    """datasets.split()'s held-out cases but those a run with this --add-held-out trained on (v11's
    fourth site: its 5 training patients are no longer held out for it, nor for an ensemble holding it)."""
    _, held = split()
    return [c for c, trained in zip(held, cases_kept(held, None, add_held_out)) if not trained]


def link_cases(folder, add_held_out='none'):
    held = held_out(add_held_out)
    os.makedirs(folder, exist_ok=True)
    for c in held:
        d = os.path.join(folder, c['name'])
        os.makedirs(d, exist_ok=True)
        for k in ('flair', 't1c'):
            dst = os.path.join(d, k + '.nii.gz')
            if not os.path.lexists(dst):
                os.symlink(c[k], dst)
    print(f'{len(held)} held-out cases linked under {folder}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--link', help='only make a folder of held-out cases (symlinks) for propose-dataset')
    ap.add_argument('--pred', action='append', default=[], help='name=dir of a propose-dataset output')
    ap.add_argument('--baseline', help='run dir of the deterministic baseline (train.py --mode deterministic)')
    ap.add_argument('--baseline-name', default='baseline', help="the baseline's method name in the output")
    ap.add_argument('--out', default='metrics-v2.json')
    ap.add_argument('--only', action='append', help='evaluate only these cases (a quick check)')
    ap.add_argument('--merge', nargs='+', help='combine the case rows of earlier outputs (methods run apart)')
    ap.add_argument('--add-held-out', choices=ADD_HELD_OUT, default='none',
                    help="the candidate's training option (train.py): the held-out cases it trained on are neither "
                         'linked nor scored')
    args = ap.parse_args()
    if args.link:
        return link_cases(args.link, args.add_held_out)
    if args.merge:
        return merge(args.merge, args.out)
    preds = dict(p.split('=', 1) for p in args.pred)
    base, base_meta, _ = load_model(args.baseline, deterministic=True) if args.baseline else (None, {}, 0)
    held = [c for c in held_out(args.add_held_out) if not args.only or c['name'] in args.only]
    rows = []
    for c in held:
        vols, truth, spacing, direction = load_case(c)
        truth = truth.astype(bool)
        frame = ModelFrame(vols, spacing, direction)
        region = foreground(vols, frame.stats)
        voxel_ml = float(np.prod(spacing)) / 1000
        row = dict(case=c['name'], dataset=c['dataset'], site=c['site'], role=c['role'],
                   truth_ml=float(truth.sum() * voxel_ml), methods={})
        masks = {}
        for name, d in preds.items():
            cd = os.path.join(d, c['name'])
            if not os.path.exists(os.path.join(cd, 'report.json')):
                continue
            masks[name] = np.asarray(nib.load(os.path.join(cd, 'mask.nii.gz')).dataobj) > 0
            rep = json.load(open(os.path.join(cd, 'report.json')))
            m = dict(confidence=rep.get('confidence'), uncertain_ml=rep.get('uncertaintyMm3', 0) / 1000)
            std = np.asarray(nib.load(os.path.join(cd, 'uncertainty.nii.gz')).dataobj, dtype=np.float32)
            if std.max() > 0:
                err = (masks[name] != truth)[region]
                m['auroc'] = auroc(std[region], err)
                m['qu_brats'], m['qu_brats_aucs'] = qu_brats(masks[name], truth, np.clip(std / 0.5, 0, 1), region)
            row['methods'][name] = m
        if base is not None:
            masks[args.baseline_name] = baseline_mask(base, frame, vols, base_meta.get('context', 0))
            row['methods'][args.baseline_name] = {}
        for name, pred in masks.items():
            row['methods'][name].update(dice=dice(pred, truth), hd95_mm=hd95(pred, truth, spacing),
                                        fp_ml_outside=fp_ml_outside(pred, truth, voxel_ml),
                                        volume_ml=float(pred.sum() * voxel_ml))
        print(json.dumps({k: row[k] for k in ('case', 'role')}),
              {n: round(m['dice'], 3) for n, m in row['methods'].items()}, flush=True)
        rows.append(row)
    summary = summarise(rows)
    dump(dict(cases=rows, summary=summary), args.out)
    print(json.dumps(summary, indent=1))


def dump(obj, path):
    """JSON without NaN (HD95 of an empty mask): the manifest is read by JSON.parse."""
    clean = lambda o: (None if isinstance(o, float) and np.isnan(o) else  # noqa: E731
                       {k: clean(v) for k, v in o.items()} if isinstance(o, dict) else
                       [clean(v) for v in o] if isinstance(o, list) else o)
    json.dump(clean(obj), open(path, 'w'), indent=1, allow_nan=False)


def merge(paths, out):
    rows = {}
    for p in paths:
        for r in json.load(open(p))['cases']:
            rows.setdefault(r['case'], {**r, 'methods': {}})['methods'].update(r['methods'])
    summary = summarise(list(rows.values()))
    dump(dict(cases=list(rows.values()), summary=summary), out)
    print(json.dumps(summary, indent=1))


def group_of(row):
    if row['dataset'] == 'tcga-lgg':
        return 'TCGA-LGG unseen site (FG)' if row['role'] == 'held-out site' else 'TCGA-LGG unseen patients'
    return {'brats2015': 'BraTS 2015 (z-scored)', 'brats-raw': 'BraTS 2014/15 raw intensities'}.get(
        row['dataset'], row['dataset'])


def lowest_quarter(scores):
    """Indices of the lowest-scoring quarter of the cases (ceil(n / 4), at least one): where the worst case
    must fall for the case confidence to send a reviewer to it first."""
    return np.argsort(scores)[:max(1, int(np.ceil(len(scores) / 4)))]


def summarise(rows):
    out = {}
    methods = sorted({m for r in rows for m in r['methods']})
    groups = {}
    for r in rows:
        groups.setdefault(group_of(r), []).append(r)
    groups['all held-out'] = rows
    for g, rs in groups.items():
        out[g] = {'cases': len(rs)}
        for m in methods:
            vals = [r['methods'][m] for r in rs if m in r['methods']]
            if not vals:
                continue
            agg = {}
            for k in ('dice', 'hd95_mm', 'fp_ml_outside', 'auroc', 'qu_brats'):
                xs = [v[k] for v in vals if v.get(k) is not None and not np.isnan(v[k])]
                if xs:
                    agg[k] = float(np.mean(xs))
            agg['min_dice'] = float(min(v['dice'] for v in vals))
            out[g][m] = agg
    for m in methods:
        pairs = [(r['methods'][m].get('confidence'), r['methods'][m]['dice']) for r in rows
                 if m in r['methods'] and r['methods'][m].get('confidence') is not None]
        if len(pairs) >= 4 and len({c for c, _ in pairs}) > 1:  # one member always agrees with itself
            conf, dc = map(np.array, zip(*pairs))
            rho = spearmanr(conf, dc).correlation
            quarter = lowest_quarter(conf)
            out.setdefault('confidence', {})[m] = dict(
                spearman_with_dice=float(rho), cases=len(pairs),
                worst_case_in_lowest_quarter=bool(np.argmin(dc) in quarter))
    return out


if __name__ == '__main__':
    main()
