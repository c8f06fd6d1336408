"""The uncertainty map of a proposal from the members' per-voxel std (the engine's
core/src/uncertainty-map.ts does the same; test/unit/uncertainty-map.test.ts checks it against
the fixture this module writes).

The network sees one axial slice at a time, so its members' disagreement about whether a lesion
goes on into the next slice shows up in this slice's std, not in the next one's: where every member
missed the lesion's top or bottom slice, the std there is 0. A 3-D Gaussian (sigma in voxels,
truncated at 3 sigma, zero outside the volume) spreads each voxel's std to its neighbours on every
axis. Measured on site folds (quick_check.py --uncertainty) and on the held-out cases.
"""
import numpy as np
from scipy.ndimage import gaussian_filter

TRUNCATE = 3.0


def uncertainty_map(std, sigma_voxels):
    """std: 3-D array of the members' per-voxel std -> the map (float32); sigma 0: std itself."""
    std = np.asarray(std, np.float32)
    if not sigma_voxels:
        return std
    return gaussian_filter(std, sigma_voxels, mode='constant', cval=0.0, truncate=TRUNCATE).astype(np.float32)


def write_fixture(source):
    """test/fixtures/uncertainty-map/: a real std volume (a 36 x 32 x 12 block round the lesion of
    an app proposal's uncertainty.nii.gz) and its map at sigma 1 and 0.7, stored as the engine's
    Float32Array holds a volume (x fastest)."""
    import os
    import sys

    import nibabel as nib

    sys.path.insert(0, os.path.dirname(__file__))
    from make_fixtures import write  # noqa: E402
    std = np.asarray(nib.load(source).dataobj, np.float32)
    c = [int(np.mean(a)) for a in np.nonzero(std > 0.2)]
    lo = [max(0, min(ci - h, n - 2 * h)) for ci, h, n in zip(c, (18, 16, 6), std.shape)]
    block = std[lo[0]:lo[0] + 36, lo[1]:lo[1] + 32, lo[2]:lo[2] + 12]
    # the voxel order of core/src/volume.ts: x fastest (numpy C order of the [z, y, x] transpose)
    xf = lambda a: np.ascontiguousarray(a.transpose(2, 1, 0))  # noqa: E731
    out = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'uncertainty-map')
    write('block', {'source': os.path.basename(os.path.dirname(source)), 'dims': list(block.shape),
                    'truncate': TRUNCATE, 'sigmas': [1.0, 0.7]},
          {'std': xf(block), 'map1': xf(uncertainty_map(block, 1.0)), 'map07': xf(uncertainty_map(block, 0.7))},
          out=out)


if __name__ == '__main__':
    import argparse
    ap = argparse.ArgumentParser(description='write the fixture of core/src/uncertainty-map.ts')
    ap.add_argument('--fixture', required=True, help="an app proposal's uncertainty.nii.gz")
    write_fixture(ap.parse_args().fixture)
