"""A training pack: the slices one run trains on, small enough to travel to a lent GPU machine.

The device tool sends the working tree and the paths named in its `carry` (64 MiB in all); the shared data
(../shared/data) and runs/cache-v2.npz (223 MB, every case) stay here. A pack holds only the slices the run's
selection keeps (train.py's --hold-out-site or train_prompts.py's --add-held-out, the same rule:
train.cases_kept), each slice's image as 8 bits per channel between that slice's own minimum and maximum,
the labels as build_cache.py stores them (0-255), and each slice's case and thickness flag, compressed. A
build_cache.py --thin cache's thin stacks do not travel (3x the slices of their heads: 75 MB with them): the
pack names their cases and factor, and unpacking makes them again from the packed slices (thin_stack.py).

  /usr/bin/python3 models/train/pack.py --out runs/pack [--hold-out-site S | --add-held-out X] [--cache F]   # here
  python3 models/train/pack.py --unpack runs/pack     # there: writes runs/cache-v2.npz for train*.py

An unpacked cache says which selection it was packed for; train.load_cache_v2 refuses another. The 8 bits
cost at most half a step of a slice's range (printed when packing: at most 0.009 on the shipped split); the
training augmentation adds noise of up to 0.08 and a gamma of every slice, far more than that, and the shipped
network's masks on 240 training tumour slices (t = 999) agree at Dice 0.9995 between the float16 cache and
the pack (2026-12-06).
Needs numpy only to unpack (the GPU machine has no nibabel).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from thin_stack import thin_block

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, 'runs', 'cache-v2.npz')
PACK = 'train-pack.npz'


def quantise(image):
    """float [N, C, H, W] -> (uint8 codes, lo [N, C], hi [N, C]): 8 bits between each slice-channel's extremes."""
    x = image.astype(np.float32)
    lo, hi = x.min((2, 3)), x.max((2, 3))
    scale = np.where(hi > lo, hi - lo, 1.0)
    codes = np.rint((x - lo[..., None, None]) / scale[..., None, None] * 255)
    return codes.astype(np.uint8), lo, hi


def dequantise(codes, lo, hi):
    scale = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
    return (lo[..., None, None] + codes.astype(np.float32) / 255 * scale[..., None, None]).astype(np.float16)


def pack(out, hold_out_site, add_held_out, cache=CACHE):
    sys.path.insert(0, HERE)
    from train import cache_selection, cases_kept  # torch, only here

    if not os.path.exists(cache):
        sys.exit(f'pack.py: no {cache}: run build_cache.py first')
    d = np.load(cache)  # an npz: each d[key] reads that array again, so each is read once here
    cases = json.loads(str(d['cases']))
    case = d['case']
    keep = cases_kept(cases, hold_out_site, add_held_out)[case]
    thin = {}
    if 'thin' in d.files:  # build_cache.py --thin: the stacks are made again on unpacking
        if 'thin_factor' not in d.files:
            sys.exit(f'pack.py: {cache} has thin stacks but not their factor (an older build_cache.py): build it again')
        thin = dict(thin_cases=np.unique(case[keep & d['thin']]), thin_factor=d['thin_factor'])
        keep &= ~d['thin']
    image = d['image'][keep]
    codes, lo, hi = quantise(image)
    err = np.abs(dequantise(codes, lo, hi).astype(np.float32) - image.astype(np.float32))
    selection = cache_selection(hold_out_site, add_held_out)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, PACK)
    # the cases' file paths stay here: they name this machine's data, not the pack's
    slim = [{k: c[k] for k in ('name', 'dataset', 'site', 'role')} for c in cases]
    np.savez_compressed(path + '.tmp.npz', codes=codes, lo=lo, hi=hi, label=d['label'][keep], case=case[keep],
                        thick=d['thick'][keep], train=d['train'][keep], cases=np.array(json.dumps(slim)),
                        pack_selection=np.array(json.dumps(selection)), **thin)
    os.replace(path + '.tmp.npz', path)
    names = sorted({cases[i]['name'] for i in np.unique(case[keep])})
    print(f'{path}: {int(keep.sum())} slices of {len(names)} cases for {json.dumps(selection)}, '
          f'{os.path.getsize(path) / 1e6:.1f} MB; 8-bit error mean {err.mean():.5f}, max {err.max():.4f}'
          + (f"; the thin stacks of {len(thin['thin_cases'])} heads are made again on unpacking" if thin else ''))


def with_thin_stacks(arrays, thin_cases, n):
    """The unpacked slices with each of thin_cases' stacks n times thinner after them, flagged 'thin', as
    build_cache.py --thin writes them (from 8-bit slices here, so equal to its stacks within the 8 bits)."""
    parts = {k: [v] for k, v in arrays.items()}
    parts['thin'] = [np.zeros(len(arrays['case']), bool)]
    for ci in thin_cases:
        native = (arrays['case'] == ci) & ~arrays['thick']
        img, lab = thin_block(arrays['image'][native], arrays['label'][native] / 255, n)
        m = len(img)
        for key, value in (('image', img), ('label', lab), ('case', np.full(m, ci, arrays['case'].dtype)),
                           ('thick', np.zeros(m, bool)), ('train', np.ones(m, bool)), ('thin', np.ones(m, bool))):
            parts[key].append(value)
    return {k: np.concatenate(v) for k, v in parts.items()} | {'thin_factor': np.array(n)}


def unpack(folder):
    path = os.path.join(folder, PACK)
    if not os.path.exists(path):
        sys.exit(f'pack.py: no training pack {path} (pack.py --out {folder} makes one)')
    if os.path.exists(CACHE):
        had = np.load(CACHE)
        if 'pack_selection' not in had.files:
            sys.exit(f'pack.py: {CACHE} is build_cache.py\'s own cache (every case): not overwritten by a pack')
    p = np.load(path)
    t0 = time.time()
    os.makedirs(os.path.dirname(CACHE), exist_ok=True)
    arrays = dict(image=dequantise(p['codes'], p['lo'], p['hi']), label=p['label'], case=p['case'],
                  thick=p['thick'], train=p['train'])
    if 'thin_factor' in p.files:
        arrays = with_thin_stacks(arrays, p['thin_cases'], int(p['thin_factor']))
    np.savez(CACHE + '.tmp.npz', **arrays, cases=p['cases'], pack_selection=p['pack_selection'])
    os.replace(CACHE + '.tmp.npz', CACHE)
    print(f"{CACHE}: {len(arrays['case'])} slices from {path} for {str(p['pack_selection'])} ({time.time() - t0:.1f} s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', help='pack into this folder (relative to models/train, as train.py --run)')
    ap.add_argument('--unpack', help='a pack folder -> runs/cache-v2.npz')
    ap.add_argument('--hold-out-site', help="train.py's --hold-out-site of the run the pack is for")
    ap.add_argument('--add-held-out', default='none', help="train_prompts.py's --add-held-out of the run")
    ap.add_argument('--cache', default=CACHE, help='the cache to pack (build_cache.py --out, e.g. with --thin); '
                    'it unpacks as runs/cache-v2.npz')
    args = ap.parse_args()
    if bool(args.out) == bool(args.unpack):
        ap.error('give --out (pack) or --unpack (unpack)')
    where = lambda p: p if os.path.isabs(p) else os.path.join(HERE, p)  # noqa: E731
    if args.out:
        pack(where(args.out), args.hold_out_site, args.add_held_out, where(args.cache))
    else:
        unpack(where(args.unpack))


if __name__ == '__main__':
    main()
