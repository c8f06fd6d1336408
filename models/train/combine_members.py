"""Pools the member masks of two or more propose-dataset runs (each with --export nifti-members)
into one ensemble: mask = mean of the members' binary masks > 0.5 (a vote; the app thresholds the
mean of the members' probabilities, which the exports do not hold, so the two can differ where the
members are unsure), uncertainty = their std (smoothed by --sigma voxels as the app smooths its map,
uncertainty.py; 0: not smoothed), case confidence = member-agreement Dice (each member's mask against
the ensemble's, pooled), written as a propose-dataset output for evaluate_v2.py.

  /usr/bin/python3 models/train/combine_members.py --run runs/a --run runs/b --out runs/a+b

Used for the two-model ensemble check (runs/decision-2model.txt); both arms go through it so that
they are formed and scored the same way.
"""
import argparse
import glob
import json
import os

import nibabel as nib
import numpy as np

from uncertainty import uncertainty_map


def members_of(case_dir):
    files = sorted(glob.glob(os.path.join(case_dir, 'members', 'member-*.nii.gz')))
    if not files:
        raise SystemExit(f'{case_dir}: no members/member-*.nii.gz (run with --export nifti-members)')
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', action='append', required=True, help='a propose-dataset output folder')
    ap.add_argument('--out', required=True)
    ap.add_argument('--sigma', type=float, default=0.0,
                    help="the uncertainty map's sigma in voxels (the app's recommended.uncertaintySigmaVoxels; 0: the std)")
    a = ap.parse_args()
    cases = sorted(d for d in os.listdir(a.run[0]) if not d.startswith('.') and os.path.isdir(os.path.join(a.run[0], d)))
    for case in cases:
        files = [f for r in a.run for f in members_of(os.path.join(r, case))]
        ref = nib.load(files[0])
        stack = np.stack([np.asarray(nib.load(f).dataobj, dtype=np.float32) for f in files])
        mean = stack.mean(0)
        std = uncertainty_map(stack.std(0), a.sigma)
        mask = mean > 0.5
        member_masks = stack > 0.5
        inter = (member_masks & mask[None]).sum()
        total = member_masks.sum() + len(files) * mask.sum()
        confidence = float(2 * inter / total) if total else 1.0
        od = os.path.join(a.out, case)
        os.makedirs(od, exist_ok=True)
        hdr = ref.header.copy()
        hdr.set_data_dtype(np.uint8)
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), ref.affine, hdr), os.path.join(od, 'mask.nii.gz'))
        hdr = ref.header.copy()
        hdr.set_data_dtype(np.float32)
        nib.save(nib.Nifti1Image(std.astype(np.float32), ref.affine, hdr), os.path.join(od, 'uncertainty.nii.gz'))
        voxel_mm3 = float(np.prod(ref.header.get_zooms()[:3]))
        report = dict(case=case, members=len(files), runs=a.run, confidence=confidence,
                      uncertaintyMm3=float(std.sum() * voxel_mm3), lesionVolumeMl=float(mask.sum() * voxel_mm3 / 1000))
        with open(os.path.join(od, 'report.json'), 'w') as f:
            json.dump(report, f, indent=1)
        print(f'{case}: {len(files)} members, {report["lesionVolumeMl"]:.1f} mL, confidence {confidence:.3f}')


if __name__ == '__main__':
    main()
