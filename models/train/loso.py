"""All four leave-one-site-out folds of TCGA-LGG, trained and scored the same way: what a new
hospital should expect, with its spread over sites. One fold (site FG) is what the shipped model
was trained on; on a 2-core CPU one fold takes about an hour, so this is meant for a lent GPU:

  /usr/bin/python3 models/train/build_cache.py        # once (CPU, ~15 s)
  /usr/bin/python3 models/train/loso.py --device cuda --iters 3400 --out runs/loso.json

Each fold: train.py --hold-out-site S (the other sites' held-out patients stay held out), then
quick_check.py --site S scores every patient of S (whole volume, 5 members, DDIM 10, PyTorch with
preprocess.py, which the fixture test keeps equal to the app). Resumable: a fold whose run
finished and whose score exists is skipped.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SITES = ['CS', 'DU', 'FG', 'HT']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--iters', type=int, default=3400)
    ap.add_argument('--base', type=int, default=16, help='UNet width')
    ap.add_argument('--batch', type=int, default=24)
    ap.add_argument('--sites', default=','.join(SITES))
    ap.add_argument('--members', type=int, default=5)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--out', default='runs/loso.json')
    args = ap.parse_args()
    py = sys.executable
    results = {}
    for site in args.sites.split(','):
        run = os.path.join(HERE, 'runs', f'loso-{site}-w{args.base}-{args.iters}')
        score = os.path.join(run, 'score.json')
        if not os.path.exists(score):
            subprocess.run([py, os.path.join(HERE, 'train.py'), '--run', run, '--hold-out-site', site,
                            '--iters', str(args.iters), '--base', str(args.base), '--batch', str(args.batch),
                            '--device', args.device], check=True)
            subprocess.run([py, os.path.join(HERE, 'quick_check.py'), '--run', run, '--site', site,
                            '--members', str(args.members), '--steps', str(args.steps), '--device', args.device,
                            '--threads', '2', '--out', score], check=True)
        results[site] = json.load(open(score))
        print(f"site {site}: mean Dice {results[site]['mean']:.3f}, min {results[site]['min']:.3f}", flush=True)
    means = [r['mean'] for r in results.values()]
    summary = dict(folds=results, mean_over_sites=sum(means) / len(means), worst_site=min(means),
                   settings=vars(args))
    out = args.out if os.path.isabs(args.out) else os.path.join(HERE, args.out)
    json.dump(summary, open(out, 'w'), indent=1)
    print(f"leave-one-site-out: mean over sites {summary['mean_over_sites']:.3f}, worst site {summary['worst_site']:.3f}")


if __name__ == '__main__':
    main()
