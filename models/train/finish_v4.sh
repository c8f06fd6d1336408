#!/usr/bin/env bash
# v4 after its stage A (models/quorum-wt-v2/v4-width24-plan.json): stage B, a candidate model folder,
# the app's proposals on the 15 held-out cases, their scores and the ship rule. Each step is skipped
# when its output exists, so a session cut short continues where it stopped (stage B took 78 min and the
# rest ~15 min here on 2026-12-04). The candidate is scored as method v4-w24, its name in the manifest's metrics.
# Run from anywhere: [THREADS=N] bash models/train/finish_v4.sh
set -euo pipefail
THREADS=${THREADS:-2}
cd "$(dirname "$0")"
PLAN=../quorum-wt-v2/v4-width24-plan.json
[ -f runs/cache-v2.npz ] || /usr/bin/python3 build_cache.py
# resumes from runs/v4b/last.pt when there is one; at iteration 1000 it loads the cache and returns
/usr/bin/python3 train_prompts.py --run runs/v4b --init checkpoints/v4a-resume.pt --iters 1000 --seed 41 \
  --snapshot-every 100 --p-image-only 0.5 --threads "$THREADS"
[ -f runs/model-v4b/model.onnx ] || /usr/bin/python3 export.py --run runs/v4b --candidate runs/model-v4b
[ -d runs/heldout ] || /usr/bin/python3 evaluate_v2.py --link runs/heldout
cd ../..
[ -f models/train/runs/pred-v4/summary.csv ] || node bin/quorum.mjs propose-dataset models/train/runs/heldout \
  --out models/train/runs/pred-v4 --model models/train/runs/model-v4b
cd models/train
/usr/bin/python3 evaluate_v2.py --pred v4-w24=runs/pred-v4 --out runs/metrics-v4.json > runs/metrics-v4.log
/usr/bin/python3 ship_check.py --metrics runs/metrics-v4.json --candidate v4-w24 --plan "$PLAN"
