"""Preprocess every case once (preprocess.py, the app's v2 path) into runs/cache-v2.npz:
model-grid slices [N, 2, H, W] float16, soft labels [N, 1, H, W] uint8 (x255), and per slice
its case index, a 'thick' flag and whether it is in the training split.

  /usr/bin/python3 models/train/build_cache.py

Thick slices: for cases acquired with thin (< 2 mm) slices, the average of 5 neighbouring
slices is added as well (image and label), so that the model sees the partial-volume blur of
the 5-6 mm slices of routine 2-D FLAIR.

Thin stacks (--thin N, v15-thin-tune-plan.json): each TCGA-LGG training head's slices are added
again N times thinner (N - 1 slices linearly interpolated between each pair of neighbours, the
label alike), flagged `thin`: a head with skull as a 3-D FLAIR's thin slices show it, which no
training case did (9.1.1 lost ~0.02-0.03 Dice on such stacks, robustness.py thin_slices).

  /usr/bin/python3 models/train/build_cache.py --thin 3 --out models/train/runs/cache-v2-thin.npz
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from datasets import load_case, split  # noqa: E402
from preprocess import ModelFrame  # noqa: E402
from thin_stack import thin_block  # noqa: E402

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
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--thin', type=int, default=0, help='add each TCGA-LGG training head N times thinner')
    ap.add_argument('--out', default=OUT)
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    train, held = split()
    cases = train + held
    imgs, labs, case_idx, thick_all, is_train, thin_all = [], [], [], [], [], []
    t0 = time.time()
    for ci, c in enumerate(cases):
        img, lab, thick = case_slices(c)
        imgs.append(img.astype(np.float16))
        labs.append(np.round(np.clip(lab, 0, 1) * 255).astype(np.uint8))
        case_idx.append(np.full(len(img), ci, np.int32))
        thick_all.append(thick)
        is_train.append(np.full(len(img), c['role'] == 'train'))
        thin_all.append(np.zeros(len(img), bool))
        if args.thin > 1 and c['role'] == 'train' and c['dataset'] == 'tcga-lgg':
            native = ~thick
            img_n, lab_n = thin_block(img[native], lab[native], args.thin)
            imgs.append(img_n)
            labs.append(lab_n)
            case_idx.append(np.full(len(img_n), ci, np.int32))
            thick_all.append(np.zeros(len(img_n), bool))
            is_train.append(np.ones(len(img_n), bool))
            thin_all.append(np.ones(len(img_n), bool))
        print(f"{c['name']:32s} {c['role']:18s} {len(img):4d} slices  {time.time() - t0:.0f}s", flush=True)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    # thin_factor: pack.py rebuilds the thin stacks from it rather than carrying them
    thin = {'thin': np.concatenate(thin_all), 'thin_factor': np.array(args.thin)} if args.thin > 1 else {}
    np.savez(out + '.tmp.npz', image=np.concatenate(imgs), label=np.concatenate(labs),
             case=np.concatenate(case_idx), thick=np.concatenate(thick_all), train=np.concatenate(is_train),
             cases=np.array(json.dumps(cases)), **thin)
    os.replace(out + '.tmp.npz', out)
    print('wrote', out)


if __name__ == '__main__':
    main()
