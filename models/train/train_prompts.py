"""Fine-tune the v2 diffusion segmenter into a prompt-conditioned one (issue 12).

  nice -n 5 /usr/bin/python3 models/train/train_prompts.py --run runs/v22-prompts --iters 1200

The UNet gets two more image channels, positive and negative clicks drawn as Gaussian blobs
(peak 1, CLICK_SIGMA px of the model grid). It starts from the shipped v2 checkpoint with the
weights of the new channels zero, so with empty click maps it is exactly that model; a share of
every batch (--p-empty) keeps training without clicks so the unprompted proposal stays as good.

Clicks are simulated the DeepEdit / nnInteractive way: one no-grad x0 prediction of the EMA model
from pure noise (t = T-1, the first DDIM step) shows where the model is wrong; clicks go to the
centre (largest distance to the region's edge) of the largest false-negative (positive click) and
false-positive (negative click) regions, largest first. Now and then a positive click sits at the
centre of a lesion as such: the engine propagates a click to neighbouring slices exactly that way.

Resumable like train.py (runs/<run>/last.pt, log.jsonl, checkpoint every 100 iterations).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

sys.path.insert(0, os.path.dirname(__file__))
from augment import augment_v2, crop_groups  # noqa: E402
from diffusion import Schedule, linear_betas  # noqa: E402
from heap import keep_freed_memory  # noqa: E402
import context as through_plane  # noqa: E402
from train import (ADD_HELD_OUT, ARCH, CACHE_V2, add_context_strides, add_high_t_share, add_p_image_only,  # noqa: E402
                   block_kind, dice_loss, image_only, load_cache_v2, pick_stride, share)
from unet import UNet  # noqa: E402

# prompt channels follow the image channels, before x_t (the UNet concatenates image then x_t)
PROMPT_CHANNELS = ['positive clicks', 'negative clicks']
CLICK_SIGMA = 1.75  # px of the 120 x 120 model grid (2 mm): a blob of about 7 mm across
MIN_ERROR_PX = 4  # error regions smaller than this are not worth a click


def click_maps(points, h, w, sigma=CLICK_SIGMA):
    """points: list of (row, col, positive) -> [2, h, w] max of Gaussian blobs, peak 1."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((2, h, w), np.float32)
    for r, c, pos in points:
        blob = np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * sigma * sigma))
        ch = 0 if pos else 1
        np.maximum(out[ch], blob, out=out[ch])
    return out


def draw_slices(pool, n, g, thin=None, thin_share=None):
    """n slice indices drawn uniformly from pool (an index tensor); with thin_share, each draw comes from
    pool's thin-stack slices with that chance and from its other slices otherwise (v16: a thin stack is 3x
    the slices of its head, so uniform draws are ~63% thin). Without it, exactly the draws of before."""
    if thin_share is None:
        return pool[torch.randint(len(pool), (n,), generator=g)]
    thin_pool, other = pool[thin[pool]], pool[~thin[pool]]
    if not len(thin_pool) or not len(other):
        raise SystemExit('--thin-share: the cache needs thin stacks and other slices (build_cache.py --thin)')
    from_thin = torch.rand(n, generator=g) < thin_share
    return torch.where(from_thin, thin_pool[torch.randint(len(thin_pool), (n,), generator=g)],
                       other[torch.randint(len(other), (n,), generator=g)])


def region_centre(region):
    """The pixel deepest inside a region (max of its distance transform): the simulated user's click."""
    dist = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(r), int(c)


def simulate_clicks(pred, truth, n_clicks, rng, neighbour=None, p_lesion_click=0.3, p_neighbour_click=0.1):
    """DeepEdit-style clicks for one slice: pred, truth bool [h, w] -> list of (row, col, positive).

    neighbour: the reference of the next or previous slice; now and then a positive click sits at
    the centre of one of its lesions, as the engine propagates a click, so that the model learns to
    follow such a click only as far as the image shows lesion. Rare (10 %, v2.3; 30 % in v2.2):
    where such a click fell outside this slice's reference, the model learnt to follow a click
    only where the image already agreed."""
    regions = []
    for positive, err in ((True, truth & ~pred), (False, pred & ~truth)):
        lab, n = ndimage.label(err)
        if n:
            sizes = ndimage.sum(err, lab, np.arange(1, n + 1))
            regions += [(int(s), positive, lab == i + 1) for i, s in enumerate(sizes) if s >= MIN_ERROR_PX]
    regions.sort(key=lambda x: -x[0])
    clicks = [(*region_centre(reg), pos) for _, pos, reg in regions[:n_clicks]]
    if truth.any() and rng.random() < p_lesion_click:
        lab, n = ndimage.label(truth)
        clicks.append((*region_centre(lab == rng.integers(1, n + 1)), True))
    if neighbour is not None and neighbour.any() and rng.random() < p_neighbour_click:
        lab, n = ndimage.label(neighbour)
        clicks.append((*region_centre(lab == rng.integers(1, n + 1)), True))
    return clicks


def widen_input(state, image_channels, extra):
    """v2 weights -> the same network with `extra` zero input channels after the image channels."""
    w = state['inp.weight']
    zeros = torch.zeros(w.shape[0], extra, *w.shape[2:], dtype=w.dtype)
    state = dict(state)
    state['inp.weight'] = torch.cat([w[:, :image_channels], zeros, w[:, image_channels:]], 1)
    return state


class PromptUNet(torch.nn.Module):
    """The v2 UNet plus a zero-initialised conv of the click maps added to its input conv's output.

    The sum is exactly one conv of the widened input (convolution is linear), which is what is
    saved and exported (merged_state); kept apart in training so that the new weights get their
    own, larger learning rate without the image weights getting it too."""

    def __init__(self, arch):
        super().__init__()
        self.unet = UNet(**dict(arch, image_channels=arch['image_channels'] - len(PROMPT_CHANNELS)))
        self.prompt_inp = torch.nn.Conv2d(len(PROMPT_CHANNELS), self.unet.inp.out_channels, 3, padding=1, bias=False)
        torch.nn.init.zeros_(self.prompt_inp.weight)
        self.n_img = arch['image_channels'] - len(PROMPT_CHANNELS)
        self._clicks = None
        self.unet.inp.register_forward_hook(lambda m, i, out: out + self.prompt_inp(self._clicks))

    def forward(self, image, x_t, t):
        self._clicks = image[:, self.n_img:]
        return self.unet(image[:, :self.n_img], x_t, t)

    def merged_state(self):
        """State dict of UNet(image_channels = n_img + 2): prompt weights between image and x_t weights."""
        # on the CPU, so that a checkpoint written on a GPU loads on any machine
        sd = {k[len('unet.'):]: v.detach().cpu().clone() for k, v in self.state_dict().items() if k.startswith('unet.')}
        w = sd['inp.weight']
        sd['inp.weight'] = torch.cat([w[:, :self.n_img], self.prompt_inp.weight.detach().cpu(), w[:, self.n_img:]], 1)
        return sd

    def load_merged(self, sd):
        sd = dict(sd)
        w = sd.pop('inp.weight')
        n, p = self.n_img, len(PROMPT_CHANNELS)
        self.unet.load_state_dict({**sd, 'inp.weight': torch.cat([w[:, :n], w[:, n + p:]], 1)})
        self.prompt_inp.weight.data.copy_(w[:, n:n + p])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', required=True)
    ap.add_argument('--iters', type=int, default=1200)
    ap.add_argument('--batch', type=int, default=24)
    ap.add_argument('--lr', type=float, default=2e-4)
    ap.add_argument('--ema', type=float, default=0.995)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--tumour-fraction', type=share, default=0.7)
    ap.add_argument('--p-empty', type=share, default=0.4, help='share of samples without clicks')
    ap.add_argument('--max-clicks', type=int, default=5)
    ap.add_argument('--prompt-lr-scale', type=float, default=5.0, help='learning rate of the new click weights, x --lr')
    ap.add_argument('--p-strip', type=share, default=0.35, help='share of raw-head (TCGA) samples skull-stripped (augment.py)')
    ap.add_argument('--p-lesion-contrast', type=share, default=0.0,
                    help="chance per slice and channel that the lesion's contrast is lowered (augment.lesion_contrast)")
    ap.add_argument('--p-lesion-core', type=share, default=0.0,
                    help="chance per slice that a dark necrotic / cystic core is drawn in the lesion (augment.lesion_core)")
    ap.add_argument('--p-dup-flair', type=share, default=0.0,
                    help='chance per slice that T1c is replaced by the FLAIR (augment.dup_flair: a missing T1c filled with FLAIR)')
    ap.add_argument('--p-crop', type=share, default=0.0,
                    help="share of batches cut to their slices' head boxes (augment.crop_groups; v2.4: 0.5)")
    add_high_t_share(ap)
    add_p_image_only(ap)
    add_context_strides(ap)
    ap.add_argument('--dice-weight', type=float, default=0.0,
                    help='add this times a soft Dice loss of the predicted x0 (train.py --dice-weight)')
    ap.add_argument('--snapshot-every', type=int, default=200, help='also keep the EMA weights every this many iterations')
    ap.add_argument('--seed', type=int, default=12)
    ap.add_argument('--add-held-out', choices=ADD_HELD_OUT, default='none',
                    help='site: the held-out TCGA-LGG site trains too; patients: every held-out case but that site '
                         '(which stays held out to validate on); all: every held-out case with an expert reference '
                         '(nothing is held out then)')
    ap.add_argument('--init', default=os.path.join(os.path.dirname(__file__), 'checkpoints', 'quorum-wt-v2.pt'))
    ap.add_argument('--device', default='cpu', help='cpu or cuda (a lent GPU machine: device_train.py)')
    ap.add_argument('--cache', default=CACHE_V2, help='the training slices (build_cache.py --out; v15: --thin 3)')
    ap.add_argument('--p-near-context', type=share, default=0.0,
                    help="chance per raw-head (TCGA) sample that its neighbours are read 1/3 of a slice away (context.nearer)")
    ap.add_argument('--thin-share', type=share, default=None,
                    help="chance that a drawn slice is from a thin stack (draw_slices); default: uniform over the cache's slices")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # heap.py: 1.7x faster here
    run = args.run if os.path.isabs(args.run) else os.path.join(os.path.dirname(__file__), args.run)
    os.makedirs(run, exist_ok=True)

    last = os.path.join(run, 'last.pt')
    # the network's width, depth and through-plane context are those of what it starts from
    # (v3: width 16; v4: 24; a train.py --context run: its neighbour channels, context.py)
    start_meta = torch.load(last if os.path.exists(last) else args.init, map_location='cpu', weights_only=False).get('meta', {})
    size, context = start_meta.get('arch', {}), start_meta.get('context', 0)
    if args.context_strides != (1,) and not context:
        raise SystemExit('--context-strides: the network it starts from reads no context')
    img, lab, subjects, keep = load_cache_v2(add_held_out=args.add_held_out, context=context,
                                             strides=args.context_strides, path=args.cache)
    cache = np.load(args.cache)
    case_of = torch.from_numpy(cache['case'][keep])
    block_of = torch.from_numpy(block_kind(cache)[keep])  # the block: as stored, thick or thin
    raw_case = torch.tensor([c['dataset'] == 'tcga-lgg' for c in json.loads(str(cache['cases']))])
    raw_head = raw_case[case_of.long()]  # TCGA-LGG heads come with skull; the others are stripped
    tumour = (lab.sum((1, 2, 3)) > 0).nonzero().flatten()
    every, thin = torch.arange(len(img)), block_of >= 2  # block_kind: 2 (+1 if thick) a thin stack
    print(f'{len(img)} brain slices, {len(tumour)} with tumour', flush=True)

    n_img = ARCH['image_channels'] + 2 * context
    arch = dict(ARCH, base=size.get('base', ARCH['base']), mults=tuple(size.get('mults', ARCH['mults'])),
                image_channels=n_img + len(PROMPT_CHANNELS))
    print(f"UNet width {arch['base']}, multipliers {arch['mults']}, context {context}", flush=True)
    dev = torch.device(args.device)
    model = PromptUNet(arch).to(dev)
    ema = PromptUNet(arch).to(dev).eval()  # not deepcopy: the input hook must see its own module
    opt = torch.optim.AdamW([{'params': model.unet.parameters(), 'scale': 1.0},
                             {'params': model.prompt_inp.parameters(), 'scale': args.prompt_lr_scale}],
                            lr=args.lr, weight_decay=1e-4)
    schedule = Schedule(linear_betas(1000))
    start, t_start = 0, time.time()
    if os.path.exists(last):
        ck = torch.load(last, map_location=dev, weights_only=False)  # our own file; torch >= 2.6 defaults to True
        model.load_merged(ck['model'])
        ema.load_merged(ck['ema'])
        opt.load_state_dict(ck['opt'])
        start = ck['iter']
        print(f'resumed at {start}', flush=True)
    else:
        ck = torch.load(args.init, weights_only=False)
        fl = lambda sd: {k: v.float() for k, v in sd.items()}  # noqa: E731
        # both from the shipped (EMA) weights: with empty click maps this is exactly the shipped model
        shipped = fl(ck['ema'])
        if shipped['inp.weight'].shape[1] == n_img + 1:  # a v2 checkpoint without click channels yet
            shipped = widen_input(shipped, n_img, len(PROMPT_CHANNELS))
        model.load_merged(shipped)
        ema.load_merged(shipped)
        print(f"initialised from {args.init} (iteration {ck['iter']})", flush=True)
    for p in ema.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(args.seed + start)
    rng = np.random.default_rng(args.seed + start)
    log = open(os.path.join(run, 'log.jsonl'), 'a')
    meta = dict(vars(args), context=context, arch=arch, subjects=subjects, prompts=dict(channels=PROMPT_CHANNELS, sigma=CLICK_SIGMA))
    json.dump(meta, open(os.path.join(run, 'config.json'), 'w'), indent=1)

    b = args.batch
    for it in range(start, args.iters):
        lr = args.lr * min(1.0, (it + 1) / 50) * (0.5 * (1 + math.cos(math.pi * it / args.iters)) * 0.9 + 0.1)
        for group in opt.param_groups:
            group['lr'] = lr * group['scale']
        n_t = int(b * args.tumour_fraction)
        idx = torch.cat([draw_slices(tumour, n_t, g, thin, args.thin_share),
                         draw_slices(every, b - n_t, g, thin, args.thin_share)])
        # each sample's neighbouring slice (same case, same kind), whose label travels through the augmentation
        step = torch.where(torch.rand(b, generator=g) < 0.5, -1, 1)
        nb = (idx + step).clamp(0, len(img) - 1)
        same = (case_of[nb] == case_of[idx]) & (block_of[nb] == block_of[idx])
        nb_lab = lab[nb].float() * same.float().view(-1, 1, 1, 1)
        x_img = pick_stride(img[idx].float(), args.context_strides, context, g)
        if args.p_near_context > 0 and context:
            near = raw_head[idx] & (block_of[idx] == 0) & (torch.rand(b, generator=g) < args.p_near_context)
            x_img = through_plane.nearer(x_img, near, ARCH['image_channels'])
        x_img, both = augment_v2(x_img,
                                 torch.cat([lab[idx].float(), nb_lab], 1), g,
                                 raw_head[idx], args.p_strip, args.p_lesion_contrast, args.p_lesion_core,
                                 args.p_dup_flair, through_plane.sequence_of_channels(ARCH['image_channels'], context))
        # a share of batches cut to their head boxes, as the engine crops (groups of one crop size)
        cropped = args.p_crop > 0 and float(torch.rand(1, generator=g)) < args.p_crop
        groups = crop_groups(x_img, both, g) if cropped else [(x_img, both)]
        loss, n_clicked = 0.0, 0
        for x_img, both in groups:
            x_lab, x_nb = both[:, :1], both[:, 1:]
            n, (h, w) = len(x_img), x_img.shape[-2:]
            # where is the current model wrong? one x0 prediction from pure noise, no clicks
            with torch.no_grad():
                t_first = torch.full((n,), float(schedule.T - 1))
                x_T = torch.randn((n, 1, h, w), generator=g)
                first = (ema(torch.cat([x_img, torch.zeros(n, 2, h, w)], 1).to(dev), x_T.to(dev), t_first.to(dev)) > 0).cpu()
            maps = np.zeros((n, 2, h, w), np.float32)
            for i in range(n):
                if rng.random() < args.p_empty:
                    continue
                clicks = simulate_clicks(first[i, 0].numpy(), x_lab[i, 0].numpy() > 0.5,
                                         int(rng.integers(1, args.max_clicks + 1)), rng, x_nb[i, 0].numpy() > 0.5)
                if clicks:
                    maps[i] = click_maps(clicks, h, w)
                    n_clicked += 1
            x_in = torch.cat([x_img, torch.from_numpy(maps)], 1)
            x0 = x_lab * 2 - 1
            t = schedule.sample_t(n, g, args.high_t_share)
            noise = torch.randn(x0.shape, generator=g)
            x_t = schedule.q_sample(x0, t, noise)
            x_t, t = image_only(x_t, t, args.p_image_only, schedule, g)
            # noise, t and clicks are drawn on the CPU (one generator): the same run on any device
            pred = model(x_in.to(dev), x_t.to(dev), t.float().to(dev))
            # each group's pixel mean weighted by its share of the batch
            loss = loss + F.mse_loss(pred, x0.to(dev)) * (n / b)
            if args.dice_weight:
                loss = loss + args.dice_weight * dice_loss(((pred + 1) / 2).clamp(0, 1), x_lab.to(dev)) * (n / b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            d = args.ema  # the EMA already holds good weights: no warm-up of the decay
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm.detach(), alpha=1 - d)
        if it % 20 == 0 or it == args.iters - 1:
            rec = dict(iter=it, loss=float(loss), lr=lr, clicked=n_clicked, cropped=cropped, seconds=round(time.time() - t_start, 1))
            log.write(json.dumps(rec) + '\n')
            log.flush()
            print(rec, flush=True)
        if (it + 1) % 100 == 0 or it == args.iters - 1:
            # saved as the plain UNet export.py reads (the click weights merged into its input conv)
            ck = dict(model=model.merged_state(), ema=ema.merged_state(), opt=opt.state_dict(), iter=it + 1, meta=meta)
            torch.save(ck, last + '.tmp')
            os.replace(last + '.tmp', last)
        if (it + 1) % args.snapshot_every == 0:
            # a small EMA-only copy, so that an intermediate model can be exported if time runs short
            torch.save(dict(ema={k: v.half() for k, v in ema.merged_state().items()}, iter=it + 1, meta=meta),
                       os.path.join(run, f'ema-{it + 1}.pt'))


if __name__ == '__main__':
    main()
