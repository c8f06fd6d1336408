"""Reference fixtures for the TypeScript engine, from the weights behind the SHIPPED model.

  /usr/bin/python3 models/train/make_fixtures.py --run runs/wt2ch

Re-run after every export (export.py saves runs/<run>/exported.pt). Format (test/fixtures/README.md):
<name>.json {meta, arrays: {name: {offset, shape}}} + <name>.bin little-endian float32, C order.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from data import DATA_ROOT, HELD_OUT, axial_slices, load_subject, subject_dir  # noqa: E402
from diffusion import Schedule, linear_betas, sample_ddim  # noqa: E402
from manifest_v2 import held_out_slices_v2  # noqa: E402
from train_prompts import click_maps  # noqa: E402
from unet import load_exported  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(REPO, 'test', 'fixtures', 'quorum-wt-2ch')


def write(name, meta, arrays, out=None):
    out = out or OUT
    os.makedirs(out, exist_ok=True)
    index, blobs, off = {}, [], 0
    for k, v in arrays.items():
        a = np.ascontiguousarray(np.asarray(v, dtype='<f4'))
        index[k] = {'offset': off, 'shape': list(a.shape)}
        blobs.append(a.tobytes())
        off += a.nbytes
    with open(os.path.join(out, name + '.bin'), 'wb') as f:
        f.write(b''.join(blobs))
    with open(os.path.join(out, name + '.json'), 'w') as f:
        json.dump({'meta': meta, 'arrays': index}, f, indent=1)
    print(f'{name}: {off / 1e6:.2f} MB')


def write_step(model, x_img, g, meta):
    """One denoising step at t = 999 and t = 200 on a real slice (test/unit/model.test.ts)."""
    H, W = x_img.shape[-2:]
    with torch.no_grad():
        t = torch.tensor([999.0, 200.0])
        x_t = torch.randn(2, 1, H, W, generator=g)
        pred = model(x_img.repeat(2, 1, 1, 1), x_t, t)
    write('step', {**meta, 't': t.tolist()}, {'image': x_img.repeat(2, 1, 1, 1), 'x_t': x_t, 't': t, 'pred': pred})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', default='runs/wt2ch')
    args = ap.parse_args()
    global OUT
    model, meta = load_exported(args.run)
    kind = meta.get('prediction', 'x0')
    sched = Schedule(linear_betas(1000))
    if meta.get('data') == 'v2' or 'prompts' in meta:
        # v2 shares v1's schedule and samplers (tested on v1's fixtures): only its step is checked
        OUT = os.path.join(REPO, 'test', 'fixtures', 'quorum-wt-v2')
        img, lab = held_out_slices_v2(meta.get('context', 0))
        idx = int((lab.sum((1, 2, 3))).argmax())
        x_img = img[idx:idx + 1]
        if 'prompts' in meta:
            # a prompt model (v2.2): a positive and a negative click in the click channels
            maps = click_maps([(60, 60, True), (30, 90, False)], *x_img.shape[-2:], meta['prompts']['sigma'])
            x_img = torch.cat([x_img, torch.from_numpy(maps)[None]], 1)
        write_step(model, x_img, torch.Generator().manual_seed(1234),
                   {'subject': 'held-out slice of runs/cache-v2.npz (most tumour)', 'prediction': kind})
        return

    write('schedule', {'kind': 'linear', 'timesteps': 1000, 'betaStart': 1e-4, 'betaEnd': 0.02}, {
        'betas': sched.betas, 'alphas_cumprod': sched.alphas_cumprod, 'posterior_variance': sched.posterior_variance,
        'posterior_log_variance_clipped': sched.posterior_log_variance_clipped,
        'posterior_mean_coef1': sched.posterior_mean_coef1, 'posterior_mean_coef2': sched.posterior_mean_coef2})

    # a tumour-bearing axial slice of the held-out subject, preprocessed in Python
    image, label, mask = load_subject(HELD_OUT)
    img, lab, ks = axial_slices(image, label, mask)
    idx = int((lab.sum((1, 2, 3))).argmax())
    k = int(ks[idx])
    subject = os.path.relpath(subject_dir(HELD_OUT), DATA_ROOT)
    x_img = img[idx:idx + 1]
    g = torch.Generator().manual_seed(1234)
    H, W = x_img.shape[-2:]

    write_step(model, x_img, g, {'subject': subject, 'sliceIndex': k, 'prediction': kind})
    with torch.no_grad():
        for name, steps, eta in (('ddim', 10, 0.0), ('ddim-eta1', 5, 1.0)):
            x_T = torch.randn(1, 1, H, W, generator=g)
            noises = [torch.randn(1, 1, H, W, generator=g) if eta > 0 else torch.zeros(1, 1, H, W) for _ in range(steps)]
            rec = []
            sample_ddim(model, sched, x_img, x_T, steps, eta, kind, noises, rec)
            arrays = {'image': x_img, 'x_T': x_T, 'preds': torch.stack([r[1] for r in rec]), 'xs': torch.stack([r[3] for r in rec])}
            if eta > 0:
                arrays['noise'] = torch.stack([r[2] for r in rec])
            write(name, {'subject': subject, 'sliceIndex': k, 'steps': steps, 'eta': eta, 'timesteps': [r[0] for r in rec],
                         'prediction': kind}, arrays)

        ts = [999, 500, 1, 0]
        x_t = torch.randn(len(ts), 1, H, W, generator=g)
        noise = torch.randn(len(ts), 1, H, W, generator=g)
        pred = model(x_img.repeat(len(ts), 1, 1, 1), x_t, torch.tensor(ts, dtype=torch.float32))
        x_prev = torch.cat([sched.ddpm_step(pred[i:i + 1], x_t[i:i + 1], t, noise[i:i + 1], kind) for i, t in enumerate(ts)])
        write('ddpm', {'subject': subject, 'sliceIndex': k, 't': ts, 'prediction': kind},
              {'x_t': x_t, 'pred': pred, 'noise': noise, 'x_prev': x_prev})


if __name__ == '__main__':
    main()
