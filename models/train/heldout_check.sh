#!/usr/bin/env bash
# A candidate model folder on the 15 held-out cases through the app, scored, and the plan's ship rule:
# the tail of finish_candidate.sh and ensemble_check.sh. The proposals are skipped when they exist.
#   bash models/train/heldout_check.sh MODEL OUT METHOD PLAN
#   MODEL   the candidate folder, relative to models/train (runs/model-v7b)
#   OUT     writes runs/pred-OUT, runs/metrics-OUT.json and .log
#   METHOD  the candidate's name in the metrics and the ship rule
#   PLAN    the plan file, relative to models/train (../quorum-wt-v2/v7-replicate-plan.json)
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: heldout_check.sh MODEL OUT METHOD PLAN (see the comment at the top)" >&2
  exit 2
fi
MODEL=$1 OUT=$2 METHOD=$3 PLAN=$4
cd "$(dirname "$0")"
[ -d runs/heldout ] || /usr/bin/python3 evaluate_v2.py --link runs/heldout
[ -f "runs/pred-${OUT}/summary.csv" ] || (cd ../.. && node bin/quorum.mjs propose-dataset models/train/runs/heldout \
  --out "models/train/runs/pred-${OUT}" --model "models/train/${MODEL}")
/usr/bin/python3 evaluate_v2.py --pred "${METHOD}=runs/pred-${OUT}" --out "runs/metrics-${OUT}.json" > "runs/metrics-${OUT}.log"
/usr/bin/python3 ship_check.py --metrics "runs/metrics-${OUT}.json" --candidate "$METHOD" --plan "$PLAN"
