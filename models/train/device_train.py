"""Draws of the shipped two-stage recipe trained on a lent GPU machine, inside one device call.

Here, before the call (the pack is the only data that travels; see pack.py):
  /usr/bin/python3 models/train/pack.py --out runs/pack
The call (the device tool's run; carry ["models/train/runs/pack"], timeout_s 600, under 64 MiB with the tree):
  python3 models/train/device_train.py --seeds 110,120,130 --budget 480
  (v12-context-strides-plan.json: add --a-opts '--p-image-only 0.5 --context 1 --context-strides 1,2,3'
   --b-opts '--p-image-only 0.5 --context-strides 1,2,3'; a thin-stack plan, v16-thin-share-plan.json: pack.py
   --cache runs/cache-v2-thin.npz, and --b-opts '--p-image-only 0.5 --thin-share 0.25')
Back here, per draw S (files under the call's files_at):
  draw-S.tar: runs/dA-S/compact.pt (stage A, train.py --compact: float16 model + EMA) and runs/dB-S/ema-N.pt
  (stage B's EMA, float16) -> tar xf, then export.py --run runs/dB-S --candidate runs/model-dB-S --snapshot ema-N.pt
  and heldout_check.sh as for any candidate; device_train.json: the GPU, each draw's iterations, seconds, rates.

Each draw is stage A (train.py --iters A --seed S, the recipe's options) then stage B (train_prompts.py --init
stage A --iters B --seed S+1 --p-image-only 0.5), all draws at once on the one GPU. The recipe's iterations are
kept, not shortened to fit: after a warm-up the measured rates decide how many draws can finish in the budget,
and the draws beyond that are stopped (a draw that cannot finish is worth nothing: its cosine schedule is cut).
At the budget everything still running is stopped and what finished is returned.
Stage A keeps its slices on the GPU and augments them there (train.py; augment.py draws on the CPU, so a seed
gives the same batches, noise and initial weights on any device; on this CPU the moved code gave the same
losses to the last digit); stage B's skull stripping and simulated clicks are numpy, on the machine's CPUs
(16 there, shared by the draws).
"""
import argparse
import json
import os
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
STAGE_B_COST = 1.5  # stage B's seconds per iteration / stage A's on this CPU (~1.0 vs ~0.7); the GPU's are reported


def log_points(run):
    """[(iteration, seconds)] of a run's log.jsonl (train*.py write one every 20 iterations)."""
    path = os.path.join(run, 'log.jsonl')
    if not os.path.exists(path):
        return []
    return [(r['iter'], r['seconds']) for r in map(json.loads, filter(str.strip, open(path).read().splitlines()))]


def seconds_per_iter(points):
    """From the last two log points (the first includes start-up), or None before there are two."""
    if len(points) < 2 or points[-1][0] == points[-2][0]:
        return None
    return (points[-1][1] - points[-2][1]) / (points[-1][0] - points[-2][0])


class Draw:
    def __init__(self, seed, args, threads):
        self.seed, self.args, self.threads = seed, args, threads
        self.a_run, self.b_run = os.path.join(HERE, 'runs', f'dA-{seed}'), os.path.join(HERE, 'runs', f'dB-{seed}')
        self.compact = os.path.join(self.a_run, 'compact.pt')
        self.stage, self.proc, self.log = 'A', None, open(os.path.join(HERE, 'runs', f'draw-{seed}.log'), 'a')
        self.stopped = None

    def start_a(self):
        os.makedirs(self.a_run, exist_ok=True)
        cmd = [PY, os.path.join(HERE, 'train.py'), '--run', self.a_run, '--iters', str(self.args.iters_a),
               '--seed', str(self.seed), '--threads', str(self.threads), '--device', self.args.device,
               '--compact', self.compact] + self.args.a_opts.split()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def start_b(self):
        self.stage = 'B'
        cmd = [PY, os.path.join(HERE, 'train_prompts.py'), '--run', self.b_run, '--init', self.compact,
               '--iters', str(self.args.iters_b), '--seed', str(self.seed + 1), '--threads', str(self.threads),
               '--device', self.args.device, '--snapshot-every', str(min(100, self.args.iters_b))] + self.args.b_opts.split()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self, why):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        self.stopped = why

    def points(self):
        return log_points(self.a_run if self.stage == 'A' else self.b_run)

    def progress(self):
        p = self.points()
        return p[-1] if p else None

    def done(self):
        return self.stage == 'B' and self.proc.poll() == 0


def gpu_name(device):
    try:
        import torch
        return torch.cuda.get_device_name(0) if device == 'cuda' else 'cpu'
    except Exception as e:  # the report says so rather than failing the call
        return f'unknown ({e})'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seeds', required=True, help='comma-separated stage A seeds, one draw each (stage B: seed + 1)')
    ap.add_argument('--pack', default='runs/pack', help='the training pack folder (pack.py --out), relative to models/train')
    ap.add_argument('--iters-a', type=int, default=10000)
    ap.add_argument('--iters-b', type=int, default=1000)
    ap.add_argument('--a-opts', default='--p-image-only 0.5 --context 1', help="train.py's recipe options (the shipped)")
    ap.add_argument('--b-opts', default='--p-image-only 0.5', help="train_prompts.py's recipe options (the shipped)")
    ap.add_argument('--budget', type=float, default=480, help='seconds for all of it, from the start of this script')
    ap.add_argument('--warm-up', type=float, default=60, help='seconds of stage A before the rates are read')
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--out', default=os.environ.get('OUT', os.path.join(HERE, 'runs', 'device-out')))
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(',') if s.strip().isdigit()]
    if len(seeds) != len(args.seeds.split(',')) or len(set(seeds)) != len(seeds) or not 1 <= len(seeds) <= 6:
        # the device tool returns at most 8 files: one tar per draw, the JSON and the log
        ap.error(f'--seeds {args.seeds}: 1 to 6 different seeds')
    t0 = time.time()
    left = lambda: args.budget - (time.time() - t0)  # noqa: E731
    report = dict(device=gpu_name(args.device), cpus=os.cpu_count(), budget_s=args.budget, iters_a=args.iters_a,
                  iters_b=args.iters_b, a_opts=args.a_opts, b_opts=args.b_opts, draws={})
    os.makedirs(args.out, exist_ok=True)

    def write_report():
        report['seconds'] = round(time.time() - t0, 1)
        with open(os.path.join(args.out, 'device_train.json'), 'w') as f:
            json.dump(report, f, indent=1)

    subprocess.run([PY, os.path.join(HERE, 'pack.py'), '--unpack', args.pack], check=True)
    threads = max(1, (os.cpu_count() or 2) // len(seeds))
    draws = [Draw(s, args, threads) for s in seeds]
    for d in draws:
        d.start_a()
    warmed = False
    while left() > 0 and any(d.stopped is None and not d.done() for d in draws):
        time.sleep(2)
        for d in draws:
            if d.stopped is None and d.stage == 'A' and d.proc.poll() is not None:
                if d.proc.returncode == 0 and os.path.exists(d.compact):
                    report['draws'][d.seed] = dict(stage_a_s=round(time.time() - t0, 1))
                    d.start_b()
                else:
                    d.stopped = f'stage A failed (exit {d.proc.returncode}; runs/draw-{d.seed}.log)'
            elif d.stopped is None and d.stage == 'B' and d.proc.poll() not in (None, 0):
                d.stopped = f'stage B failed (exit {d.proc.returncode}; runs/draw-{d.seed}.log)'
        live = [d for d in draws if d.stopped is None and d.stage == 'A']
        rates = [seconds_per_iter(d.points()) for d in live]
        if not warmed and time.time() - t0 > args.warm_up and live and all(rates):
            warmed = True
            # seconds per stage A iteration with all of them sharing the GPU, from train.py's own clock
            rate = max(rates)
            need = max((args.iters_a - d.progress()[0]) * rate for d in live) + args.iters_b * rate * STAGE_B_COST
            # fewer draws share the GPU with fewer: assume the time falls in proportion (GPU-bound)
            keep = len(live) if need <= left() else max(1, int(len(live) * left() / need))
            report['warm_up'] = dict(s_per_iter_a=round(rate, 4), projected_s=round(need, 1), draws_kept=keep)
            for d in live[keep:]:
                d.stop('stopped after the warm-up: it could not finish within the budget')
            write_report()
    for d in draws:
        if d.stopped is None and not d.done():
            d.stop('stopped at the budget')
    for d in draws:
        rec = report['draws'].setdefault(d.seed, {})
        rec.update(stage=d.stage, stopped=d.stopped, progress=d.progress())
        b_points = log_points(d.b_run)
        if len(b_points) > 1:
            first = b_points[1] if len(b_points) > 2 else b_points[0]  # the first point includes start-up
            rec['s_per_iter_b'] = round((b_points[-1][1] - first[1]) / max(1, b_points[-1][0] - first[0]), 4)
        if d.done():
            snaps = sorted((f for f in os.listdir(d.b_run) if f.startswith('ema-')),
                           key=lambda f: int(f[4:-3]))
            tar = os.path.join(args.out, f'draw-{d.seed}.tar')
            with tarfile.open(tar + '.tmp', 'w') as t:
                t.add(d.compact, arcname=f'dA-{d.seed}/compact.pt')
                t.add(os.path.join(d.b_run, snaps[-1]), arcname=f'dB-{d.seed}/{snaps[-1]}')
                t.add(os.path.join(d.b_run, 'config.json'), arcname=f'dB-{d.seed}/config.json')
            os.replace(tar + '.tmp', tar)
            rec['returned'] = os.path.basename(tar)
    logs = [os.path.join(HERE, 'runs', f'draw-{d.seed}.log') for d in draws]
    with open(os.path.join(args.out, 'draws.log'), 'w') as f:
        for path in logs:
            f.write(f'== {os.path.basename(path)}\n' + ''.join(open(path).readlines()[-15:]))
    write_report()
    print(json.dumps(report, indent=1))
    return 0 if any(d.done() for d in draws) else 1


if __name__ == '__main__':
    sys.exit(main())
