"""A stack of slices made n times thinner by linear interpolation between neighbours: robustness.py's
thin_slices rewriting (rewritings.py), build_cache.py --thin's training stacks, and pack.py, which rebuilds
those stacks when it unpacks rather than carrying them (3x the slices of their heads). Numpy only: pack.py
unpacks on a lent GPU machine, which has neither scipy nor nibabel.
"""
import numpy as np


def thin_positions(k, n):
    """A stack of k slices made n times thinner: for each new slice the stored slices below and above it
    (lo, hi), its weight on hi and the nearest stored slice; the stored slices stay where they were."""
    z = np.arange((k - 1) * n + 1) / n
    lo = np.minimum(np.floor(z).astype(int), k - 1)
    hi = np.minimum(lo + 1, k - 1)
    return lo, hi, (z - lo).astype(np.float32), np.minimum(np.rint(z).astype(int), k - 1)


def thinner(x, n):
    """x [k, ...] slices in stack order -> [(k - 1) * n + 1, ...] float32: n - 1 slices linearly
    interpolated between each pair of neighbours."""
    lo, hi, w, _ = thin_positions(len(x), n)
    w = w.reshape(-1, *[1] * (x.ndim - 1))
    x = x.astype(np.float32)
    return x[lo] * (1 - w) + x[hi] * w


def thin_block(image, label, n):
    """A head's slices (image, label 0..1) -> its stack n times thinner as build_cache.py stores slices: image
    float16, label uint8 x255. build_cache.py --thin and pack.py's unpacking both write their stacks with it."""
    return thinner(image, n).astype(np.float16), np.round(np.clip(thinner(label, n), 0, 1) * 255).astype(np.uint8)
