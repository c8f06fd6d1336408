"""A small conditional UNet for CPU inference: the paper's design (image channels concatenated
with the noisy mask, timestep embedding into every residual block), scaled down ~100x."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, groups=8):
        super().__init__()
        self.n1 = nn.GroupNorm(min(groups, cin), cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(tdim, cout)
        self.n2 = nn.GroupNorm(min(groups, cout), cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.t(temb)[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """in: image [B, C, H, W], x_t [B, 1, H, W], t [B] -> [B, 1, H, W]. H, W divisible by 2**(levels-1)."""

    def __init__(self, image_channels=2, base=16, mults=(1, 2, 4, 4), time_conditioned=True, x0_head='linear'):
        super().__init__()
        self.time_conditioned = time_conditioned
        # 'sigmoid': the output is 2 sigmoid(logits) - 1, an x0 in (-1, 1) whose logits train.py --x0-loss bce
        # fits with BCE + soft Dice (as the deterministic baseline); it is part of the graph, so the
        # exported model still returns x0 and the engine's sampler is unchanged
        if x0_head not in ('linear', 'sigmoid'):
            raise ValueError(f'x0_head: {x0_head!r} is not linear or sigmoid')
        self.x0_head = x0_head
        tdim = base * 4
        self.tdim = tdim
        self.temb = nn.Sequential(nn.Linear(base, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.base = base
        chans = [base * m for m in mults]
        self.inp = nn.Conv2d(image_channels + 1, chans[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.pool = nn.ModuleList()
        c = chans[0]
        for i, ch in enumerate(chans):
            self.down.append(ResBlock(c, ch, tdim))
            c = ch
            if i < len(chans) - 1:
                self.pool.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid = ResBlock(c, c, tdim)
        self.up = nn.ModuleList()
        for i in reversed(range(len(chans) - 1)):
            self.up.append(ResBlock(c + chans[i], chans[i], tdim))
            c = chans[i]
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))

    def forward(self, image, x_t, t):
        out = self.logits(image, x_t, t)
        return 2 * torch.sigmoid(out) - 1 if self.x0_head == 'sigmoid' else out

    def logits(self, image, x_t, t):
        """The last convolution's output: x0 itself for the linear head, its logits for the sigmoid head."""
        if not self.time_conditioned:
            t = torch.zeros_like(t)
        temb = self.temb(timestep_embedding(t, self.base))
        h = self.inp(torch.cat([image, x_t], dim=1))
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, temb)
            if i < len(self.pool):
                skips.append(h)
                h = self.pool[i](h)
        h = self.mid(h, temb)
        for block in self.up:
            h = F.interpolate(h, scale_factor=2.0, mode='nearest')
            h = block(torch.cat([h, skips.pop()], dim=1), temb)
        return self.out(h)


def load_ema(run, file='exported.pt'):
    """The EMA weights of a run's checkpoint `file` (exported.pt: the weights an export used;
    last.pt; an ema-<iter>.pt snapshot, stored as float16) as an eval-mode float32 UNet, with the
    checkpoint; `run` relative to models/train/ unless absolute."""
    import os
    run = run if os.path.isabs(run) else os.path.join(os.path.dirname(__file__), run)
    ck = torch.load(os.path.join(run, file), map_location='cpu')
    model = UNet(**{**ck['meta']['arch'], 'mults': tuple(ck['meta']['arch']['mults'])})
    model.load_state_dict({k: v.float() for k, v in ck['ema'].items()})
    model.eval()
    return model, ck


def load_exported(run):
    """The weights an export used (runs/<run>/exported.pt) as an eval-mode UNet, with their meta."""
    model, ck = load_ema(run)
    return model, ck['meta']
