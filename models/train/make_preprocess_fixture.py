"""Reference output of preprocess.py on two real cases, for core/src/preprocess-v2.ts.

  /usr/bin/python3 models/train/make_preprocess_fixture.py

Writes test/fixtures/preprocess-v2/<case>.json + .bin (format of test/fixtures/README.md:
{meta, arrays: {name: {offset, shape}}} + little-endian float32, C order). test/unit/preprocess-v2.test.ts
reads the same NIfTIs with the app's own reader and compares:
  meta     inputs (paths relative to ../shared/data; derive: how the test rewrites them first), the
           manifest constants, background fills (null: none), stats per channel,
           centre, axes, slices (proposed), inputSlices, backSlice
  inputs   [len(inputSlices), C, H, W] model inputs
  contextSlices  {context: {slice: the slices whose FLAIR follows it}} (context.py)
  sliceDifferences, contextStride, contextSlicesStride3   the context stride (context.py)
  backMap  [H, W] the model map that is mapped back: channel 0 of the input of backSlice
  back     the back-mapped native plane of backSlice, as a volume stores it (lower voxel axis fastest)
Re-run after any change to preprocess.py (cheap: a few seconds per case).
"""
import os
import sys

import nibabel as nib
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import preprocess as P  # noqa: E402
from context import neighbour_slices, slice_differences, stride_of  # noqa: E402
from make_fixtures import write as write_fixture  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..'))
DATA = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data'))
OUT = os.path.join(REPO, 'test', 'fixtures', 'preprocess-v2')

CASES = {
    # TCGA-LGG: 8-bit, skull present, thick slices stored as 1 mm
    'tcga-lgg-fg-6689': ('tcga-lgg/TCGA_FG_6689_20020326/flair.nii.gz', 'tcga-lgg/TCGA_FG_6689_20020326/t1c.nii.gz'),
    # BraTS 2015 tcia pat222: raw float intensities, skull-stripped
    'brats-tcia-pat222': ('brats-4seq/brats2015-tcia-pat222/Flair.nii.gz',
                          'brats-4seq/brats2015-tcia-pat222/T1c.nii.gz'),
    # BraTS 2015 pat0003, z-scored in the brain, rewritten with 0 outside it (as nnU-Net normalises with a
    # mask): the voxels at each volume's minimum set to 0, in memory (meta.derive; the test does the same)
    'brats-pat0003-zero-background': ('brats2015-deepmedic/validation/brats_2013_pat0003_1/Flair_subtrMeanDivStd.nii.gz',
                                      'brats2015-deepmedic/validation/brats_2013_pat0003_1/T1c_subtrMeanDivStd.nii.gz'),
}
DERIVE = {'brats-pat0003-zero-background': 'zero-background'}


def derive(how, vol):
    if how == 'zero-background':
        vol = vol.copy()
        vol[vol == vol.min()] = 0
    return vol


def write(name, meta, arrays):
    write_fixture(name, meta, arrays, out=OUT)


def case(name, files):
    # as datasets.load_case reads training cases: float32 voxels, LPS geometry from the affine
    imgs = [nib.load(os.path.join(DATA, f)) for f in files]
    vols = [derive(DERIVE.get(name), np.asarray(im.dataobj, dtype=np.float32)) for im in imgs]
    spacing, direction = P.lps_geometry(imgs[0].affine)
    frame = P.ModelFrame(vols, spacing, direction, names=['flair', 't1c'])
    ks = frame.slices
    # one slice near the top or bottom of the head (little foreground) and one through the middle
    input_slices = [ks[2], ks[len(ks) // 2]]
    inputs = np.stack([frame.model_input(vols, k) for k in input_slices])
    back_slice = input_slices[1]
    back_map = inputs[1, 0]
    plane = frame.to_native(back_map)
    vol = np.zeros(frame.shape, np.float64)
    frame.place(vol, back_slice, plane)
    sl = [slice(None)] * 3
    sl[frame.slice_axis] = back_slice
    back = vol[tuple(sl)].ravel(order='F')
    differences = slice_differences(frame, vols)
    meta = dict(
        files=list(files),
        **({'derive': DERIVE[name]} if name in DERIVE else {}),
        fills=[None if f is None else dict(value=f[0], to=f[1]) for f in frame.fills],
        spec=dict(kind='head-robust-v2', inputSize=list(P.INPUT_SIZE), spacingMm=P.SPACING_MM, clip=list(P.CLIP),
                  histogramBins=P.HIST_BINS, sampleTarget=P.SAMPLE_TARGET,
                  minSliceForegroundMm2=P.MIN_SLICE_FOREGROUND_MM2),
        stats=[dict(lo=s['lo'], hi=s['hi'], otsuBin=int(s['otsu_bin']), p1=s['p1'], p50=s['p50'], p99=s['p99'])
               for s in frame.stats],
        centre=frame.centre,
        axes=dict(sliceAxis=frame.slice_axis, colAxis=frame.col_axis, colSign=int(frame.col_sign),
                  rowAxis=frame.row_axis, rowSign=int(frame.row_sign)),
        slices=ks,
        inputSlices=input_slices,
        backSlice=back_slice,
        # context.py's neighbours (core/src/context-frame.ts), 1 and 2 slices each way, at both ends and inside
        contextSlices={str(c): {str(ks[p]): neighbour_slices(ks, p, c) for p in (0, 1, len(ks) // 2, len(ks) - 1)}
                       for c in (1, 2)},
        # context.py's slice differences d(1..) and the stride at the shipped contextMinChange, and the
        # neighbours 3 places apart (the stride a thin stack gets)
        sliceDifferences=differences,
        contextStride={str(m): stride_of(differences, m) for m in (0.07, 0.1)},
        contextSlicesStride3={str(ks[p]): neighbour_slices(ks, p, 1, 3) for p in (0, 2, len(ks) // 2, len(ks) - 2)},
    )
    write(name, meta, dict(inputs=inputs, backMap=back_map, back=back))
    print(f'{name}: {len(ks)} slices, centre {np.round(frame.centre, 2).tolist()}, stats {frame.stats}')


def main():
    for name, files in CASES.items():
        case(name, files)


if __name__ == '__main__':
    main()
