"""Train Quorum's conditional diffusion segmenter (or the deterministic baseline) on CPU.

  /usr/bin/python3 models/train/train.py --run runs/wt2ch --iters 2400            # diffusion, x0-prediction
  /usr/bin/python3 models/train/train.py --run runs/base --mode deterministic     # honest UNet baseline

Resumable: re-running with the same --run continues from runs/<run>/last.pt. Logs JSON lines
to runs/<run>/log.jsonl (plot with plot_curves.py).
"""
import argparse
import copy
import functools
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from augment import augment_v2  # noqa: E402
import context as through_plane  # noqa: E402
from data import TRAIN_SUBJECTS, load_slices  # noqa: E402
from diffusion import Schedule, linear_betas  # noqa: E402
from heap import keep_freed_memory  # noqa: E402
from unet import UNet  # noqa: E402

ARCH = dict(image_channels=2, base=16, mults=(1, 2, 4, 8))


def augment(img, lab, g):
    n = img.shape[0]
    flip = torch.rand(n, generator=g) < 0.5
    img[flip] = img[flip].flip(-1)
    lab[flip] = lab[flip].flip(-1)
    # small rotations and scalings, one affine grid for image and label
    ang = (torch.rand(n, generator=g) - 0.5) * (2 * math.pi * 15 / 360)
    sc = 1 + (torch.rand(n, generator=g) - 0.5) * 0.2
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(n)], 1), torch.stack([sin, cos, torch.zeros(n)], 1)], 1)
    grid = F.affine_grid(theta, img.shape, align_corners=False)
    img = F.grid_sample(img, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
    lab = (F.grid_sample(lab, grid, mode='bilinear', padding_mode='zeros', align_corners=False) > 0.5).float()
    # intensity jitter per channel
    scale = 1 + (torch.rand(n, img.shape[1], 1, 1, generator=g) - 0.5) * 0.2
    shift = (torch.rand(n, img.shape[1], 1, 1, generator=g) - 0.5) * 0.2
    img = torch.where(img != 0, img * scale + shift, img)
    return img, lab


# which held-out cases may join the training set (--add-held-out): 'site' is the held-out site (does a
# site more help the others?); 'site-but-validation' that site but VALIDATION_PATIENT, the patient the
# integration tests propose on as a held-out one (v11-fourth-site-plan.json); 'patients' every held-out
# case but that site, which stays a held-out site to validate the model on; 'all' every case with an
# expert reference. The BrainLesion case's reference is a model's: it never trains.
ADD_HELD_OUT = ('none', 'site', 'site-but-validation', 'patients', 'all')
# test/integration/model-v2.test.ts and others; here, not in datasets.py, so that a GPU machine needs no nibabel
VALIDATION_PATIENT = 'TCGA_FG_6689_20020326'


CACHE_V2 = os.path.join(os.path.dirname(__file__), 'runs', 'cache-v2.npz')


def block_kind(d):
    """Each cached slice's block within its case: 0 as stored, 1 the thick average, 2 the thin stack
    (build_cache.py --thin): a slice's context neighbours and its neighbouring slice come from its own block."""
    kind = d['thick'].astype(np.int8)
    if 'thin' in d.files:
        kind = kind + 2 * d['thin'].astype(np.int8)
    return kind


def load_cache_v2(hold_out_site=None, add_held_out='none', context=0, strides=(1,), path=None):
    """Training slices of runs/cache-v2.npz (build_cache.py) -> image [N,2,H,W], label 0/1 [N,1,H,W],
    the case names and the mask of the cache's slices kept.

    hold_out_site: a leave-one-site-out fold other than the shipped one: that TCGA-LGG site is left
    out and the shipped fold's held-out site (datasets.HELD_OUT_SITE) trains instead; the held-out
    patients of every site stay held out. add_held_out: one of ADD_HELD_OUT. context: context.py's
    neighbour channels (2 * context more, for each of `strides`: context.at_stride picks one). path: another
    cache than runs/cache-v2.npz (build_cache.py --out, e.g. with --thin)."""
    d = np.load(path or CACHE_V2)
    cases = json.loads(str(d['cases']))
    selection = cache_selection(hold_out_site, add_held_out)
    if 'pack_selection' in d.files and json.loads(str(d['pack_selection'])) != selection:
        # a cache unpacked from pack.py holds only the slices of the selection it was packed for
        raise SystemExit(f"runs/cache-v2.npz was unpacked from a training pack made for {str(d['pack_selection'])}, "
                         f"not {json.dumps(selection)}: pack.py again with this run's options")
    keep = cases_kept(cases, hold_out_site, add_held_out)[d['case']]
    names = sorted({cases[i]['name'] for i in np.unique(d['case'][keep])})
    img = torch.from_numpy(through_plane.add_to_cache(d['image'], d['case'], block_kind(d), context, strides)[keep])
    lab = torch.from_numpy((d['label'][keep] > 127).astype(np.float32))
    return img, lab, names, keep


# How a batch's slices are drawn (--balance): 'slices' uniformly over the training slices (every run
# before case-balance-arm.json); 'cases' a case uniformly, then one of its slices (nnU-Net's way);
# 'cases-in-dataset' each dataset (datasets.py's 'dataset': brats2015, tcga-lgg) keeps the share of
# draws 'slices' gives it, and within it a case uniformly, then a slice (dataset-balance-arm.json).
BALANCE = ('slices', 'cases', 'cases-in-dataset')


def slice_cases(kept):
    """The cache's case index of each slice load_cache_v2 kept (its `keep` mask), and each case's dataset."""
    d = np.load(os.path.join(os.path.dirname(__file__), 'runs', 'cache-v2.npz'))
    return d['case'][kept], [c['dataset'] for c in json.loads(str(d['cases']))]


def case_weights(case_of, tumour, dataset_of=None):
    """-> (a weight per tumour slice, a weight per slice) for a multinomial draw. Without dataset_of every
    case's slices share one unit: a case uniformly, then one of its (tumour) slices. With it (a dataset name
    per case index) a dataset's slices share what a uniform draw gives them (their count), split equally
    among its cases: w = n_D / (k_D n_c) for n_D slices and k_D cases in dataset D, n_c slices in case c."""
    case_of = torch.from_numpy(np.asarray(case_of)).long()
    out = []
    for c in (case_of[tumour], case_of):
        count = torch.bincount(c)
        w = 1.0 / count[c].double()
        if dataset_of is not None:
            ds = np.asarray(dataset_of)[c.numpy()]
            for name in np.unique(ds):
                of = torch.from_numpy(ds == name)
                w[of] *= float(of.sum()) / len(torch.unique(c[of]))
        out.append(w)
    return out


def cache_selection(hold_out_site=None, add_held_out='none'):
    """load_cache_v2's arguments as a training pack records them (pack.py), compared when a run loads it."""
    return dict(hold_out_site=hold_out_site, add_held_out=add_held_out)


def cases_kept(cases, hold_out_site=None, add_held_out='none'):
    """Which of build_cache.py's cases a run trains on (load_cache_v2's arguments), one bool per case."""
    if hold_out_site and add_held_out != 'none':
        raise ValueError('a site fold holds a site out; it cannot also add the held-out cases')
    if hold_out_site:
        return np.array([(c['role'] == 'train' or c['role'] == 'held-out site') and c['site'] != hold_out_site
                         for c in cases])
    return np.array([c['role'] == 'train'
                     or (add_held_out == 'site' and c['role'] == 'held-out site')
                     or (add_held_out == 'site-but-validation' and c['role'] == 'held-out site'
                         and c['name'] != VALIDATION_PATIENT)
                     or (add_held_out == 'patients' and c['role'] != 'held-out site' and c['name'] != 'brainlesion_case')
                     or (add_held_out == 'all' and c['name'] != 'brainlesion_case') for c in cases])


def parse_strides(text):
    strides = tuple(int(x) for x in text.split(','))
    if not strides or min(strides) < 1 or len(set(strides)) != len(strides):
        raise argparse.ArgumentTypeError(f'{text!r}: distinct strides >= 1, comma-separated (1,2,3)')
    return strides


def add_context_strides(ap):
    ap.add_argument('--context-strides', type=parse_strides, default=(1,), metavar='S,S,...',
                    help='read each sample\'s context neighbours at one of these strides, drawn uniformly (with '
                         '--context; default 1: the adjacent slices, as every model so far). 1,2,3 teaches the '
                         'network to read its context at any distance (context-stride-plan.json)')


def pick_stride(batch, strides, context, g):
    """The batch's context at one of `strides` per sample (context.at_stride); with one stride the batch as it
    is, and no draw from g, so a run without --context-strides gets the batches it always did."""
    if len(strides) == 1:
        return batch
    choice = torch.randint(len(strides), (len(batch),), generator=g)
    return through_plane.at_stride(batch, choice.to(batch.device), ARCH['image_channels'], context)


def dice_loss(logits_or_prob, target):
    p = logits_or_prob
    inter = (p * target).sum((1, 2, 3))
    return 1 - ((2 * inter + 1) / (p.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1)).mean()


def share(text):
    """An argparse type: a share or a chance, 0..1 (--high-t-share, --p-image-only, train_prompts' --p-*)."""
    v = float(text)
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f'{text} is not a share or chance, 0..1')
    return v


def add_p_image_only(ap):
    """--p-image-only, for train.py and train_prompts.py alike (image_only)."""
    ap.add_argument('--p-image-only', type=share, default=0.0,
                    help='diffusion, x0: share of each batch whose noisy mask is replaced by zeros at t = T-1, so '
                         'that those samples are fitted from the image alone, as the deterministic UNet is')


def image_only(x_t, t, p, schedule, g):
    """A share p of the batch sees what the deterministic UNet sees (the image, an empty mask) at the
    noisiest t; the x0 target is unchanged. p = 0 draws nothing, so older runs replay exactly."""
    if not p:
        return x_t, t
    alone = torch.rand(len(x_t), generator=g) < p
    x_t = x_t.masked_fill(alone.view(-1, 1, 1, 1), 0.0)
    return x_t, t.masked_fill(alone, schedule.T - 1)


def add_high_t_share(ap):
    """--high-t-share, for train.py and train_prompts.py alike (Schedule.sample_t)."""
    ap.add_argument('--high-t-share', type=share, default=0.0,
                    help='diffusion: share of each batch whose t is drawn from 500..999 instead of 0..999 '
                         '(Schedule.sample_t), more training where the mask must come from the image alone')


def same_head(ck, arch, what):
    """A checkpoint's x0 head (UNet x0_head, set by --x0-loss) must be this run's: the same weights
    under the other head would mean another output."""
    head, want = ck.get('meta', {}).get('arch', {}).get('x0_head', 'linear'), arch.get('x0_head', 'linear')
    if head != want:
        sys.exit(f"{what}: its output is a {head} x0 head, this run's a {want} one (--x0-loss "
                 f"{'bce' if want == 'sigmoid' else 'mse'}); give the run's own --x0-loss or start from scratch")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', required=True)
    ap.add_argument('--mode', choices=['diffusion', 'deterministic'], default='diffusion')
    ap.add_argument('--prediction', choices=['x0', 'epsilon', 'v'], default='x0')
    ap.add_argument('--iters', type=int, default=2400)
    ap.add_argument('--batch', type=int, default=24)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--ema', type=float, default=0.995)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--tumour-fraction', type=share, default=0.7)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--base', type=int, default=ARCH['base'], help='UNet width (size sweep)')
    ap.add_argument('--init', help='start from a compact checkpoint (models/train/checkpoints/*.pt) when the run is new')
    ap.add_argument('--compact', metavar='PATH',
                    help='also write the float16 weights (model + EMA, no optimiser) at every checkpoint to PATH, '
                         'to commit a run that must go on in a later session: --init PATH --init-keep-iter')
    ap.add_argument('--init-keep-iter', action='store_true',
                    help='continue its iteration count (same --iters schedule) instead of a new schedule from 0')
    ap.add_argument('--device', default='cpu', help='cpu or cuda (a lent GPU machine)')
    ap.add_argument('--hold-out-site', help='leave-one-site-out fold: TCGA-LGG site to hold out (default: the shipped split)')
    ap.add_argument('--add-held-out', choices=ADD_HELD_OUT, default='none',
                    help="held-out cases that train too (ADD_HELD_OUT; train_prompts.py's option of the same name)")
    ap.add_argument('--data', choices=['v1', 'v2'], default='v2',
                    help='v2: every training case of datasets.py, preprocess.py (build_cache.py first); v1: 3 BraTS subjects')
    ap.add_argument('--p-lesion-contrast', type=share, default=0.0,
                    help="v2: chance per slice and sequence that the lesion's contrast against the tissue is lowered "
                         '(augment.lesion_contrast, a fainter lesion than the training sites show; 0 draws nothing)')
    ap.add_argument('--p-lesion-core', type=share, default=0.0,
                    help="chance per slice that a dark necrotic / cystic core is drawn in the lesion (augment.lesion_core)")
    ap.add_argument('--balance', choices=BALANCE, default='slices',
                    help="how a batch's slices are drawn: slices (uniformly), cases (a case uniformly, then a slice, "
                         'as nnU-Net; without it the 155-slice BraTS volumes give 63%% of the tumour slices drawn on a '
                         'site fold against 25 cases: case-balance-arm.json) or cases-in-dataset (each dataset keeps '
                         "its uniform share, its cases drawn equally: dataset-balance-arm.json)")
    ap.add_argument('--balance-cases', dest='balance', action='store_const', const='cases',
                    help='the same as --balance cases (the case-balance arm\'s command)')
    ap.add_argument('--p-dup-flair', type=share, default=0.0,
                    help='chance per slice that T1c is replaced by the FLAIR (augment.dup_flair: a missing T1c filled with FLAIR)')
    ap.add_argument('--x0-loss', choices=('mse', 'bce'), default='mse',
                    help='diffusion, x0: mse (the MSE of x0, as before) or bce (x0 = 2 sigmoid(logits) - 1 and '
                         'BCE + soft Dice on the logits, the deterministic baseline\'s loss, at every t)')
    add_high_t_share(ap)
    add_p_image_only(ap)
    ap.add_argument('--dice-weight', type=float, default=0.0,
                    help='diffusion, x0: add this times a soft Dice loss of the predicted x0 (as a 0-1 mask) per '
                         'slice to the MSE, so that a small lesion weighs as much as a large one')
    ap.add_argument('--context', type=int, default=0,
                    help='the FLAIR of this many slices above and below as more input channels (context.py)')
    add_context_strides(ap)
    ap.add_argument('--mults', default=','.join(map(str, ARCH['mults'])), help='UNet channel multipliers')
    args = ap.parse_args()
    if args.dice_weight and (args.mode != 'diffusion' or args.prediction != 'x0'):
        ap.error('--dice-weight needs the diffusion mode with --prediction x0 (the Dice is of the predicted mask)')
    if args.x0_loss == 'bce' and (args.mode != 'diffusion' or args.prediction != 'x0' or args.dice_weight):
        ap.error('--x0-loss bce needs the diffusion mode with --prediction x0, and has its own Dice (no --dice-weight)')
    if args.p_image_only and (args.mode != 'diffusion' or args.prediction != 'x0'):
        ap.error('--p-image-only needs the diffusion mode with --prediction x0 (an epsilon or v target depends on '
                 'the noisy mask it replaces)')
    if args.context and args.data != 'v2':
        ap.error('--context needs --data v2 (the cache keeps each case\'s slices in order)')
    if args.context_strides != (1,) and not args.context:
        ap.error('--context-strides needs --context')
    if args.data != 'v2' and (args.p_lesion_contrast or args.p_lesion_core or args.p_dup_flair):
        ap.error('--p-lesion-contrast, --p-lesion-core and --p-dup-flair need --data v2 (augment_v2; v1 has its own augment)')
    if args.data != 'v2' and args.balance != 'slices':
        ap.error('--balance needs --data v2 (the cache records each slice\'s case)')
    if args.high_t_share and args.mode != 'diffusion':
        ap.error('--high-t-share is for the diffusion mode (the deterministic UNet has no t)')
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # heap.py: 1.7x faster here
    run = args.run if os.path.isabs(args.run) else os.path.join(os.path.dirname(__file__), args.run)
    os.makedirs(run, exist_ok=True)

    if args.data == 'v2':
        img, lab, subjects, kept = load_cache_v2(args.hold_out_site, args.add_held_out, context=args.context,
                                                 strides=args.context_strides)
        aug = functools.partial(augment_v2, p_lesion_contrast=args.p_lesion_contrast,
                                p_lesion_core=args.p_lesion_core, p_dup_flair=args.p_dup_flair,
                                seq=through_plane.sequence_of_channels(ARCH['image_channels'], args.context))
    else:
        img, lab = load_slices(TRAIN_SUBJECTS)
        subjects, aug = TRAIN_SUBJECTS, augment
    tumour = (lab.sum((1, 2, 3)) > 0).nonzero().flatten()
    print(f'{len(img)} brain slices, {len(tumour)} with tumour', flush=True)
    weights = None
    if args.balance != 'slices':
        case_of, dataset_of = slice_cases(kept)
        weights = case_weights(case_of, tumour, dataset_of if args.balance == 'cases-in-dataset' else None)
    # On a GPU the slices are kept and augmented there (augment.py draws on the CPU, so a seed gives the same
    # batches on any device); the drawn lesion cores are numpy, so those runs augment on the CPU
    dev = torch.device(args.device)
    aug_dev = dev if args.data == 'v2' and not args.p_lesion_core else torch.device('cpu')
    img, lab = img.to(aug_dev), lab.to(aug_dev)

    arch = dict(ARCH, base=args.base, mults=tuple(int(m) for m in args.mults.split(',')),
                image_channels=ARCH['image_channels'] + 2 * args.context)
    if args.x0_loss == 'bce':
        arch['x0_head'] = 'sigmoid'
    torch.manual_seed(args.seed)  # the initial weights too are the seed's, on any device
    model = UNet(**arch, time_conditioned=args.mode == 'diffusion').to(dev)
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = Schedule(linear_betas(1000))
    start, t_start = 0, time.time()
    last = os.path.join(run, 'last.pt')
    if os.path.exists(last):
        ck = torch.load(last, map_location=dev, weights_only=False)  # our own file; torch >= 2.6 defaults to True
        same_head(ck, arch, f'resuming {last}')
        model.load_state_dict(ck['model'])
        ema.load_state_dict(ck['ema'])
        opt.load_state_dict(ck['opt'])
        start = ck['iter']
        print(f'resumed at {start}', flush=True)
    elif args.init:
        # a committed compact checkpoint (export.py --compact): weights only, fresh optimiser
        ck = torch.load(args.init, map_location=dev, weights_only=False)
        same_head(ck, arch, f'--init {args.init}')
        model.load_state_dict({k: v.float() for k, v in ck['model'].items()})
        ema.load_state_dict({k: v.float() for k, v in ck['ema'].items()})
        start = ck['iter'] if args.init_keep_iter else 0
        print(f"initialised from {args.init} (iteration {ck['iter']}), starting at {start}", flush=True)
    g = torch.Generator().manual_seed(args.seed + start)
    log = open(os.path.join(run, 'log.jsonl'), 'a')
    meta = dict(vars(args), arch=arch, subjects=subjects)
    json.dump(meta, open(os.path.join(run, 'config.json'), 'w'), indent=1)

    for it in range(start, args.iters):
        lr = args.lr * min(1.0, (it + 1) / 100) * (0.5 * (1 + math.cos(math.pi * it / args.iters)) * 0.97 + 0.03)
        for group in opt.param_groups:
            group['lr'] = lr
        n_t = int(args.batch * args.tumour_fraction)
        if weights is None:
            idx = torch.cat([tumour[torch.randint(len(tumour), (n_t,), generator=g)],
                             torch.randint(len(img), (args.batch - n_t,), generator=g)])
        else:
            idx = torch.cat([tumour[torch.multinomial(weights[0], n_t, replacement=True, generator=g)],
                             torch.multinomial(weights[1], args.batch - n_t, replacement=True, generator=g)])
        batch = pick_stride(img[idx.to(aug_dev)].float(), args.context_strides, args.context, g)
        x_img, x_lab = aug(batch, lab[idx.to(aug_dev)].float(), g)
        x_img, x_lab = x_img.cpu(), x_lab.cpu()  # the noise below is drawn on the CPU too (one generator)
        x0 = x_lab * 2 - 1
        if args.mode == 'diffusion':
            # noise and the noisy mask are drawn on the CPU (one generator): the same run on any device
            t = schedule.sample_t(args.batch, g, args.high_t_share)
            noise = torch.randn(x0.shape, generator=g)
            x_t = schedule.q_sample(x0, t, noise)
            x_t, t = image_only(x_t, t, args.p_image_only, schedule, g)
            target = {'x0': x0, 'epsilon': noise, 'v': schedule.v_target(x0, t, noise)}[args.prediction]
            if args.x0_loss == 'bce':
                logits = model.logits(x_img.to(dev), x_t.to(dev), t.float().to(dev))
                x_lab = x_lab.to(dev)
                loss = F.binary_cross_entropy_with_logits(logits, x_lab) + dice_loss(torch.sigmoid(logits), x_lab)
            else:
                pred = model(x_img.to(dev), x_t.to(dev), t.float().to(dev))
                loss = F.mse_loss(pred, target.to(dev))
            if args.dice_weight:
                loss = loss + args.dice_weight * dice_loss(((pred + 1) / 2).clamp(0, 1), x_lab.to(dev))
        else:
            x_img, x_lab = x_img.to(dev), x_lab.to(dev)
            logits = model(x_img, torch.zeros_like(x_lab), torch.zeros(args.batch, device=dev))
            loss = F.binary_cross_entropy_with_logits(logits, x_lab) + dice_loss(torch.sigmoid(logits), x_lab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            d = min(args.ema, (1 + it) / (10 + it))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm.detach(), alpha=1 - d)
        if it % 20 == 0 or it == args.iters - 1:
            rec = dict(iter=it, loss=float(loss), lr=lr, seconds=round(time.time() - t_start, 1))
            log.write(json.dumps(rec) + '\n')
            log.flush()
            print(rec, flush=True)
        if (it + 1) % 100 == 0 or it == args.iters - 1:
            cpu = lambda sd: {k: v.cpu() for k, v in sd.items()}  # noqa: E731  (loads on a CPU-only machine)
            ck = dict(model=cpu(model.state_dict()), ema=cpu(ema.state_dict()), opt=opt.state_dict(), iter=it + 1,
                      meta=meta)
            torch.save(ck, last + '.tmp')
            os.replace(last + '.tmp', last)
            if args.compact:
                save_compact(ck, args.compact)


def save_compact(ck, path):
    """A checkpoint small enough to commit (float16 model and EMA weights; the optimiser's moments are
    left out, they would double it): --init PATH --init-keep-iter continues the same schedule with a
    fresh AdamW, whose bias correction rebuilds its moments within the first steps."""
    half = lambda sd: {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}  # noqa: E731
    torch.save(dict(model=half(ck['model']), ema=half(ck['ema']), iter=ck['iter'], meta=ck['meta']), path + '.tmp')
    os.replace(path + '.tmp', path)


if __name__ == '__main__':
    main()
