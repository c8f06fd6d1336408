"""Training curves (and Dice vs sampling steps) as PNGs next to the shipped model.

  /usr/bin/python3 models/train/plot_curves.py --run runs/wt2ch [--baseline runs/base] \
      [--metrics models/quorum-wt-2ch/metrics.json] --out models/quorum-wt-2ch
"""
import argparse
import json
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(__file__)


def read_log(run):
    run = run if os.path.isabs(run) else os.path.join(HERE, run)
    rows = {}
    with open(os.path.join(run, 'log.jsonl')) as f:
        for line in f:
            r = json.loads(line)
            rows[r['iter']] = r  # a resumed run logs its restart iteration twice: keep the last
    return [rows[k] for k in sorted(rows)]


def smooth(v, k=5):
    out = []
    for i in range(len(v)):
        w = v[max(0, i - k + 1): i + 1]
        out.append(sum(w) / len(w))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', default='runs/wt2ch')
    ap.add_argument('--baseline')
    ap.add_argument('--metrics')
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    rows = read_log(args.run)
    it = [r['iter'] for r in rows]
    loss = [r['loss'] for r in rows]
    axes[0].plot(it, loss, alpha=0.3, color='C0')
    axes[0].plot(it, smooth(loss), color='C0', label='diffusion (x0 MSE)')
    if args.baseline:
        b = read_log(args.baseline)
        axes[0].plot([r['iter'] for r in b], smooth([r['loss'] for r in b]), color='C1',
                     label='deterministic (BCE + Dice)')
    axes[0].set_yscale('log')
    axes[0].set_xlabel('iteration (batch 24)')
    axes[0].set_ylabel('training loss')
    axes[0].legend()
    axes[0].set_title('Training loss')
    axes[1].plot(it, [r['lr'] for r in rows], color='C2')
    axes[1].set_xlabel('iteration')
    axes[1].set_ylabel('learning rate')
    axes[1].set_title('Schedule (warm-up + cosine)')
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, 'training-curves.png'), dpi=110)

    if args.metrics:
        m = json.load(open(args.metrics))
        rows = [r for r in m['sweep']['rows'] if r['sampler'] == 'ddim']
        fig, ax = plt.subplots(figsize=(5, 3.6))
        steps = [r['steps'] for r in rows]
        ax.plot(steps, [r['ensemble']['dice'] for r in rows], 'o-', label=f"ensemble ({m['members']})")
        ax.plot(steps, [r['single']['dice'] for r in rows], 's--', label='single sample')
        ddpm = [r for r in m['sweep']['rows'] if r['sampler'] == 'ddpm']
        if ddpm:
            d = ddpm[0]['on_ddpm_slices']
            ax.axhline(d['ensemble']['dice'], color='k', lw=0.8, ls=':',
                       label=f"DDPM 1000 ensemble ({len(m['sweep']['ddpm_slices'])} slices)")
        ax.set_xscale('log')
        ax.set_xlabel('DDIM steps')
        ax.set_ylabel('Dice (whole tumour)')
        ax.set_title(f"{m['subject']} (unseen), {len(m['sweep']['slices'])} tumour slices")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, 'dice-vs-steps.png'), dpi=110)


if __name__ == '__main__':
    main()
