"""Independent reference for the NIfTI tests: what nibabel makes of each file.
Prints one JSON object per file: shape, best affine, sum/min/max of volume 0 (scaled)."""
import json
import sys

import nibabel as nib
import numpy as np

out = {}
for f in sys.argv[1:]:
    try:
        im = nib.load(f)
        if not isinstance(im, (nib.Nifti1Image, nib.Nifti2Image, nib.Nifti1Pair, nib.Nifti2Pair)):
            out[f] = {'error': type(im).__name__}
            continue
        a = np.asanyarray(im.dataobj)
        if np.iscomplexobj(a):
            out[f] = {'error': 'complex'}
            continue
        while a.ndim > 3:
            a = a[..., 0]
        while a.ndim < 3:
            a = a[..., None]
        a = a.astype(np.float64)
        fin = a[np.isfinite(a)]
        v0 = float(a.ravel(order='F')[a.size // 3])
        out[f] = {'shape': list(a.shape), 'affine': im.affine.ravel().tolist(), 'sum': float(fin.sum()),
                  'min': float(fin.min()), 'max': float(fin.max()), 'nonFinite': int(a.size - fin.size),
                  'v0': v0 if np.isfinite(v0) else None}
    except Exception as e:  # nibabel refusing a file is part of the reference
        out[f] = {'error': str(e)[:200]}
print(json.dumps(out))
