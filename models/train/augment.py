"""Augmentation for the v2 model: what differs between sites and scanners, simulated on the
normalised model-grid slices (preprocess.py) so that the network stops relying on any one
site's look.

  spatial    left-right flip, rotation +-20 deg, scale 0.85-1.2, shift +-10 px (one affine grid
             for image and label; the image pads with its edge = background)
  intensity  per slice and channel: gamma 0.67-1.5 on the slice's own range, a smooth
             multiplicative bias field (+-30 %), contrast 0.85-1.15 and offset +-0.15,
             Gaussian noise, Gaussian blur, low resolution (down- then up-sampling), and now
             and then T1c replaced by FLAIR (as sites do where a sequence is missing)
"""
import math

import torch
import torch.nn.functional as F

from preprocess import CLIP


def _u(n, g, lo, hi, *shape):
    return lo + (hi - lo) * torch.rand(n, *shape, generator=g)


def spatial(img, lab, g):
    n = img.shape[0]
    flip = torch.rand(n, generator=g) < 0.5
    img[flip] = img[flip].flip(-1)
    lab[flip] = lab[flip].flip(-1)
    ang = _u(n, g, -math.radians(20), math.radians(20))
    sc = _u(n, g, 0.85, 1.2)
    aniso = _u(n, g, 0.93, 1.07)
    tx, ty = _u(n, g, -1 / 6, 1 / 6), _u(n, g, -1 / 6, 1 / 6)
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack([torch.stack([cos / (sc * aniso), -sin / sc, tx], 1),
                         torch.stack([sin / (sc * aniso), cos / sc, ty], 1)], 1)
    grid = F.affine_grid(theta, img.shape, align_corners=False)
    img = F.grid_sample(img, grid, mode='bilinear', padding_mode='border', align_corners=False)
    lab = (F.grid_sample(lab, grid, mode='bilinear', padding_mode='zeros', align_corners=False) > 0.5).float()
    return img, lab


def _gauss_kernel(sigma):
    r = 3
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def intensity(img, g):
    n, c, h, w = img.shape
    lo = img.amin((2, 3), keepdim=True)
    hi = img.amax((2, 3), keepdim=True)
    rng = (hi - lo).clamp_min(1e-3)
    u = (img - lo) / rng
    gamma = torch.exp(_u(n, g, -0.4, 0.4, c, 1, 1))
    u = u.clamp(0, 1) ** gamma
    field = F.interpolate(_u(n, g, -0.3, 0.3, c, 4, 4), size=(h, w), mode='bicubic', align_corners=False)
    bias_on = (torch.rand(n, 1, 1, 1, generator=g) < 0.5).float()
    u = u * torch.exp(field * bias_on)
    img = u * rng + lo
    img = img * _u(n, g, 0.85, 1.15, c, 1, 1) + _u(n, g, -0.15, 0.15, c, 1, 1)
    noisy = (torch.rand(n, 1, 1, 1, generator=g) < 0.3).float()
    img = img + noisy * _u(n, g, 0, 0.08, 1, 1, 1) * torch.randn(img.shape, generator=g)
    for i in range(n):
        r = float(torch.rand(1, generator=g))
        if r < 0.2:
            k = _gauss_kernel(float(_u(1, g, 0.5, 1.2)))
            x = img[i:i + 1].reshape(c, 1, h, w)
            x = F.conv2d(F.pad(x, (3, 3, 0, 0), mode='replicate'), k.view(1, 1, 1, -1))
            x = F.conv2d(F.pad(x, (0, 0, 3, 3), mode='replicate'), k.view(1, 1, -1, 1))
            img[i] = x.reshape(c, h, w)
        elif r < 0.35:
            f = float(_u(1, g, 0.5, 0.75))
            x = F.interpolate(img[i:i + 1], scale_factor=f, mode='bilinear', align_corners=False, recompute_scale_factor=False)
            img[i] = F.interpolate(x, size=(h, w), mode='bilinear', align_corners=False)[0]
    swap = torch.rand(n, generator=g) < 0.05
    img[swap, 1] = img[swap, 0]
    return img.clamp(*CLIP)


def augment_v2(img, lab, g):
    img, lab = spatial(img, lab, g)
    return intensity(img, g), lab
