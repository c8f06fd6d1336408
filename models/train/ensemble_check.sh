#!/usr/bin/env bash
# A deep-ensemble candidate (a plan in models/quorum-wt-v2/) from two or more candidate model folders
# (export.py --candidate, finish_candidate.sh): its model folder (ensemble_model.py), the app's
# proposals on the 15 held-out cases, their scores and the plan's ship rule. Each step is skipped
# when its output exists. v8 was run step by step (EXPERIMENTS.md); v9's trio:
#   bash models/train/ensemble_check.sh v9-trio v9-third-draw-plan.json ../quorum-wt-v2 runs/model-v9b
# writes runs/model-NAME, runs/pred-NAME, runs/metrics-NAME.json (method NAME). WITHOUT=FILE leaves
# one network of the folders out (ensemble_model.py --without), e.g. v10's trio:
#   WITHOUT=model-2.onnx bash models/train/ensemble_check.sh v10-trio v10-long20000-plan.json ../quorum-wt-v2 runs/model-v10b
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: ensemble_check.sh NAME PLAN FOLDER FOLDER [FOLDER ...] (see the comment at the top)" >&2
  exit 2
fi
NAME=$1
cd "$(dirname "$0")"
PLAN=../quorum-wt-v2/$2
shift 2
[ -f "$PLAN" ] || { echo "ensemble_check.sh: no plan $PLAN" >&2; exit 2; }
FROM=()
for f in "$@"; do
  [ -f "$f/model.onnx" ] || { echo "ensemble_check.sh: no candidate model folder $f" >&2; exit 2; }
  FROM+=(--from "$f")
done
[ -n "${WITHOUT:-}" ] && FROM+=(--without "$WITHOUT")
[ -f "runs/model-${NAME}/manifest.json" ] || /usr/bin/python3 ensemble_model.py "${FROM[@]}" --out "runs/model-${NAME}"
bash heldout_check.sh "runs/model-${NAME}" "$NAME" "$NAME" "$PLAN"
