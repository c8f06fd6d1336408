"""Every real case in ../shared/data that carries FLAIR + T1c + a whole-tumour reference, and the
split the v2 model is trained and validated on.

Split (by patient; whole site for TCGA-LGG):
  train      BraTS 2015 pat0004/5/6 and 32 TCGA-LGG patients of sites CS, DU, HT
  held out   TCGA-LGG site FG (all 6 patients, never seen: the leave-one-site-out fold),
             the last 2 patients (by name) of each other site (unseen patients, seen sites),
             BraTS 2015 pat0003, BraTS 2014/15 tcia_pat222 (raw intensities), and the
             BrainLesion BraTS case (its reference is a model's segmentation, not an expert's)
"""
import glob
import os

import nibabel as nib
import numpy as np

from preprocess import finite_or_background, lps_geometry

DATA_ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data'))
HELD_OUT_SITE = 'FG'
HELD_OUT_PER_SITE = 2


def _tcga_cases():
    out = []
    for d in sorted(glob.glob(os.path.join(DATA_ROOT, 'tcga-lgg', 'TCGA_*'))):
        name = os.path.basename(d)
        out.append(dict(name=name, dataset='tcga-lgg', site=name.split('_')[1],
                        flair=os.path.join(d, 'flair.nii.gz'), t1c=os.path.join(d, 't1c.nii.gz'),
                        label=os.path.join(d, 'seg.nii.gz')))
    return out


def _brats2015_cases():
    out = []
    for d in sorted(glob.glob(os.path.join(DATA_ROOT, 'brats2015-deepmedic', '*', 'brats_*'))):
        name = os.path.basename(d).rsplit('_', 1)[0]
        out.append(dict(name=name, dataset='brats2015', site='BraTS',
                        flair=os.path.join(d, 'Flair_subtrMeanDivStd.nii.gz'),
                        t1c=os.path.join(d, 'T1c_subtrMeanDivStd.nii.gz'),
                        label=os.path.join(d, 'OTMultiClass.nii.gz')))
    return out


def _other_cases():
    b = os.path.join(DATA_ROOT, 'brats-4seq')
    return [
        dict(name='brats_tcia_pat222', dataset='brats-raw', site='BraTS',
             flair=os.path.join(b, 'brats2015-tcia-pat222', 'Flair.nii.gz'),
             t1c=os.path.join(b, 'brats2015-tcia-pat222', 'T1c.nii.gz'),
             label=os.path.join(b, 'brats2015-tcia-pat222', 'segmentationWholeTumor.nii.gz')),
        dict(name='brainlesion_case', dataset='brainlesion (model reference)', site='BraTS',
             flair=os.path.join(b, 'brainlesion-brats-case', 'preprocessed_case', 't2f.nii.gz'),
             t1c=os.path.join(b, 'brainlesion-brats-case', 'preprocessed_case', 't1c.nii.gz'),
             label=os.path.join(b, 'brainlesion-brats-case', 'outputs', 'segmentation.nii.gz')),
    ]


def all_cases():
    return _tcga_cases() + _brats2015_cases() + _other_cases()


def split():
    """-> (train cases, held-out cases), each case a dict with 'role' set."""
    train, held = [], []
    tcga = _tcga_cases()
    for site in sorted({c['site'] for c in tcga}):
        members = [c for c in tcga if c['site'] == site]
        if site == HELD_OUT_SITE:
            held += [dict(c, role='held-out site') for c in members]
        else:
            train += members[:-HELD_OUT_PER_SITE]
            held += [dict(c, role='held-out patient') for c in members[-HELD_OUT_PER_SITE:]]
    for c in _brats2015_cases():
        (held if c['name'] == 'brats_2013_pat0003' else train).append(dict(c, role='held-out patient'))
    held += [dict(c, role='held-out dataset') for c in _other_cases()]
    return [dict(c, role='train') for c in train], held


def load_case(case):
    """-> (vols [flair, t1c] as float32 arrays (i, j, k), label 0/1 uint8, spacing, direction)."""
    imgs = [nib.load(case[k]) for k in ('flair', 't1c')]
    vols = [finite_or_background(np.asarray(im.dataobj, dtype=np.float32), case[k]) for im, k in zip(imgs, ('flair', 't1c'))]
    label = (np.asarray(nib.load(case['label']).dataobj) > 0).astype(np.uint8)
    spacing, direction = lps_geometry(imgs[0].affine)
    return vols, label, spacing, direction
