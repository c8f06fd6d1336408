"""The ways another site or tool may store a case, for robustness.py: each takes the case's FLAIR and T1c
(float32 arrays), its reference and the affine, and returns them rewritten, the reference the same way. Most
keep one grid for all three; a few return one affine per file ({'flair', 't1c', 'label'}). TRANSFORMS names
them all, in the order of the README's table.
"""
import numpy as np
from scipy import ndimage

from thin_stack import thin_positions


def _shift_origin(affine, index):
    """Affine whose voxel `index` (may be negative) becomes voxel 0."""
    a = affine.copy()
    a[:3, 3] = affine[:3, :3] @ np.asarray(index, np.float64) + affine[:3, 3]
    return a


def identity(vols, lab, aff):
    return vols, lab, aff


def reversed_axes(vols, lab, aff):
    """i and j stored the other way round (RAS-ordered writer), the header saying so."""
    n = vols[0].shape
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    a = aff @ np.array([[1, 0, 0, n[0] - 1], [0, 1, 0, n[1] - 1], [0, 0, 1, 0], [0, 0, 0, 1.0]]) @ flip
    return [v[::-1, ::-1] for v in vols], lab[::-1, ::-1], a


def coronal_order(vols, lab, aff):
    """Voxel axes permuted (k, i, j): slices stacked anterior-posterior, as a coronal series is stored."""
    perm = (2, 0, 1)
    p = np.eye(4)[list(perm) + [3]].T  # new voxel (a, b, c) -> old index (b, c, a)
    return [np.ascontiguousarray(v.transpose(perm)) for v in vols], np.ascontiguousarray(lab.transpose(perm)), aff @ p


def int16_scaled(vols, lab, aff):
    """Stored as signed 16-bit with another scanner's scale and offset."""
    out = []
    for v in vols:
        lo, hi = np.percentile(v, [0.1, 99.9])
        out.append(np.clip((v - lo) / max(hi - lo, 1e-6) * 3000 - 200, -32768, 32767).astype(np.int16))
    return out, lab, aff


def padded_matrix(vols, lab, aff):
    """A 2x larger in-plane matrix of background around the same head (a wide field of view)."""
    n = vols[0].shape
    pad = ((n[0] // 2, n[0] - n[0] // 2), (n[1] // 2, n[1] - n[1] // 2), (0, 0))
    return ([np.pad(v, pad, constant_values=float(v.min())) for v in vols], np.pad(lab, pad),
            _shift_origin(aff, (-pad[0][0], -pad[1][0], 0)))


def fine_pixels(vols, lab, aff):
    """In-plane pixels of half the size (a 2x finer acquisition)."""
    z = (2, 2, 1)
    a = aff @ np.diag([0.5, 0.5, 1, 1])
    a = _shift_origin(a, (-0.5, -0.5, 0))  # the same field: pixel centres move by a quarter of the old pixel
    return ([ndimage.zoom(v.astype(np.float32), z, order=1) for v in vols], ndimage.zoom(lab, z, order=0), a)


def _block_means(vols, lab, aff, factors):
    """Each voxel the mean of a block of `factors` voxels (axes cropped to whole blocks), the reference
    too (a voxel is lesion when at least half its block is), and the header moved to the blocks' centres."""
    n = [s // f * f for s, f in zip(vols[0].shape, factors)]

    def avg(v):
        v = v[:n[0], :n[1], :n[2]].astype(np.float32)
        return v.reshape(n[0] // factors[0], factors[0], n[1] // factors[1], factors[1],
                         n[2] // factors[2], factors[2]).mean((1, 3, 5))
    a = _shift_origin(aff, [(f - 1) / 2 for f in factors]) @ np.diag([*factors, 1])
    return [avg(v) for v in vols], (avg(lab) >= 0.5).astype(np.uint8), a


def thick_slices(vols, lab, aff, n=5):
    """Slices n times thicker (each the mean of n), as a 2-D clinical sequence."""
    return _block_means(vols, lab, aff, (1, 1, n))


def noisy_background(vols, lab, aff, share=0.03, seed=0):
    """Rician noise of 3% of the tissue's 99th percentile everywhere (a raw magnitude image)."""
    g = np.random.default_rng(seed)
    out = []
    for v in vols:
        s = share * np.percentile(v[v > v.min()], 99)
        base = v.astype(np.float32) - float(v.min())
        out.append(np.hypot(base + g.normal(0, s, v.shape), g.normal(0, s, v.shape)).astype(np.float32))
    return out, lab, aff


def _field(shape, log_amplitude):
    """A smooth multiplicative field exp(a g), g a linear ramp across the volume from -1 to 1."""
    x, y, z = np.meshgrid(*[np.linspace(-1, 1, m) for m in shape], indexing='ij')
    return np.exp(log_amplitude * (0.8 * x + 0.5 * y - 0.3 * z) / 1.6)


def bias_field(vols, lab, aff, log_amplitude=0.3):
    """A multiplicative field from 0.74x to 1.35x across the head (an uncorrected coil profile)."""
    f = _field(vols[0].shape, log_amplitude)
    return [((v.astype(np.float32) - float(v.min())) * f).astype(np.float32) for v in vols], lab, aff


def strong_bias_field(vols, lab, aff):
    """From 0.62x to 1.62x: stronger than the training augmentation's +-30%."""
    return bias_field(vols, lab, aff, log_amplitude=0.48)


def partial_coverage(vols, lab, aff, keep=24):
    """Only `keep` slices around the lesion (a targeted sequence that does not cover the brain)."""
    ks = np.nonzero(lab.any((0, 1)))[0]
    c = int((ks.min() + ks.max()) // 2)
    a0 = max(0, min(c - keep // 2, vols[0].shape[2] - keep))
    return [v[:, :, a0:a0 + keep] for v in vols], lab[:, :, a0:a0 + keep], _shift_origin(aff, (0, 0, a0))


def oblique_header(vols, lab, aff):
    """The same voxels acquired 12 degrees oblique (rotated about the left-right axis)."""
    t = np.deg2rad(12)
    r = np.array([[1, 0, 0, 0], [0, np.cos(t), -np.sin(t), 0], [0, np.sin(t), np.cos(t), 0], [0, 0, 0, 1]])
    return vols, lab, r @ aff


def coarse_pixels(vols, lab, aff):
    """In-plane pixels twice the size (each the mean of 2 x 2; the reference too), as a quick clinical FLAIR."""
    return _block_means(vols, lab, aff, (2, 2, 1))


def tilted_head(vols, lab, aff, degrees=15):
    """The head itself turned 15 degrees in the axial plane, the header not saying so (a patient lying
    askew: nothing in the file can undo it, the model has to read a tilted brain)."""
    def rot(v, order):
        return ndimage.rotate(v.astype(np.float32), degrees, axes=(0, 1), reshape=False, order=order,
                              mode='constant', cval=float(v.min()))
    return [rot(v, 1) for v in vols], (rot(lab, 1) >= 0.5).astype(np.uint8), aff


def another_contrast(vols, lab, aff):
    """Another scanner's grey-level curve baked into the pixels: FLAIR ** 0.7 and T1c ** 1.4 of their
    0.1-99.9 percentile range, monotone but not linear (a linear rescaling is int16_scaled's)."""
    out = []
    for v, g in zip(vols, (0.7, 1.4)):
        lo, hi = np.percentile(v, [0.1, 99.9])
        out.append((np.clip((v - lo) / max(hi - lo, 1e-6), 0, None) ** g * 1000).astype(np.float32))
    return out, lab, aff


def thin_slices(vols, lab, aff, n=3):
    """Slices n times thinner, each in between read by linear interpolation (the reference by the
    nearest slice), as resampling a clinical stack onto a finer atlas grid writes it."""
    lo, hi, w, near = thin_positions(vols[0].shape[2], n)
    out = [(v[:, :, lo] * (1 - w) + v[:, :, hi] * w).astype(np.float32) for v in vols]
    return out, lab[:, :, near], aff @ np.diag([1, 1, 1 / n, 1])


def zero_background(vols, lab, aff):
    """Normalised inside the brain and 0 outside (nnU-Net's z-score with a mask): the voxels at the volume's
    lowest value set to 0. A change only where 0 lies inside the tissue's range (a z-scored scan); a scan
    whose lowest value is 0 already is stored as it was."""
    out = []
    for v in vols:
        f = v.astype(np.float32)
        f[v == v.min()] = 0
        out.append(f)
    return out, lab, aff


def nan_background(vols, lab, aff):
    """The background stored as NaN (float32), as SPM writes a masked image: every voxel at the
    volume's lowest value (the air of a head, the outside of a skull-stripped brain) holds no number."""
    out = []
    for v in vols:
        f = v.astype(np.float32)
        f[v == v.min()] = np.nan
        out.append(f)
    return out, lab, aff


# -- the sequences on grids of their own: every rewriting above keeps FLAIR and T1c on one grid, so the app's
# alignment (align.ts: each sequence resampled onto the FLAIR's grid by its header) is only measured here.
# These return one affine per file: {'flair': ..., 't1c': ..., 'label': ...}.

def t1c_own_grid(vols, lab, aff):
    """The T1c stored as a sagittal series (slices stacked left to right) with pixels of 0.8 of the size in
    its plane, the FLAIR as stored: the app resamples the T1c onto the FLAIR's grid by the headers."""
    perm = (1, 2, 0)  # new voxel (a, b, c) = old (c, a, b)
    p = np.eye(4)[list(perm) + [3]].T  # new index -> old index, as coronal_order
    t = np.ascontiguousarray(vols[1].transpose(perm)).astype(np.float32)
    # grid_mode: pixel edges kept, so new pixel o is centred at old index 0.8 o - 0.1 in the two zoomed axes
    t = ndimage.zoom(t, (1.25, 1.25, 1), order=1, grid_mode=True, mode='nearest')
    a = aff @ p @ np.array([[0.8, 0, 0, -0.1], [0, 0.8, 0, -0.1], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    return [vols[0], t], lab, {'flair': aff, 't1c': a, 'label': aff}


def thick_flair(vols, lab, aff, n=5):
    """A 2-D FLAIR of slices n times thicker (each the mean of n; the reference too) beside the T1c as
    stored, a 3-D acquisition of thin slices, as a clinical study has them: the FLAIR's thick grid is the
    one the app proposes on, the T1c is resampled onto it (compare thick_slices, where both are thick)."""
    (f,), l2, a2 = _block_means([vols[0]], lab, aff, (1, 1, n))
    return [f, vols[1]], l2, {'flair': a2, 't1c': aff, 'label': a2}


def _rigid_about_centre(aff, shape, degrees, shift_mm):
    """A rigid motion of the world about the volume's centre: turned `degrees` about the left-right
    axis (a nod), then moved `shift_mm`."""
    c = aff @ np.array([(shape[0] - 1) / 2, (shape[1] - 1) / 2, (shape[2] - 1) / 2, 1.0])
    t = np.deg2rad(degrees)
    r = np.array([[1, 0, 0, 0], [0, np.cos(t), -np.sin(t), 0], [0, np.sin(t), np.cos(t), 0], [0, 0, 0, 1.0]])
    to_c, back = np.eye(4), np.eye(4)
    to_c[:3, 3], back[:3, 3] = -c[:3], c[:3] + np.asarray(shift_mm, np.float64)
    return back @ r @ to_c


def t1c_moved(vols, lab, aff):
    """The patient moved between the FLAIR and the T1c (3 degrees of nod, 3 mm forward and 2 mm up) and
    the headers do not say so: by world coordinates the T1c sits off the FLAIR. `--register rigid` is the
    app's answer (robustness.py --register rigid)."""
    m = _rigid_about_centre(aff, vols[0].shape, 3.0, (0.0, 3.0, 2.0))
    return vols, lab, {'flair': aff, 't1c': m @ aff, 'label': aff}


def defaced(vols, lab, aff):
    """The face cut away, as research sites deface a head before sharing it (pydeface, mri_deface): the
    anterior fifth of the head below 40% of its height set to background. Only a head with skull has a face:
    on a skull-stripped brain this cuts the brain, so run it on heads (--cases the TCGA ones); a case whose
    lesion it would touch is stored as it was."""
    flair = vols[0]
    lo, hi = float(flair.min()), float(np.percentile(flair, 99))
    head = flair > lo + 0.05 * (hi - lo)
    ijk = np.indices(flair.shape).reshape(3, -1)
    world = (aff[:3, :3] @ ijk + aff[:3, 3:4]).reshape(3, *flair.shape)
    y, z = world[1], world[2]
    yh, zh = y[head], z[head]
    face = (y > yh.max() - 0.2 * (yh.max() - yh.min())) & (z < zh.min() + 0.4 * (zh.max() - zh.min()))
    if (face & (lab > 0)).any():
        return vols, lab, aff
    out = []
    for v in vols:
        f = v.astype(np.float32)
        f[face] = float(v.min())
        out.append(f)
    return out, lab, aff


def saturated_window(vols, lab, aff):
    """Exported as 8-bit through a display window, as a PACS export or a screenshot stores it: each sequence
    mapped to 0-255 from its lowest value to the 98th percentile of its non-background voxels, the
    brightest 2% (the FLAIR lesion's core among them) all 255."""
    out = []
    for v in vols:
        lo = float(v.min())
        hi = float(np.percentile(v[v > lo], 98))
        out.append(np.clip(np.rint((v - lo) / max(hi - lo, 1e-6) * 255), 0, 255).astype(np.uint8))
    return out, lab, aff


def motion_ghosts(vols, lab, aff, amplitude=0.08):
    """Periodic motion's ghosts along the phase-encoding axis (here j, anterior-posterior): two copies of the
    image a quarter of the matrix away each side, at 8% of its intensity each, as breathing or pulsation
    leaves them on a clinical scan."""
    out = []
    for v in vols:
        f = v.astype(np.float32)
        base = f - float(f.min())
        n = f.shape[1] // 4
        out.append(f + amplitude * (np.roll(base, n, axis=1) + np.roll(base, -n, axis=1)))
    return out, lab, aff


def strong_noise(vols, lab, aff):
    """Rician noise of 8% of the tissue's 99th percentile (a low-field or fast acquisition), against
    noisy_background's 3%."""
    return noisy_background(vols, lab, aff, share=0.08, seed=1)


def healthy_mirror(vols, lab, aff):
    """A brain without a lesion: the hemisphere with the lesion replaced by the mirror image of the other,
    about the left-right centre of the head (i is left-right in every case here), the reference empty.
    What is proposed is all false positive: the row reports the proposed mL, not a Dice. Only for a
    lesion that stays 3 voxels clear of that plane; otherwise the case is stored as it was, reference
    and all. The seam at the midline is not a real brain's, so this bounds what a healthy scan gets."""
    flair = vols[0]
    head = flair > float(flair.min()) + 0.05 * (float(np.percentile(flair, 99)) - float(flair.min()))
    ii = np.nonzero(head.any((1, 2)))[0]
    c = int(round((ii.min() + ii.max()) / 2))
    li = np.nonzero(lab.any((1, 2)))[0]
    if li.min() > c + 3:
        keep_lo = True  # the lesion is on the high-i side: mirror the low side onto it
    elif li.max() < c - 3:
        keep_lo = False
    else:
        return vols, lab, aff
    n = flair.shape[0]
    out = []
    for v in vols:
        f = v.astype(np.float32).copy()
        for i in range(n):
            m = 2 * c - i
            if (i > c) == keep_lo and 0 <= m < n:
                f[i] = f[m]
        out.append(f)
    return out, np.zeros_like(lab), aff


TRANSFORMS = {f.__name__: f for f in (identity, reversed_axes, coronal_order, int16_scaled, padded_matrix,
                                      fine_pixels, thick_slices, noisy_background, bias_field, strong_bias_field,
                                      partial_coverage, oblique_header, coarse_pixels, tilted_head,
                                      another_contrast, nan_background, thin_slices, zero_background,
                                      t1c_own_grid, thick_flair, t1c_moved, defaced, saturated_window,
                                      motion_ghosts, strong_noise, healthy_mirror)}
