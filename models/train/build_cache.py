"""Preprocess every case once (preprocess.py, the app's v2 path) into runs/cache-v2.npz:
model-grid slices [N, 2, H, W] float16, soft labels [N, 1, H, W] uint8 (x255), and per slice
its case index, a 'thick' flag and whether it is in the training split.

  /usr/bin/python3 models/train/build_cache.py

Thick slices: for cases acquired with thin (< 2 mm) slices, the average of 5 neighbouring
slices is added as well (image and label), so that the model sees the partial-volume blur of
the 5-6 mm slices of routine 2-D FLAIR.
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from datasets import load_case, split  # noqa: E402
from preprocess import ModelFrame  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), 'runs', 'cache-v2.npz')


def case_slices(case):
    vols, label, spacing, direction = load_case(case)
    frame = ModelFrame(vols, spacing, direction, names=[case['flair'], case['t1c']])
    ks = frame.slices
    img = np.stack([frame.model_input(vols, k) for k in ks])
    lab = np.stack([frame.model_label(label, k) for k in ks])[:, None]
    thick = np.zeros(len(ks), bool)
    # TCGA-LGG's 1 mm is nominal (the slice stacks carry no spacing; real slices are thick)
    if spacing[frame.slice_axis] < 2.0 and len(ks) >= 5 and case['dataset'] != 'tcga-lgg':
        r = 2
        img_t = np.stack([img[max(0, i - r):i + r + 1].mean(0) for i in range(len(ks))])
        lab_t = np.stack([lab[max(0, i - r):i + r + 1].mean(0) for i in range(len(ks))])
        img, lab = np.concatenate([img, img_t]), np.concatenate([lab, lab_t])
        thick = np.concatenate([thick, np.ones(len(ks), bool)])
    return img, lab, thick


def main():
    train, held = split()
    cases = train + held
    imgs, labs, case_idx, thick_all, is_train = [], [], [], [], []
    t0 = time.time()
    for ci, c in enumerate(cases):
        img, lab, thick = case_slices(c)
        imgs.append(img.astype(np.float16))
        labs.append(np.round(np.clip(lab, 0, 1) * 255).astype(np.uint8))
        case_idx.append(np.full(len(img), ci, np.int32))
        thick_all.append(thick)
        is_train.append(np.full(len(img), c['role'] == 'train'))
        print(f"{c['name']:32s} {c['role']:18s} {len(img):4d} slices  {time.time() - t0:.0f}s", flush=True)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez(OUT + '.tmp.npz', image=np.concatenate(imgs), label=np.concatenate(labs),
             case=np.concatenate(case_idx), thick=np.concatenate(thick_all), train=np.concatenate(is_train),
             cases=np.array(json.dumps(cases)))
    os.replace(OUT + '.tmp.npz', OUT)
    print('wrote', OUT)


if __name__ == '__main__':
    main()
