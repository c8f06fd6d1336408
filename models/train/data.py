"""Data loading and preprocessing for Quorum's models.

Preprocessing here is the contract written into manifest.json (core/src/manifest.ts) and
re-implemented in TypeScript by the app (core/src/preprocess.ts); change both together.

  brain mask  'not-mode'     : a voxel is brain when any channel differs from that channel's
                               most frequent value (skull-stripped scans have a constant
                               background: 0 raw, a negative constant after BraTS z-scoring)
  normalise   'zscore-brain' : per channel, (v - mean_brain) / std_brain; background = 0
  clip                       : to CLIP
  resize      'bilinear'     : each axial slice to INPUT_SIZE with F.interpolate(bilinear,
                               align_corners=False, antialias=False); 240 -> 120 is then an
                               exact 2x2 average
"""
import glob
import os

import numpy as np
import torch
import torch.nn.functional as F

DATA_ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data'))
BRATS2015 = os.path.join(DATA_ROOT, 'brats2015-deepmedic')
CHANNELS = ['flair', 't1c']
CLIP = (-5.0, 5.0)
INPUT_SIZE = (120, 120)
HELD_OUT = 'brats_2013_pat0003'
TRAIN_SUBJECTS = ['brats_2013_pat0005', 'brats_2013_pat0006', 'brats_2013_pat0004']

_FILES = {'flair': 'Flair_subtrMeanDivStd.nii.gz', 't1c': 'T1c_subtrMeanDivStd.nii.gz'}


def subject_dir(subject):
    hits = glob.glob(os.path.join(BRATS2015, '*', subject + '_*'))
    if not hits:
        raise FileNotFoundError(f'{subject}: not found under {BRATS2015}')
    return hits[0]


def mode_value(a):
    vals, counts = np.unique(a, return_counts=True)
    return vals[counts.argmax()]


def brain_mask(channels):
    """channels: list of 3-D arrays. Brain = any channel differs from its own mode."""
    m = np.zeros(channels[0].shape, bool)
    for a in channels:
        m |= a != mode_value(a)
    return m


def normalise(channels, mask):
    out = []
    for a in channels:
        v = a[mask].astype(np.float64)
        mean, std = v.mean(), v.std()
        z = np.where(mask, (a - mean) / (std if std > 0 else 1.0), 0.0)
        out.append(np.clip(z, *CLIP).astype(np.float32))
    return np.stack(out)  # [C, X, Y, Z]


def resize_slices(x, size=INPUT_SIZE, mode='bilinear'):
    """x: torch [N, C, H, W] -> [N, C, *size] exactly as the app does it."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode=mode, align_corners=False)


def load_subject(subject):
    """Returns (image [C, X, Y, Z] normalised, label [X, Y, Z] whole tumour 0/1, brain [X,Y,Z])."""
    import nibabel as nib  # here, not at the top: training from a pack (pack.py) runs where nibabel is not

    d = subject_dir(subject)
    raw = [np.asarray(nib.load(os.path.join(d, _FILES[c])).dataobj, dtype=np.float32) for c in CHANNELS]
    mask = brain_mask(raw)
    image = normalise(raw, mask)
    label = (np.asarray(nib.load(os.path.join(d, 'OTMultiClass.nii.gz')).dataobj) > 0).astype(np.float32)
    return image, label, mask


def axial_slices(image, label, mask):
    """Volume arrays -> torch tensors of axial slices [Z, C, H, W] at model size, brain slices only.

    The NIfTI array is (i, j, k); a slice is image[:, :, :, k]. We keep the (i, j) order as
    (H, W) = (i, j) so that the app's slice layout (i fastest) maps without transposes:
    the TypeScript side reads slice k as rows j, columns i -> it must transpose. To keep both
    sides simple the convention is: tensor [H=j, W=i], i.e. row-major over the voxel buffer.
    """
    keep = mask.any(axis=(0, 1))
    img = torch.from_numpy(np.ascontiguousarray(image[:, :, :, keep].transpose(3, 0, 2, 1)))  # [Z, C, j, i]
    lab = torch.from_numpy(np.ascontiguousarray(label[:, :, keep].transpose(2, 1, 0)))[:, None]  # [Z, 1, j, i]
    return resize_slices(img), resize_slices(lab), np.nonzero(keep)[0]


def load_slices(subjects):
    imgs, labs = [], []
    for s in subjects:
        image, label, mask = load_subject(s)
        img, lab, _ = axial_slices(image, label, mask)
        imgs.append(img)
        labs.append(lab)
    return torch.cat(imgs), torch.cat(labs)


def load_wolleb_slice_dir(folder):
    """The paper's BraTS2020 slice layout: <folder>/<id>/brats_train_XXX_<seq>_NNN_w.nii.gz.
    Returns image [4, 240, 240] (t1, t1ce, t2, flair as in the paper) and seg [240, 240]."""
    import nibabel as nib

    out = {}
    for f in sorted(glob.glob(os.path.join(folder, '*.nii.gz'))):
        seq = os.path.basename(f).split('_')[3]
        out[seq] = np.asarray(nib.load(f).dataobj, dtype=np.float32)
    image = np.stack([out[s] for s in ('t1', 't1ce', 't2', 'flair')])
    return image, out.get('seg')
