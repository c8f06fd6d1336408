"""One more BraTS glioblastoma, from another release: the Medical Segmentation Decathlon's BRATS_009.

`../shared/data/brats-4seq/msd-ai4m-patches` holds that case only as 20 training patches of
160 x 160 x 16 voxels (raw FLAIR, T1w, T1gd, T2w; one-hot labels), cut from the Decathlon's
240 x 240 x 155 volume at the offsets in their file names. Put back in place they cover the
middle of the brain; this script keeps the axial slices where every brain voxel lies inside
the patches (a partial volume, as a slab acquisition is), writes them as a FLAIR + T1c case
with its whole-tumour reference, proposes it through the app's own CLI and scores it.

The subject is not one of ours: its FLAIR correlates at most 0.51 with any BraTS 2015 subject
of ../shared/data under any flip, transpose or slice shift (the same brain would be ~0.9), and
the Decathlon's release is BraTS 2016/17 with raw intensities, so it is another check of what
README "what this predicts" says of skull-stripped atlas-space data. The Decathlon's files put
i along left-right and j posterior to anterior (frontal lobe at high j); the header written here
says so (RAS), which the reader reorients as any other file.

  /usr/bin/python3 models/train/msd_slab.py --out runs/msd [--model DIR] [--members N] [--json F]
Needs python3-h5py (apt-get install python3-h5py).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

import nibabel as nib
import numpy as np
from scipy import ndimage

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..'))
PATCHES = os.path.join(ROOT, '..', 'shared', 'data', 'brats-4seq', 'msd-ai4m-patches', 'processed', 'train')
SHAPE = (240, 240, 155)  # the Decathlon's Task01 volumes
FLAIR, T1GD = 0, 2  # Task01's channel order: FLAIR, T1w, T1gd, T2w


def stitch(folder=PATCHES):
    """The patches averaged back into the volume (overlaps agree to within rounding on 99% of voxels),
    the whole-tumour label (any of edema, non-enhancing, enhancing) and where any patch lies."""
    try:
        import h5py
    except ImportError:
        sys.exit('msd_slab.py: needs h5py to read the patches: apt-get install python3-h5py')
    files = sorted(glob.glob(os.path.join(folder, 'BRATS_009*.h5')))
    if not files:
        sys.exit(f'msd_slab.py: no BRATS_009 patches in {folder}')
    total = np.zeros((4,) + SHAPE)
    count = np.zeros(SHAPE)
    label = np.zeros(SHAPE, np.uint8)
    for f in files:
        m = re.search(r'_x(\d+)_y(\d+)_z(\d+)\.h5$', f)
        if not m:
            sys.exit(f'msd_slab.py: {os.path.basename(f)}: no _x<i>_y<j>_z<k> offset in the name')
        with h5py.File(f, 'r') as h:
            x, y = h['x'][:], h['y'][:]
        i, j, k = map(int, m.groups())
        box = (slice(i, i + x.shape[1]), slice(j, j + x.shape[2]), slice(k, k + x.shape[3]))
        total[(slice(None),) + box] += x
        count[box] += 1
        label[box] = np.maximum(label[box], y[..., 1:].sum(-1) > 0)
    covered = count > 0
    return total / np.maximum(count, 1), label, covered


def full_slab(image, covered, tolerance=0.005):
    """First and last axial slice (inclusive) of the longest run where at most `tolerance` of the
    brain voxels touch the edge of the patches' union: there the brain is whole in-plane."""
    brain = image[FLAIR] > 0
    edge = covered & ~ndimage.binary_erosion(covered, structure=np.ones((3, 3, 1), bool))
    ok = [covered[:, :, k].any() and (edge[:, :, k] & brain[:, :, k]).sum() <= tolerance * max(brain[:, :, k].sum(), 1)
          for k in range(SHAPE[2])]
    best, start = (0, -1), None
    for k, good in enumerate(ok + [False]):
        if good and start is None:
            start = k
        elif not good and start is not None:
            best = max(best, (k - start, start))
            start = None
    n, k0 = best
    if n == 0:
        sys.exit('msd_slab.py: no axial slice holds the whole brain inside the patches')
    return k0, k0 + n - 1


def write(out):
    image, label, covered = stitch()
    k0, k1 = full_slab(image, covered)
    affine = np.eye(4)
    affine[2, 3] = k0  # slice k0 of the Decathlon volume at z = k0 mm, so slab and volume share world positions
    case = os.path.join(out, 'BRATS_009')
    os.makedirs(case, exist_ok=True)
    for name, c in (('flair', FLAIR), ('t1c', T1GD)):
        nib.save(nib.Nifti1Image(image[c][:, :, k0:k1 + 1].astype(np.float32), affine), os.path.join(case, f'{name}.nii.gz'))
    ref = os.path.join(out, 'BRATS_009-reference.nii.gz')  # beside the case: propose must not read it as a sequence
    nib.save(nib.Nifti1Image(label[:, :, k0:k1 + 1], affine), ref)
    return case, ref, (k0, k1), float(label[:, :, k0:k1 + 1].sum()) / 1000, float(label.sum()) / 1000


def cli(*args):
    run = subprocess.run(['node', os.path.join(ROOT, 'bin', 'quorum.mjs'), *args], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f'quorum {args[0]} failed: {(run.stderr or run.stdout).strip().splitlines()[-1:]}')
    return run.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--model', help="the CLI's --model (default: the shipped one)")
    ap.add_argument('--members', type=int, help="the CLI's --members (default: the model's)")
    ap.add_argument('--json', help='append this run to this JSON file (a list of runs)')
    args = ap.parse_args()
    case, ref, (k0, k1), slab_ml, patches_ml = write(args.out)
    tag = os.path.basename(os.path.normpath(args.model)) if args.model else 'shipped'
    tag += f'-m{args.members}' if args.members else ''
    pred = os.path.join(args.out, f'proposal-{tag}')
    cmd = ['propose', case, '--out', pred, '--overwrite', '--seed', '0']
    cmd += ['--model', args.model] if args.model else []
    cmd += ['--members', str(args.members)] if args.members else []
    cli(*cmd)
    score = json.loads(cli('evaluate', '--pred', os.path.join(pred, 'mask.nii.gz'), '--truth', ref))
    report = json.load(open(os.path.join(pred, 'report.json')))
    row = dict(case='MSD Task01 BRATS_009 (raw intensities), stitched from its patches', slices=[k0, k1],
               reference_ml=round(slab_ml, 1), reference_ml_in_all_patches=round(patches_ml, 1),
               model=report['model'], members=report['settings'].get('members'),
               dice=round(score['dice'], 4), hd95_mm=score['hd95Mm'], pred_ml=score['predVolumeMl'],
               confidence=round(report['confidence'], 3), uncertain_ml=round(report['uncertainMl'], 2),
               seconds_per_slice=round(report['timings'].get('secondsPerSlice', float('nan')), 3)
               if isinstance(report.get('timings'), dict) else None)
    print(json.dumps(row))
    if args.json:
        runs = json.load(open(args.json)) if os.path.exists(args.json) else []
        runs.append(row)
        json.dump(runs, open(args.json, 'w'), indent=1)


if __name__ == '__main__':
    main()
