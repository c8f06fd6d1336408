"""A quick look at a training run on held-out patients while it trains (PyTorch, preprocess.py):
whole-volume Dice of a small ensemble, to catch a broken run early. Not the reported evaluation
(that is evaluate_v2.py on the app's own outputs).

  /usr/bin/python3 models/train/quick_check.py --run runs/v2 [--cases 3] [--members 3] [--steps 5]
  /usr/bin/python3 models/train/quick_check.py --run runs/loso-HT --site HT --members 5 --steps 10 --out r.json

A run of train.py --mode deterministic (the baseline) is scored as the app's baseline is: one pass,
sigmoid > 0.5 (members, steps and seed do not apply).

--site S scores every TCGA-LGG patient of site S (the unseen site of a leave-one-site-out fold,
train.py --hold-out-site S), as loso.py does for all four folds.

--save DIR keeps each patient's mean probability (native grid, float16; the members' std in
DIR/std/, for checks of the uncertainty on a site fold); --mix DIR DIR ... then
scores the average of saved runs without running a network: an ensemble of several networks'
members (each DIR one run's members, all DIRs of the same members count weigh alike).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from augment import unit_range  # noqa: E402
from datasets import load_case, split  # noqa: E402
from diffusion import Schedule, linear_betas, sample_ddim  # noqa: E402
from evaluate import dice, load_model  # noqa: E402
from heap import keep_freed_memory  # noqa: E402
import context as through_plane  # noqa: E402
import preprocess  # noqa: E402
from preprocess import INPUT_SIZE, ModelFrame  # noqa: E402


def set_model_spacing(mm):
    """Runs the model at another pixel size (test-time scale): the grid keeps >= 240 mm of view."""
    global INPUT_SIZE
    n = 8 * math.ceil(preprocess.INPUT_SIZE[0] * preprocess.SPACING_MM / mm / 8)
    preprocess.SPACING_MM, preprocess.INPUT_SIZE = mm, (n, n)
    INPUT_SIZE = (n, n)
    print(f'model grid {n} x {n} pixels of {mm} mm', flush=True)


def member_gammas(members, spread):
    """Each member's gamma for --tta-gamma: log-spread evenly over [exp(-spread), exp(spread)], the middle
    member (odd counts) at 1."""
    if members == 1:
        return np.ones(1)
    return np.exp(np.linspace(-spread, spread, members))


def gamma_curve(img, gamma):
    """img [n, c, h, w] model inputs, gamma [n]: the training augmentation's gamma (augment.intensity), on
    each slice and channel's own range (augment.unit_range), without its random parts."""
    u, lo, rng = unit_range(img)
    return u.clamp(0, 1) ** gamma.view(-1, 1, 1, 1) * rng + lo


@torch.no_grad()
def propose(model, frame, vols, members, steps, seed=0, kind='x0', device='cpu', per_step=None, start='noise',
            context=0, tta_gamma=0.0, agreement=None):
    """agreement: a list [0, 0, 0] that accumulates the case's member-agreement sums on the model grid,
    [Σ_m |b_m ∧ c|, Σ_m |b_m|, M |c|] with b_m = member m > 0.5 and c = mean > 0.5 (core/src/metrics.ts
    sliceAgreement, summed over slices as caseConfidence sums them). per_step: a list that receives, for each
    DDIM step, the members' mean predicted x0 as a 0-1 map on the native grid (where a miss is decided:
    --per-step). tta_gamma: each member reads the image under its own gamma curve (member_gammas; 0 = off).
    start='zeros': x_T = 0, the input train.py --p-image-only fits from the image alone; the members part from
    the second step (eta = 1)."""
    sched = Schedule(linear_betas(1000))
    g = torch.Generator().manual_seed(seed)
    mean = np.zeros(frame.shape)
    std = np.zeros(frame.shape)
    if per_step is not None:
        per_step[:] = [np.zeros(frame.shape) for _ in range(steps)]
    for i in range(0, len(frame.slices), 8):
        ks = frame.slices[i:i + 8]
        img = torch.from_numpy(through_plane.frame_inputs(frame, vols, range(i, i + len(ks)), context))
        img = img.repeat_interleave(members, 0)
        if tta_gamma:
            g_m = torch.from_numpy(member_gammas(members, tta_gamma)).float().repeat(len(ks))
            img = gamma_curve(img, g_m)
        x_T = torch.randn(len(img), 1, *INPUT_SIZE, generator=g)  # drawn either way: the same later noise
        if start == 'zeros':
            x_T = torch.zeros_like(x_T)
        noises = [torch.randn(x_T.shape, generator=g) for _ in range(steps)]
        record = [] if per_step is not None else None
        x0 = sample_ddim(model, sched, img.to(device), x_T.to(device), steps, 1.0, kind,
                         [n.to(device) for n in noises], record=record)
        for s, (t, pred, _, _) in enumerate(record or []):
            x_t = x_T.to(device) if s == 0 else record[s - 1][3]  # each record holds the x after its step
            x0_s = sched.predict_x0(pred, x_t, torch.full((len(pred),), t, dtype=torch.long), kind)
            p_s = ((x0_s.cpu() + 1) / 2).clamp(0, 1).view(len(ks), members, *INPUT_SIZE).mean(1).numpy()
            for k, pk in zip(ks, p_s):
                frame.place(per_step[s], k, frame.to_native(pk))
        p = ((x0.cpu() + 1) / 2).clamp(0, 1).view(len(ks), members, *INPUT_SIZE)
        if agreement is not None:
            b, c = p > 0.5, p.mean(1, keepdim=True) > 0.5
            sums = [int((b & c).sum()), int(b.sum()), members * int(c.sum())]
            agreement[:] = [a + s for a, s in zip(agreement, sums)]
        for k, pk, sk in zip(ks, p.mean(1).numpy(), p.std(1, unbiased=False).numpy()):
            frame.place(mean, k, frame.to_native(pk))
            frame.place(std, k, frame.to_native(sk))
    return mean, std


def mix(args, cases):
    """Dice of the average of saved mean probabilities (--mix), per patient found in every folder."""
    missing = [d for d in args.mix if not os.path.isdir(d)]
    if missing:
        sys.exit(f'--mix: not a folder saved by --save: {", ".join(missing)}')
    by_name = {c['name']: c for c in cases}
    saved = [{f[:-4] for f in os.listdir(d) if f.endswith('.npy')} for d in args.mix]
    unknown = sorted(set.union(*saved) - set(by_name))
    if unknown:
        sys.exit(f'--mix: {", ".join(unknown)}: saved but not a case of datasets.py (a --save of other data?)')
    # a bad input (no common patient) is refused with a message, not scored as an empty mean
    names = sorted(set.intersection(*saved))
    if not names:
        sys.exit(f'--mix: no patient saved in all of {args.mix}')
    scores = {}
    for n in names:
        truth = load_case(by_name[n])[1]
        mean = np.mean([np.load(os.path.join(d, n + '.npy')).astype(np.float32) for d in args.mix], axis=0)
        scores[n] = dice(mean > 0.5, truth > 0)
        print(f'mix {n:28s} Dice {scores[n]:.3f}', flush=True)
    v = list(scores.values())
    print(f'mix mean Dice {np.mean(v):.3f} over {len(v)}')
    if args.out:
        json.dump(dict(mix=args.mix, dice=scores, mean=float(np.mean(v)), min=float(np.min(v))),
                  open(args.out, 'w'), indent=1)


def uncertainty_scores(args, cases):
    """Error AUROC and QU-BraTS of the raw std and of the smoothed map, per saved patient."""
    from evaluate_v2 import auroc, qu_brats
    from preprocess import foreground
    from uncertainty import uncertainty_map
    by_name = {c['name']: c for c in cases}
    out = {}
    for d in args.uncertainty:
        std_dir = os.path.join(d, 'std')
        if not os.path.isdir(std_dir):
            sys.exit(f'--uncertainty: {d} has no std/ folder (saved by --save before it kept the std?)')
        names = sorted(f[:-4] for f in os.listdir(std_dir) if f.endswith('.npy'))
        unknown = [n for n in names if n not in by_name]
        if unknown:
            sys.exit(f'--uncertainty: {", ".join(unknown)}: saved but not a case of datasets.py')
        for n in names:
            vols, truth, spacing, direction = load_case(by_name[n])
            region = foreground(vols, ModelFrame(vols, spacing, direction).stats)
            mean = np.load(os.path.join(d, n + '.npy')).astype(np.float32)
            std = np.load(os.path.join(std_dir, n + '.npy')).astype(np.float32)
            mask, t = mean > 0.5, truth > 0
            err = (mask != t)[region]
            row = {'dice': dice(mask, t)}
            for name, u in (('std', std), ('map', uncertainty_map(std, args.sigma))):
                row[f'auroc_{name}'] = auroc(u[region], err)
                row[f'qu_{name}'] = qu_brats(mask, t, np.clip(u / 0.5, 0, 1), region)[0]
            out[f'{os.path.basename(os.path.normpath(d))}/{n}'] = row
            print(f'{n:28s} ' + ' '.join(f'{k} {v:.3f}' for k, v in row.items()), flush=True)
    keys = list(next(iter(out.values())))
    means = {k: float(np.nanmean([r[k] for r in out.values()])) for k in keys}
    print('mean over', len(out), ' '.join(f'{k} {v:.4f}' for k, v in means.items()))
    if args.out:
        json.dump(dict(uncertainty=args.uncertainty, sigma=args.sigma, cases=out, mean=means),
                  open(args.out, 'w'), indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', default='runs/v2')
    ap.add_argument('--cases', type=int, default=3)
    ap.add_argument('--members', type=int, default=3)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--site', help='score every TCGA-LGG patient of this site instead')
    ap.add_argument('--only', nargs='+', metavar='PATIENT',
                    help='score only these patients of --site, or these held-out cases without it (each patient\'s '
                         'members are seeded alone, so its Dice does not depend on which others are scored)')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--out', help='JSON with the per-patient Dice')
    ap.add_argument('--seed', type=int, default=0, help='seed of the members\' noise')
    ap.add_argument('--save', help='folder for each patient\'s mean probability (<name>.npy, float16)')
    ap.add_argument('--mix', nargs='+', help='score the mean of these --save folders instead of running')
    ap.add_argument('--uncertainty', nargs='+', help="score the std saved in these --save folders' std/")
    ap.add_argument('--sigma', type=float, default=1.0, help='with --uncertainty: the map\'s sigma, voxels')
    ap.add_argument('--per-step', action='store_true',
                    help="print, for each DDIM step, the Dice of the members' mean predicted x0 and its mean in the "
                         'reference lesion: whether a miss is decided at the first step (t = 999) or later')
    ap.add_argument('--start', choices=('noise', 'zeros'), default='noise',
                    help='x_T of the first DDIM step: noise (the sampler as shipped) or zeros (the image alone, '
                         'as train.py --p-image-only trains a share of the batch)')
    ap.add_argument('--spacing', type=float, help='model pixel size in mm instead of preprocess.SPACING_MM '
                    '(a test-time scale; the grid grows to keep the 240 mm field of view, in multiples of 8)')
    ap.add_argument('--tta-gamma', type=float, default=0.0, metavar='G',
                    help='intensity test-time augmentation: member m reads the input under gamma member_gammas(M, G)[m], '
                         'log-spread over [exp(-G), exp(G)] (tta-gamma-arm.json); 0 = off')
    args = ap.parse_args()
    if args.tta_gamma < 0:
        sys.exit(f'--tta-gamma: {args.tta_gamma} is negative (the spread is symmetric: give its half-width)')
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # heap.py: 1.7x faster here
    if args.spacing:
        set_model_spacing(args.spacing)
    train, held = split()
    if args.mix:
        return mix(args, train + held)
    if args.uncertainty:
        return uncertainty_scores(args, train + held)
    model, meta, it = load_model(args.run, deterministic=None, checkpoint='last.pt')
    deterministic = meta.get('mode') == 'deterministic'
    if deterministic:
        if args.spacing:
            sys.exit('--spacing: not for a deterministic run (its pass is evaluate_v2.baseline_mask at the trained grid)')
        if args.per_step:
            sys.exit('--per-step: not for a deterministic run (one pass, no DDIM steps)')
        if args.start != 'noise':
            sys.exit('--start: not for a deterministic run (one pass, no x_T)')
        if args.tta_gamma:
            sys.exit('--tta-gamma: not for a deterministic run (one pass, no members)')
        from evaluate_v2 import baseline_mask
    model.to(args.device)
    if args.site:
        pick = [c for c in train + held if c['dataset'] == 'tcga-lgg' and c['site'] == args.site]
        if args.only:
            unknown = sorted(set(args.only) - {c['name'] for c in pick})
            if unknown:
                sys.exit(f'--only: {", ".join(unknown)}: not a patient of site {args.site}')
            pick = [c for c in pick if c['name'] in args.only]
    else:
        if args.only:  # held-out cases by name (a site fold's network never saw them either)
            unknown = sorted(set(args.only) - {c['name'] for c in held})
            if unknown:
                sys.exit(f'--only: {", ".join(unknown)}: not a held-out case of datasets.split()')
            pick = [c for c in held if c['name'] in args.only]
        else:
            pick = held[::max(1, len(held) // args.cases)][:args.cases]
    scores, confidence = [], {}
    for c in pick:
        vols, truth, spacing, direction = load_case(c)
        frame = ModelFrame(vols, spacing, direction)
        if deterministic:  # the baseline (train.py --mode deterministic): one pass, no members
            mean = baseline_mask(model, frame, vols).astype(np.float64)
            std = np.zeros(frame.shape)
        else:
            steps_x0 = [] if args.per_step else None
            sums = [0, 0, 0]
            mean, std = propose(model, frame, vols, args.members, args.steps, seed=args.seed,
                                kind=meta.get('prediction', 'x0'), device=args.device, per_step=steps_x0,
                                start=args.start, context=meta.get('context', 0), tta_gamma=args.tta_gamma,
                                agreement=sums)
            den = sums[1] + sums[2]
            confidence[c['name']] = 2 * sums[0] / den if den else 1.0  # caseConfidence's 1 when nothing is proposed
            if steps_x0:
                t = truth > 0
                print(f"{c['name']:28s} per step: " + ' '.join(
                    f'Dice {dice(m > 0.5, t):.2f} in-lesion {m[t].mean() if t.any() else 0:.2f};' for m in steps_x0),
                    flush=True)
        if args.save:
            os.makedirs(os.path.join(args.save, 'std'), exist_ok=True)
            np.save(os.path.join(args.save, c['name'] + '.npy'), mean.astype(np.float16))
            np.save(os.path.join(args.save, 'std', c['name'] + '.npy'), std.astype(np.float16))
        scores.append(dice(mean > 0.5, truth > 0))
        conf = f" confidence {confidence[c['name']]:.3f}" if c['name'] in confidence else ''
        print(f"iter {it} {c['name']:28s} {c['role']:18s} Dice {scores[-1]:.3f}{conf}", flush=True)
    print(f'iter {it} mean Dice {np.mean(scores):.3f}')
    if args.out:
        json.dump(dict(run=args.run, iter=it, site=args.site, members=args.members, steps=args.steps, start=args.start,
                       tta_gamma=args.tta_gamma,
                       dice={c['name']: s for c, s in zip(pick, scores)}, confidence=confidence or None,
                       mean=float(np.mean(scores)),
                       min=float(np.min(scores))), open(args.out, 'w'), indent=1)


if __name__ == '__main__':
    main()
