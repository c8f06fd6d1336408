#!/usr/bin/env bash
# two-model-ensemble-v5-arm.json: the four 5-member runs, then the pooled arms and their scores
set -euo pipefail
cd "$(dirname "$0")/../.."
run() { # name model seed
  [ -f "models/train/runs/ens-$1-s$3/summary.csv" ] || node bin/quorum.mjs propose-dataset models/train/runs/heldout \
    --out "models/train/runs/ens-$1-s$3" --model "$2" --members 5 --seed "$3" --crop off --islands keep --export nifti-members
}
# v3.0.1 is the model folder as it was before 5.0.0 shipped; v4 is finish_candidate.sh's runs/model-v4b
V301=models/train/runs/model-v301
if [ ! -f "$V301/model.onnx" ]; then
  mkdir -p "$V301"
  for f in model.onnx manifest.json; do git show "a77fe3e^:models/quorum-wt-v2/$f" > "$V301/$f"; done
fi
run v5 models/quorum-wt-v2 0
run v5 models/quorum-wt-v2 1
run v4 models/train/runs/model-v4b 1
run v301 models/train/runs/model-v301 1
cd models/train
/usr/bin/python3 combine_members.py --run runs/ens-v5-s0 --run runs/ens-v5-s1 --sigma 1 --out runs/ens-A
/usr/bin/python3 combine_members.py --run runs/ens-v5-s0 --run runs/ens-v4-s1 --sigma 1 --out runs/ens-B
/usr/bin/python3 combine_members.py --run runs/ens-v5-s0 --run runs/ens-v301-s1 --sigma 1 --out runs/ens-C
/usr/bin/python3 evaluate_v2.py --pred A=runs/ens-A --pred B=runs/ens-B --pred C=runs/ens-C --out runs/metrics-ens-v5.json > runs/metrics-ens-v5.log
echo ensemble done
