"""Does a proposal survive the ways another hospital may have written the same scan?

Each held-out case is rewritten as another site or tool might store it (voxel order, matrix, pixel
size, slice thickness, intensity scale and type, background noise, bias field, partial coverage,
an oblique header, coarser pixels, a tilted head, another grey-level curve, NaN background,
thinner slices, a zero background around a z-scored brain; the T1c on a grid of its own, a thick 2-D
FLAIR beside a thin T1c, a T1c moved between series; a defaced head, a windowed 8-bit export, motion
ghosts, strong noise, and a brain without its lesion), with its reference rewritten the same way,
then proposed through the app's own CLI (`quorum propose`, the shipped model and settings) and scored
against that reference. A preprocessing that assumes nothing about the scan keeps the Dice of the
case as stored; a drop names the transformation that breaks it.

  /usr/bin/python3 models/train/robustness.py --out runs/robust [--cases NAME ...] [--only T ...]
      [--members N] [--model DIR] [--register rigid]   -> runs/robust/robustness.json and a table on stdout
  /usr/bin/python3 models/train/robustness.py --table runs/robust/robustness.json ...   (the README's table)
"""
import argparse
import json
import os
import subprocess
import sys
import time

import nibabel as nib
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from datasets import split  # noqa: E402
from evaluate import dice  # noqa: E402
from rewritings import TRANSFORMS  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..'))
DEFAULT_CASES = ['TCGA_FG_6689_20020326', 'brats_2013_pat0003']


def write_case(folder, vols, lab, aff):
    """`aff` one affine for all files, or one per file ({'flair', 't1c', 'label'})."""
    affs = aff if isinstance(aff, dict) else {'flair': aff, 't1c': aff, 'label': aff}
    os.makedirs(folder, exist_ok=True)
    for name, v in zip(('flair', 't1c'), vols):
        nib.save(nib.Nifti1Image(np.asarray(v), affs[name]), os.path.join(folder, f'{name}.nii.gz'))
    ref = folder + '-reference.nii.gz'  # beside the case folder, so propose does not read it as a sequence
    nib.save(nib.Nifti1Image(np.asarray(lab, np.uint8), affs['label']), ref)
    return ref


def sfx_missing(results, cases, t):
    """A row with a suffix ('t1c_moved@rigid') is printed only where it was measured."""
    return '@' in t and not any(f'{c}/{t}' in results for c in cases)


def table(results):
    """Markdown: one row per transformation, Dice per case (and the change from the file as stored)."""
    cases = list(dict.fromkeys(k.split('/')[0] for k in results))
    print('| stored as | ' + ' | '.join(cases) + ' |')
    print('| --- |' + ' --- |' * len(cases))
    suffixes = sorted({k.split('/')[1][len(t):] for k in results for t in TRANSFORMS
                       if k.split('/')[1].startswith(t + '@')})
    for t in [t + sfx for t in TRANSFORMS for sfx in [''] + suffixes]:
        if sfx_missing(results, cases, t):
            continue
        cells = []
        for c in cases:
            row, base = results.get(f'{c}/{t}'), results.get(f'{c}/identity', {})
            if row is None:
                cells.append('')
            elif 'dice' not in row:
                cells.append('error: ' + ' '.join(row['error']))
            elif t == 'identity' or 'dice' not in base:
                cells.append(f"{row['dice']:.3f}")
            else:
                cells.append(f"{row['dice']:.3f} ({row['dice'] - base['dice']:+.3f})")
        print(f'| {t} | ' + ' | '.join(cells) + ' |')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--table', nargs='+', help='print the table of these robustness.json files and stop')
    ap.add_argument('--out')
    ap.add_argument('--cases', nargs='+', default=DEFAULT_CASES)
    ap.add_argument('--only', nargs='+', choices=list(TRANSFORMS), help='these transformations only')
    ap.add_argument('--members', type=int, help="the CLI's --members (default: the model's)")
    ap.add_argument('--model', help="the CLI's --model (default: the shipped one)")
    ap.add_argument('--register', choices=['none', 'rigid'], help="the CLI's --register (default: none)")
    args = ap.parse_args()
    if args.table:
        merged = {}
        for f in args.table:
            merged.update(json.load(open(f)))
        return table(merged)
    if not args.out:
        ap.error('--out is needed (or --table)')
    _, held = split()
    by_name = {c['name']: c for c in held}
    unknown = [n for n in args.cases if n not in by_name]
    if unknown:
        sys.exit(f'--cases: {", ".join(unknown)}: not a held-out case of datasets.py')
    results = {}
    for name in args.cases:
        c = by_name[name]
        imgs = [nib.load(c[k]) for k in ('flair', 't1c')]
        vols = [np.asarray(im.dataobj, np.float32) for im in imgs]
        lab = (np.asarray(nib.load(c['label']).dataobj) > 0).astype(np.uint8)
        for tname in args.only or TRANSFORMS:
            tv, tl, ta = TRANSFORMS[tname]([v.copy() for v in vols], lab.copy(), imgs[0].affine.copy())
            folder = os.path.join(args.out, f'{name}-{tname}')
            ref = write_case(folder, tv, tl, ta)
            out = folder + '-proposal'
            cmd = ['node', os.path.join(ROOT, 'bin', 'quorum.mjs'), 'propose', folder, '--out', out, '--overwrite']
            if args.members:
                cmd += ['--members', str(args.members)]
            if args.model:
                cmd += ['--model', args.model]
            if args.register:
                cmd += ['--register', args.register]
            t0 = time.time()
            run = subprocess.run(cmd, capture_output=True, text=True)
            row = dict(seconds=round(time.time() - t0, 1), shape=list(tv[0].shape))
            if run.returncode != 0:
                row['error'] = (run.stderr or run.stdout).strip().splitlines()[-1:]
            else:
                mask = np.asarray(nib.load(os.path.join(out, 'mask.nii.gz')).dataobj) > 0
                ref_img = nib.load(ref)
                truth = np.asarray(ref_img.dataobj) > 0
                voxel_ml = float(np.prod(ref_img.header.get_zooms()[:3])) / 1000
                report = json.load(open(os.path.join(out, 'report.json')))
                row.update(dice=dice(mask, truth), confidence=report.get('confidence'),
                           ml=report.get('lesionVolumeMl'), reference_ml=float(truth.sum() * voxel_ml),
                           warnings=[w if isinstance(w, str) else w.get('message', str(w))
                                     for w in report.get('warnings', [])])
            # a run with --register keeps its rows apart from the same rewriting opened by world coordinates
            results[f'{name}/{tname}' + (f'@{args.register}' if args.register and args.register != 'none' else '')] = row
            print(f'{name:24s} {tname:18s} ' + (f"Dice {row['dice']:.3f}" if 'dice' in row else f"ERROR {row['error']}")
                  + f"  {row['seconds']} s", flush=True)
    os.makedirs(args.out, exist_ok=True)
    json.dump(results, open(os.path.join(args.out, 'robustness.json'), 'w'), indent=1)
    table(results)


if __name__ == '__main__':
    main()
