"""Dice / HD95 of the shipped diffusion model (and the deterministic baseline) on the held-out subject.

  /usr/bin/python3 models/train/evaluate.py --run runs/wt2ch [--baseline runs/base] --out metrics.json

What it measures, all on the subject no model saw in training (data.HELD_OUT), with the app's own
post-processing (member probability = clip((x0 + 1) / 2), ensemble mean, bilinear back to 240 x 240,
threshold 0.5; core/src/metrics.ts's Dice and HD95 definitions):
  1. whole volume, the manifest's default sampler (DDIM, --steps, eta --eta): single sample (member 0)
     vs the --members ensemble: Dice, HD95 (mm), volumes;
  2. a step sweep (--sweep-steps) on --sweep-slices tumour slices spread over the tumour, single vs
     ensemble Dice over that stack of slices;
  3. the paper's exact sampler (DDPM, 1000 ancestral steps) on --ddpm-slices of those slices, with the
     sweep's numbers restricted to the same slices next to it;
  4. the deterministic baseline (same backbone, one forward), whole volume, when --baseline is given.
The sweep and DDPM rows are on slice subsets because 1000 steps x 5 members over a whole volume is
hours on a 2-core CPU; the subset and its size are written into the JSON.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt

sys.path.insert(0, os.path.dirname(__file__))
from data import HELD_OUT, axial_slices, load_subject  # noqa: E402
from diffusion import Schedule, linear_betas  # noqa: E402
from unet import UNet  # noqa: E402

HERE = os.path.dirname(__file__)


def load_model(run, deterministic=False, checkpoint='exported.pt'):
    """deterministic=None: as the run was trained (its meta's mode, train.py --mode)."""
    run = run if os.path.isabs(run) else os.path.join(HERE, run)
    path = os.path.join(run, checkpoint)
    if deterministic or not os.path.exists(path):
        path = os.path.join(run, 'last.pt')
    ck = torch.load(path, map_location='cpu')
    if deterministic is None:
        deterministic = ck['meta'].get('mode') == 'deterministic'
    arch = {**ck['meta']['arch'], 'mults': tuple(ck['meta']['arch']['mults'])}
    model = UNet(**arch, time_conditioned=not deterministic)
    model.load_state_dict(ck['ema'])
    model.eval()
    return model, ck['meta'], ck['iter']


def dice(a, b):
    s = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / s) if s else 1.0


def surface(m):
    """In the mask with a 6-neighbour outside it or on the array border (as core/src/metrics.ts)."""
    p = np.pad(m, 1, constant_values=False)
    inner = p[1:-1, 1:-1, 1:-1].copy()
    for ax in range(3):
        for sh in (1, -1):
            inner &= np.roll(p, sh, axis=ax)[1:-1, 1:-1, 1:-1]
    return m & ~inner


def hd95(a, b, spacing):
    sa, sb = surface(a), surface(b)
    if not sa.any() or not sb.any():
        return float('nan')
    da = distance_transform_edt(~sa, sampling=spacing)
    db = distance_transform_edt(~sb, sampling=spacing)
    return float(np.percentile(np.concatenate([db[sa], da[sb]]), 95))


def to_native(prob, size):
    """[Z, 1, h, w] probabilities -> [Z, H, W] on the volume grid, bilinear as the app does."""
    return F.interpolate(prob, size=size, mode='bilinear', align_corners=False)[:, 0].numpy()


@torch.no_grad()
def ensemble(model, sched, img, members, steps, eta, seed, sampler='ddim', batch=40, prediction='x0'):
    """Returns member probabilities [M, Z, 1, h, w] for the slices img [Z, C, h, w]."""
    g = torch.Generator().manual_seed(seed)
    z = img.shape[0]
    x_img = img.repeat(members, 1, 1, 1)  # member-major, as the engine batches
    x = torch.randn((members * z, 1, *img.shape[-2:]), generator=g)
    out = torch.empty_like(x)
    ts = sched.ddim_timesteps(steps) if sampler == 'ddim' else list(range(sched.T - 1, -1, -1))
    for s0 in range(0, x.shape[0], batch):
        xb, ib = x[s0:s0 + batch], x_img[s0:s0 + batch]
        for i, t in enumerate(ts):
            pred = model(ib, xb, torch.full((xb.shape[0],), float(t)))
            if sampler == 'ddim':
                t_prev = ts[i + 1] if i + 1 < len(ts) else -1
                noise = torch.randn(xb.shape, generator=g) if eta > 0 else torch.zeros_like(xb)
                xb = sched.ddim_step(pred, xb, t, t_prev, noise, prediction, eta)
            else:
                noise = torch.randn(xb.shape, generator=g) if t > 0 else torch.zeros_like(xb)
                xb = sched.ddpm_step(pred, xb, t, noise, prediction)
        out[s0:s0 + batch] = xb
    return ((out + 1) / 2).clamp(0, 1).reshape(members, z, 1, *img.shape[-2:])


def scores(probs, truth, size, spacing=None):
    """probs [M, Z, 1, h, w]; truth [Z, H, W] bool -> single (member 0) vs ensemble numbers."""
    single = to_native(probs[0], size) > 0.5
    mean = to_native(probs.mean(0), size) > 0.5
    res = {'single': {'dice': dice(single, truth)}, 'ensemble': {'dice': dice(mean, truth)}}
    res['member_dice'] = [dice(to_native(p, size) > 0.5, truth) for p in probs]
    # Dice of the ensemble of the first m members, m = 1..M: the "Dice vs members" curve.
    res['ensemble_dice_by_members'] = [dice(to_native(probs[:m].mean(0), size) > 0.5, truth)
                                       for m in range(1, len(probs) + 1)]
    if spacing is not None:
        vox_ml = float(np.prod(spacing)) / 1000
        for key, m in (('single', single), ('ensemble', mean)):
            res[key]['hd95_mm'] = hd95(m, truth, spacing)
            res[key]['volume_ml'] = float(m.sum() * vox_ml)
        res['truth_volume_ml'] = float(truth.sum() * vox_ml)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', default='runs/wt2ch')
    ap.add_argument('--checkpoint', default='exported.pt', help='file in --run (falls back to last.pt)')
    ap.add_argument('--baseline', help='run folder of train.py --mode deterministic')
    ap.add_argument('--members', type=int, default=5)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--eta', type=float, default=1.0)
    ap.add_argument('--sweep-steps', default='5,10,25,50,100')
    ap.add_argument('--sweep-slices', type=int, default=8)
    ap.add_argument('--ddpm-slices', type=int, default=3)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--parts', default='full,sweep,ddpm,baseline', help='subset to run; merged into --out if it exists')
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model, meta, it = load_model(args.run, checkpoint=args.checkpoint)
    pred_kind = meta.get('prediction', 'x0')
    sched = Schedule(linear_betas(1000))
    image, label, mask = load_subject(HELD_OUT)
    img, _, ks = axial_slices(image, label, mask)
    truth = label.transpose(2, 1, 0) > 0  # [Z, j, i] like the slices
    size = truth.shape[1:]
    spacing = (1.0, 1.0, 1.0)  # BraTS 2015 deepmedic volumes are 1 mm isotropic (checked by load_subject's header)
    parts = set(args.parts.split(','))
    old = json.load(open(args.out)) if os.path.exists(args.out) else {}
    result = {**old, 'subject': HELD_OUT, 'model_iter': it, 'arch': meta['arch'], 'members': args.members, 'eta': args.eta,
              'seed': args.seed, 'post': 'clip((x0+1)/2), mean, bilinear to native, > 0.5'}
    t0 = time.time()

    if 'full' in parts:
        probs = torch.zeros((args.members, truth.shape[0], 1, *img.shape[-2:]))
        probs[:, ks] = ensemble(model, sched, img, args.members, args.steps, args.eta, args.seed, prediction=pred_kind)
        result['whole_volume'] = {'sampler': 'ddim', 'steps': args.steps, 'slices': int(len(ks)),
                                  **scores(probs, truth, size, spacing), 'seconds': round(time.time() - t0, 1)}
        print(json.dumps(result['whole_volume']), flush=True)

    tumour = [k for k in ks if truth[k].any()]
    pick = np.linspace(0, len(tumour) - 1, args.sweep_slices + 2)[1:-1].round().astype(int)
    sweep_ks = [int(tumour[i]) for i in pick]
    pos = [int(np.nonzero(ks == k)[0][0]) for k in sweep_ks]
    ddpm_idx = list(np.linspace(0, len(sweep_ks) - 1, args.ddpm_slices).round().astype(int))
    ddpm_ks = [sweep_ks[i] for i in ddpm_idx]
    if 'sweep' in parts or 'ddpm' in parts:
        result['sweep'] = {'slices': sweep_ks, 'ddpm_slices': ddpm_ks, 'eta': args.eta,
                           'rows': [r for r in result.get('sweep', {}).get('rows', [])
                                    if {'ddim': 'sweep', 'ddpm': 'ddpm'}[r['sampler']] not in parts]}
    for steps in ([int(s) for s in args.sweep_steps.split(',')] if 'sweep' in parts else []):
        t1 = time.time()
        probs = ensemble(model, sched, img[pos], args.members, steps, args.eta, args.seed + steps, prediction=pred_kind)
        row = {'sampler': 'ddim', 'steps': steps, **scores(probs, truth[sweep_ks], size),
               'on_ddpm_slices': scores(probs[:, ddpm_idx], truth[ddpm_ks], size),
               'seconds': round(time.time() - t1, 1)}
        result['sweep']['rows'].append(row)
        print(json.dumps(row), flush=True)
    if 'ddpm' in parts and args.ddpm_slices:
        t1 = time.time()
        probs = ensemble(model, sched, img[[pos[i] for i in ddpm_idx]], args.members, 1000, 1.0, args.seed,
                         sampler='ddpm', prediction=pred_kind)
        row = {'sampler': 'ddpm', 'steps': 1000, 'on_ddpm_slices': scores(probs, truth[ddpm_ks], size),
               'seconds': round(time.time() - t1, 1)}
        result['sweep']['rows'].append(row)
        print(json.dumps(row), flush=True)

    if 'baseline' in parts and args.baseline:
        base, _, bit = load_model(args.baseline, deterministic=True)
        with torch.no_grad():
            logits = torch.cat([base(img[s:s + 40], torch.zeros_like(img[s:s + 40, :1]), torch.zeros(len(img[s:s + 40])))
                                for s in range(0, len(img), 40)])
        prob = torch.zeros((truth.shape[0], 1, *img.shape[-2:]))
        prob[ks] = torch.sigmoid(logits)
        m = to_native(prob, size) > 0.5
        result['deterministic_baseline'] = {'iter': bit, 'dice': dice(m, truth), 'hd95_mm': hd95(m, truth, spacing),
                                            'volume_ml': float(m.sum() / 1000)}
        print(json.dumps(result['deterministic_baseline']), flush=True)

    result['seconds'] = round(time.time() - t0, 1)
    with open(args.out + '.tmp', 'w') as f:
        json.dump(result, f, indent=1)
    os.replace(args.out + '.tmp', args.out)


if __name__ == '__main__':
    main()
