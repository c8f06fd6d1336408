"""The paper's network, for the benchmark only (bench/engine.bench.ts): how expensive Wolleb et al.
(MIDL 2022) sampling would be on this machine, next to ours. Written from the paper's stated
configuration (improved-diffusion UNet: 128 channels, channel multipliers 1,1,2,2,4,4, 2 residual
blocks per level, one-head self-attention at 1/16 resolution and in the middle, learned sigma,
4 MR sequences + the noisy mask in). Weights are random: only the cost matters.

  /usr/bin/python3 models/train/paper_unet.py paper --out DIR   -> DIR/paper_unet.onnx (224x224)
  /usr/bin/python3 models/train/paper_unet.py ours               -> FLOPs of the shipped model
  /usr/bin/python3 models/train/paper_unet.py gemm --out DIR --n N -> DIR/gemm_N.onnx (one N x N MatMul)

Each prints one JSON line on stdout. Nothing here is committed output: the bench writes to a temp dir.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))


def sinusoid(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=1)


def norm(c):
    return nn.GroupNorm(32, c)


class Res(nn.Module):
    def __init__(self, cin, cout, emb):
        super().__init__()
        self.inp = nn.Sequential(norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb, cout))
        self.out = nn.Sequential(norm(cout), nn.SiLU(), nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x, e):
        h = self.inp(x) + self.emb(e)[:, :, None, None]
        return self.skip(x) + self.out(h)


class Attn(nn.Module):
    """Single-head self-attention over all pixels (the paper uses --num_heads 1)."""

    flops = 0  # per forward, added by the counter below (matmuls are not modules)

    def __init__(self, c):
        super().__init__()
        self.norm = norm(c)
        self.qkv = nn.Conv1d(c, 3 * c, 1)
        self.proj = nn.Conv1d(c, c, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x).reshape(b, c, h * w)).chunk(3, dim=1)
        a = torch.softmax(torch.einsum('bct,bcs->bts', q, k) / math.sqrt(c), dim=-1)
        y = torch.einsum('bts,bcs->bct', a, v)
        Attn.flops += 2 * 2 * b * c * (h * w) ** 2
        return x + self.proj(y).reshape(b, c, h, w)


class Step(nn.Module):
    """One entry of the UNet's block lists: a residual block, optionally followed by attention."""

    def __init__(self, res, attn=None):
        super().__init__()
        self.res, self.attn = res, attn

    def forward(self, x, e):
        x = self.res(x, e)
        return self.attn(x) if self.attn is not None else x


class PaperUNet(nn.Module):
    def __init__(self, cin=5, cout=2, ch=128, mults=(1, 1, 2, 2, 4, 4), nres=2, attn_ds=(16,)):
        super().__init__()
        emb = ch * 4
        self.ch = ch
        self.time = nn.Sequential(nn.Linear(ch, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.first = nn.Conv2d(cin, ch, 3, padding=1)
        self.down = nn.ModuleList()
        skips, c, ds = [ch], ch, 1
        for level, m in enumerate(mults):
            for _ in range(nres):
                self.down.append(Step(Res(c, m * ch, emb), Attn(m * ch) if ds in attn_ds else None))
                c = m * ch
                skips.append(c)
            if level < len(mults) - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
                ds *= 2
        self.mid = nn.ModuleList([Step(Res(c, c, emb), Attn(c)), Step(Res(c, c, emb))])
        self.up = nn.ModuleList()
        for level, m in reversed(list(enumerate(mults))):
            for i in range(nres + 1):
                self.up.append(Step(Res(c + skips.pop(), m * ch, emb), Attn(m * ch) if ds in attn_ds else None))
                c = m * ch
                if level and i == nres:
                    self.up.append(nn.Conv2d(c, c, 3, padding=1))  # after a nearest 2x upsampling
                    ds //= 2
        self.last = nn.Sequential(norm(c), nn.SiLU(), nn.Conv2d(c, cout, 3, padding=1))

    def forward(self, x, t):
        e = self.time(sinusoid(t, self.ch))
        h = self.first(x)
        hs = [h]
        for b in self.down:
            h = b(h, e) if isinstance(b, Step) else b(h)
            hs.append(h)
        for b in self.mid:
            h = b(h, e)
        for b in self.up:
            if isinstance(b, Step):
                h = b(torch.cat([h, hs.pop()], dim=1), e)
            else:
                h = b(F.interpolate(h, scale_factor=2.0, mode='nearest'))
        return self.last(h)


def count_flops(model, *inputs):
    """Multiply-adds x 2 of every convolution, linear layer and attention matmul in one forward."""
    total = [0]

    def conv(m, i, o):
        total[0] += 2 * o.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)

    def lin(m, i, o):
        total[0] += 2 * o.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin))
    Attn.flops = 0
    with torch.no_grad():
        model(*inputs)
    for h in hooks:
        h.remove()
    return total[0] + Attn.flops


def export(model, inputs, names, path):
    model.eval()
    torch.onnx.export(model, inputs, path + '.tmp', input_names=names, output_names=['out'], opset_version=17,
                      do_constant_folding=True)
    os.replace(path + '.tmp', path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('what', choices=['paper', 'ours', 'gemm'])
    ap.add_argument('--out')
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--n', type=int, default=1024)
    a = ap.parse_args()
    torch.manual_seed(0)
    if a.what == 'paper':
        m = PaperUNet().eval()
        x, t = torch.randn(1, 5, a.size, a.size), torch.tensor([500.0])
        params = sum(p.numel() for p in m.parameters())
        flops = count_flops(m, x, t)
        path = os.path.join(a.out, f'paper_unet_{a.size}.onnx')
        if not os.path.exists(path):
            export(m, (x, t), ['x', 't'], path)
        print(json.dumps({'path': path, 'parameters': params, 'flops': flops, 'size': a.size}))
    elif a.what == 'ours':
        sys.path.insert(0, HERE)
        from unet import UNet

        manifest = json.load(open(os.path.join(REPO, 'models', 'quorum-wt-2ch', 'manifest.json')))
        arch = manifest['provenance']['arch']
        m = UNet(**{**arch, 'mults': tuple(arch['mults'])}).eval()
        h, w = manifest['preprocess']['inputSize']
        c = len(manifest['channels'])
        flops = count_flops(m, torch.zeros(1, c, h, w), torch.zeros(1, 1, h, w), torch.zeros(1))
        print(json.dumps({'parameters': sum(p.numel() for p in m.parameters()), 'flops': flops, 'size': [h, w]}))
    else:
        class MatMul(nn.Module):
            def forward(self, x, y):
                return x @ y

        path = os.path.join(a.out, f'gemm_{a.n}.onnx')
        if not os.path.exists(path):
            export(MatMul(), (torch.zeros(a.n, a.n), torch.zeros(a.n, a.n)), ['a', 'b'], path)
        print(json.dumps({'path': path, 'n': a.n, 'flops': 2 * a.n ** 3}))


if __name__ == '__main__':
    main()
