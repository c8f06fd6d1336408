"""Augmentation for the v2 model: what differs between sites and scanners, simulated on the
normalised model-grid slices (preprocess.py) so that the network stops relying on any one
site's look.

  spatial    left-right flip, rotation +-20 deg, scale 0.85-1.2, shift +-10 px (one affine grid
             for image and label; the image pads with its edge = background)
  intensity  per slice and channel: gamma 0.67-1.5 on the slice's own range, a smooth
             multiplicative bias field (+-30 %), contrast 0.85-1.15 and offset +-0.15,
             Gaussian noise, Gaussian blur, low resolution (down- then up-sampling), and now
             and then T1c replaced by FLAIR (as sites do where a sequence is missing)
  lesion     (train_prompts.py --p-lesion-contrast) per slice and channel, the lesion's contrast
             against the rest of the brain scaled by 0.4-1: lesions as faint on FLAIR as a
             glioblastoma's necrotic core or a scanner's weak FLAIR, so that the other channel and
             the lesion's shape count too; the reference is unchanged
  core       (train_prompts.py --p-lesion-core) per slice, a necrotic or cystic core drawn inside
             the lesion: its deepest part (an irregular level of the distance to the lesion's edge,
             a rim of >= 4 mm kept) made dark on FLAIR and T1c, between the tissue's 5th
             percentile (fluid) and its median, half of the time with an enhancing ring on T1c;
             the reference is unchanged, as whole-tumour references (BraTS, Buda et al.) include
             such cores, which the model tended to leave out (the mask a bright rim round a hole)
  crop       (train_prompts.py --p-crop) the whole batch cut to each slice's head box plus a random
             margin, sides a multiple of 16, as the engine's crop to the head does (workers/src/
             engine/crop.ts), so that GroupNorm's statistics of a tight crop are not new to the network
  stripping  (raw heads only, before the rest) a simulated skull stripping: the head mask
             eroded by 8-18 mm (scalp + skull are 10-15 mm on these heads; less leaves a rim, as
             an imperfect stripping does), the reference lesion kept, the slice renormalised on what is
             left as preprocess.py would normalise a stripped scan, the rest set to that scan's
             background; so that skull-stripped scans (BraTS and alike) are not only 3 subjects
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from preprocess import CLIP, SPACING_MM

STRIP_MM = (8.0, 18.0)  # how deep the simulated stripping cuts in from the head surface
MIN_BRAIN_PX = 300  # slices with less brain left (skull base, vertex) stay as they are


def _u(n, g, lo, hi, *shape):
    return lo + (hi - lo) * torch.rand(n, *shape, generator=g)


def spatial(img, lab, g):
    n = img.shape[0]
    flip = (torch.rand(n, generator=g) < 0.5).to(img.device)
    img[flip] = img[flip].flip(-1)
    lab[flip] = lab[flip].flip(-1)
    ang = _u(n, g, -math.radians(20), math.radians(20))
    sc = _u(n, g, 0.85, 1.2)
    aniso = _u(n, g, 0.93, 1.07)
    tx, ty = _u(n, g, -1 / 6, 1 / 6), _u(n, g, -1 / 6, 1 / 6)
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack([torch.stack([cos / (sc * aniso), -sin / sc, tx], 1),
                         torch.stack([sin / (sc * aniso), cos / sc, ty], 1)], 1)
    grid = F.affine_grid(theta.to(img.device), img.shape, align_corners=False)
    img = F.grid_sample(img, grid, mode='bilinear', padding_mode='border', align_corners=False)
    lab = (F.grid_sample(lab, grid, mode='bilinear', padding_mode='zeros', align_corners=False) > 0.5).float()
    return img, lab


def above_air(x):
    """x [..., m] -> bool [..., m]: tissue along the last axis, above a tenth of the way from its
    minimum (air) to its 99th percentile (the rule of head_mask, for torch tensors)."""
    lo = x.amin(-1, keepdim=True)
    hi = torch.quantile(x, 0.99, dim=-1, keepdim=True)
    return x > lo + 0.1 * (hi - lo)


def head_mask(z):
    """z: one channel of a normalised slice [h, w] -> the filled head (largest tissue component).

    Air is the slice's darkest level: tissue is above a tenth of the way from it to the 99th
    percentile (8-bit TCGA air sits at the minimum with little noise)."""
    lo, hi = float(z.min()), float(np.percentile(z, 99))
    tissue = ndimage.binary_opening(z > lo + 0.1 * (hi - lo), iterations=1)
    lab, n = ndimage.label(tissue)
    if n == 0:
        return tissue
    sizes = ndimage.sum(tissue, lab, np.arange(1, n + 1))
    return ndimage.binary_fill_holes(lab == 1 + int(np.argmax(sizes)))


def strip_skull(img, lab, chosen, g):
    """Simulated skull stripping of the raw-head samples `chosen` (bool [n]); img [n, c, h, w] in
    preprocess.py's normalised units, lab [n, k, h, w] (every label channel's lesion is kept).

    Each channel is renormalised on the kept voxels (z' = (z - p50) / (p99 - p1) of the kept
    voxels, the affine change preprocess.py's statistics would make on a stripped scan) and the
    stripped voxels get the slice's air level in those units: stripped scans have a constant
    background at their minimum."""
    img = img.clone()
    for i in chosen.nonzero().flatten().tolist():
        x = img[i].numpy()
        head = np.zeros(x.shape[1:], bool)
        for ch in range(x.shape[0]):
            head |= head_mask(x[ch])
        depth_mm = float(STRIP_MM[0] + (STRIP_MM[1] - STRIP_MM[0]) * torch.rand(1, generator=g))
        brain = ndimage.distance_transform_edt(head) * SPACING_MM > depth_mm
        brain = ndimage.binary_opening(brain, iterations=2) | (lab[i].numpy() > 0.5).any(0)
        if brain.sum() < MIN_BRAIN_PX:
            continue
        for ch in range(x.shape[0]):
            v = x[ch][brain]
            p1, p50, p99 = np.percentile(v, [1, 50, 99])
            scale = max(p99 - p1, 1e-3)
            air = float(x[ch].min())
            x[ch] = np.where(brain, (x[ch] - p50) / scale, (air - p50) / scale)
        img[i] = torch.from_numpy(np.clip(x, *CLIP))
    return img


def _gauss_kernel(sigma):
    r = 3
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur(x, sigma):
    """x [n, 1, h, w] -> Gaussian-blurred (separable, radius 3 px, edges replicated)."""
    k = _gauss_kernel(sigma).to(x.device)
    x = F.conv2d(F.pad(x, (3, 3, 0, 0), mode='replicate'), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, 3, 3), mode='replicate'), k.view(1, 1, -1, 1))


def unit_range(img):
    """img [n, c, h, w] -> (u, lo, rng): each slice and channel mapped from its own [min, max] to [0, 1]
    (u = (img - lo) / rng; rng at least 1e-3), the range intensity's gamma and bias field work on."""
    lo = img.amin((2, 3), keepdim=True)
    rng = (img.amax((2, 3), keepdim=True) - lo).clamp_min(1e-3)
    return (img - lo) / rng, lo, rng


def intensity(img, g, seq=None):
    """seq: the sequence each channel shows (context.sequence_of_channels): channels of one sequence get
    the same gamma, bias field and contrast. Default: every channel its own (the same random draws)."""
    n, c, h, w = img.shape
    seq = torch.arange(c) if seq is None else torch.as_tensor(seq)
    k = int(seq.max()) + 1
    # drawn on the CPU (one generator, the same draws on any device), applied where img is (a GPU: train.py)
    on = lambda x: x.to(img.device)  # noqa: E731
    u, lo, rng = unit_range(img)
    gamma = on(torch.exp(_u(n, g, -0.4, 0.4, k, 1, 1))[:, seq])
    u = u.clamp(0, 1) ** gamma
    field = on(F.interpolate(_u(n, g, -0.3, 0.3, k, 4, 4), size=(h, w), mode='bicubic', align_corners=False)[:, seq])
    bias_on = on((torch.rand(n, 1, 1, 1, generator=g) < 0.5).float())
    u = u * torch.exp(field * bias_on)
    img = u * rng + lo
    img = img * on(_u(n, g, 0.85, 1.15, k, 1, 1)[:, seq]) + on(_u(n, g, -0.15, 0.15, k, 1, 1)[:, seq])
    noisy = (torch.rand(n, 1, 1, 1, generator=g) < 0.3).float()
    img = img + on(noisy * _u(n, g, 0, 0.08, 1, 1, 1) * torch.randn(img.shape, generator=g))
    for i in range(n):
        r = float(torch.rand(1, generator=g))
        if r < 0.2:
            img[i] = _blur(img[i:i + 1].reshape(c, 1, h, w), float(_u(1, g, 0.5, 1.2))).reshape(c, h, w)
        elif r < 0.35:
            f = float(_u(1, g, 0.5, 0.75))
            x = F.interpolate(img[i:i + 1], scale_factor=f, mode='bilinear', align_corners=False, recompute_scale_factor=False)
            img[i] = F.interpolate(x, size=(h, w), mode='bilinear', align_corners=False)[0]
    swap = on(torch.rand(n, generator=g) < 0.05)
    img[swap, 1] = img[swap, 0]
    return img.clamp(*CLIP)


LESION_CONTRAST = (0.4, 1.0)  # the lesion's contrast against the brain is scaled by this range
MIN_LESION_PX = 20  # smaller lesions keep their contrast


def lesion_contrast(img, lesion, g, p, seq=None):
    """img [n, c, h, w], lesion [n, 1, h, w] (0-1): in each channel with probability p, the lesion's
    deviation from the median of the rest of the slice's tissue is scaled by a factor in
    LESION_CONTRAST, through a mask blurred by 1 px so that no edge is drawn. seq (as intensity's):
    channels of one sequence share the draw, so a context model's neighbour FLAIR slices are lowered
    with the slice's own (through the slice's own lesion: the neighbours' lesions are about as large).
    Default: every channel its own draw (the order of draws of the runs before seq)."""
    n, c = img.shape[:2]
    soft = _blur(lesion, 1.0)
    img = img.clone()
    for i in range(n):
        inside = lesion[i, 0] > 0.5
        if int(inside.sum()) < MIN_LESION_PX:
            continue
        on, scale = {}, {}  # per sequence (per channel without seq)
        for ch in range(c):
            k = ch if seq is None else int(seq[ch])
            if k not in on:
                on[k] = float(torch.rand(1, generator=g)) < p
                if on[k] and seq is not None:
                    scale[k] = float(_u(1, g, *LESION_CONTRAST))
            if not on[k]:
                continue
            x = img[i, ch]
            rest = above_air(x.flatten()).view(x.shape) & ~inside
            if int(rest.sum()) < MIN_LESION_PX:
                continue
            ref = float(x[rest].median())
            f = float(_u(1, g, *LESION_CONTRAST)) if seq is None else scale[k]
            img[i, ch] = x + soft[i, 0] * (f - 1) * (x - ref)
    return img


CORE_MIN_DEPTH_PX = 3  # lesions thinner than 12 mm across get no core
CORE_RIM_PX = 2  # the lesion left round the core: >= 4 mm
CORE_DEPTH = (0.3, 0.6)  # the core: deeper than this share of the lesion's greatest depth
CORE_DARKNESS = {0: (0.0, 0.7), 1: (0.0, 0.6)}  # per channel, 0 = fluid (5th pct), 1 = tissue median


def _smooth_noise(h, w, g, sigma=4.0):
    k = _gauss_kernel(sigma)
    r = (len(k) - 1) // 2
    z = torch.randn(1, 1, h + 2 * r, w + 2 * r, generator=g)
    z = F.conv2d(F.conv2d(z, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))[0, 0]
    return z / (z.std() + 1e-6)


def lesion_core(img, lesion, g, p):
    """img [n, c, h, w], lesion [n, 1, h, w] (0-1): with probability p per slice, the lesion's core
    (see the module's doc) made dark in every channel; an enhancing ring on T1c (channel 1) half of
    the time. The label is not changed: the core is part of the whole tumour."""
    n, c, h, w = img.shape
    blur = lambda m: _blur(m[None, None], 1.0)[0, 0]  # noqa: E731
    img = img.clone()
    for i in range(n):
        if float(torch.rand(1, generator=g)) >= p:
            continue
        inside = lesion[i, 0].numpy() > 0.5
        if inside.sum() < MIN_LESION_PX:
            continue
        depth = ndimage.distance_transform_edt(inside)
        if depth.max() < CORE_MIN_DEPTH_PX:
            continue
        level = float(_u(1, g, *CORE_DEPTH)) * depth.max()
        wobble = _smooth_noise(h, w, g).numpy() * 0.15 * depth.max()
        core = (depth + wobble > level) & (depth > CORE_RIM_PX)
        if core.sum() < 4:
            continue
        soft = blur(torch.from_numpy(core.astype(np.float32)))
        ring = None
        if c > 1 and float(torch.rand(1, generator=g)) < 0.5:
            wide = blur(torch.from_numpy(ndimage.binary_dilation(core, iterations=2).astype(np.float32)))
            ring = (wide - soft).clamp(0, 1)
        texture = _smooth_noise(h, w, g, sigma=1.5)
        inside_t = torch.from_numpy(inside)
        for ch in range(c):
            x = img[i, ch]
            tissue = above_air(x.flatten()).view(x.shape) & ~inside_t
            if int(tissue.sum()) < MIN_LESION_PX:
                continue
            lo, mid, hi = (float(v) for v in torch.quantile(x[tissue], torch.tensor([0.05, 0.5, 0.99])))
            dark = lo + float(_u(1, g, *CORE_DARKNESS.get(ch, CORE_DARKNESS[1]))) * (mid - lo)
            target = dark + 0.05 * (mid - lo) * texture
            x = x + soft * (target - x)
            if ch == 1 and ring is not None:
                x = x + ring * float(_u(1, g, 0.3, 1.0)) * max(hi - mid, 0.0)
            img[i, ch] = x
    return img


def augment_v2(img, lab, g, raw_head=None, p_strip=0.35, p_lesion_contrast=0.0, p_lesion_core=0.0,
               p_dup_flair=0.0, seq=None):
    """raw_head: bool [n], the samples from heads with skull (TCGA); p_strip of them are stripped.
    lab's first channel is the slice's reference (the lesion the contrast change follows).
    p_dup_flair: chance per slice that the T1c channel is the FLAIR (dup_flair). seq: see intensity."""
    if raw_head is not None and p_strip > 0:
        img = strip_skull(img, lab, raw_head & (torch.rand(len(img), generator=g) < p_strip), g)
    img, lab = spatial(img, lab, g)
    if p_lesion_contrast > 0:
        img = lesion_contrast(img, lab[:, :1], g, p_lesion_contrast, seq)
    if p_lesion_core > 0:
        img = lesion_core(img, lab[:, :1], g, p_lesion_core)
    img = intensity(img, g, seq)
    if p_dup_flair > 0:
        img = dup_flair(img, g, p_dup_flair)
    return img, lab


def dup_flair(img, g, p):
    """A missing T1c stored as a copy of the FLAIR (5 of the 44 TCGA-LGG patients: the source filled a
    missing sequence with the FLAIR): channel 1 := channel 0 in a share p of the slices, after the
    intensity changes, as the two are equal after normalisation at inference."""
    pick = (torch.rand(len(img), generator=g) < p).to(img.device)
    if pick.any():
        img = img.clone()
        img[pick, 1] = img[pick, 0]
    return img


CROP_MARGIN_PX = (4, 20)  # the engine's margin (crop.ts CROP_MARGIN_PX) is drawn from this range
CROP_SIDE = 16  # crop sides are multiples of the UNet's downsampling (crop.ts cropGrid)


def head_boxes(img):
    """img [n, c, h, w] -> each slice's tissue box (r0, r1, c0, c1), inclusive: any channel above a
    tenth of the way from its minimum to its 99th percentile (as head_mask); the whole frame if none."""
    n, c, h, w = img.shape
    tissue = above_air(img.reshape(n, c, -1).float()).any(1).reshape(n, h, w)
    boxes = []
    for i in range(n):
        rows = tissue[i].any(1).nonzero().flatten()
        cols = tissue[i].any(0).nonzero().flatten()
        boxes.append((int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])) if len(rows) else (0, h - 1, 0, w - 1))
    return boxes


def crop_groups(img, other, g, groups=3):
    """A batch cut to its slices' head boxes, as the engine's crop to the head does: img [n, c, h, w]
    and other [n, k, h, w] (labels) -> a list of (img, other) groups, each of one crop size.

    One margin per batch; each slice's box plus the margin, sides rounded up to CROP_SIDE; the
    slices sorted by box size and split into `groups` groups (the engine batches slices of one
    crop size), each cut to its largest size, each box centred on its slice's head inside the frame."""
    n, _, h, w = img.shape
    margin = int(torch.randint(CROP_MARGIN_PX[0], CROP_MARGIN_PX[1] + 1, (1,), generator=g))
    side = lambda a, b, size: min(size, -(-(b - a + 1 + 2 * margin) // CROP_SIDE) * CROP_SIDE)  # noqa: E731
    start = lambda a, b, crop, size: min(max(0, (a + b + 1 - crop) // 2), size - crop)  # noqa: E731
    boxes = head_boxes(img)
    sizes = [(side(r0, r1, h), side(c0, c1, w)) for r0, r1, c0, c1 in boxes]
    order = sorted(range(n), key=lambda i: sizes[i][0] * sizes[i][1])
    out = []
    for part in np.array_split(np.array(order), groups):
        if len(part) == 0:
            continue
        ch, cw = max(sizes[i][0] for i in part), max(sizes[i][1] for i in part)
        gi = torch.empty(len(part), img.shape[1], ch, cw, dtype=img.dtype)
        go = torch.empty(len(part), other.shape[1], ch, cw, dtype=other.dtype)
        for j, i in enumerate(part):
            r0, r1, c0, c1 = boxes[i]
            a, b = start(r0, r1, ch, h), start(c0, c1, cw, w)
            gi[j] = img[i, :, a:a + ch, b:b + cw]
            go[j] = other[i, :, a:a + ch, b:b + cw]
        out.append((gi, go))
    return out
