#!/usr/bin/env bash
# A candidate model folder on the held-out cases (the 15, or those ADD_HELD_OUT leaves) through the app,
# scored, and the plan's ship rule:
# the tail of finish_candidate.sh and ensemble_check.sh. The proposals are skipped when they exist.
#   bash models/train/heldout_check.sh MODEL OUT METHOD PLAN
#   MODEL   the candidate folder, relative to models/train (runs/model-v7b)
#   OUT     writes runs/pred-OUT, runs/metrics-OUT.json and .log
#   METHOD  the candidate's name in the metrics and the ship rule
#   PLAN    the plan file, relative to models/train (../quorum-wt-v2/v7-replicate-plan.json)
# ADD_HELD_OUT=X (train.py's option of the candidate, or of one of an ensemble's networks): the held-out
# cases it trained on are left out (runs/heldout-X instead of runs/heldout). PROPOSE_ARGS: more options
# of propose-dataset (v11's Q1: "--edge keep", the sampler its controls were scored with).
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: heldout_check.sh MODEL OUT METHOD PLAN (see the comment at the top)" >&2
  exit 2
fi
MODEL=$1 OUT=$2 METHOD=$3 PLAN=$4
ADD_HELD_OUT=${ADD_HELD_OUT:-none}
HELDOUT=runs/heldout
[ "$ADD_HELD_OUT" = none ] || HELDOUT="runs/heldout-${ADD_HELD_OUT}"
cd "$(dirname "$0")"
[ -d "$HELDOUT" ] || /usr/bin/python3 evaluate_v2.py --link "$HELDOUT" --add-held-out "$ADD_HELD_OUT"
# shellcheck disable=SC2086 # PROPOSE_ARGS is a list of options
[ -f "runs/pred-${OUT}/summary.csv" ] || (cd ../.. && node bin/quorum.mjs propose-dataset "models/train/${HELDOUT}" \
  --out "models/train/runs/pred-${OUT}" --model "models/train/${MODEL}" ${PROPOSE_ARGS:-})
/usr/bin/python3 evaluate_v2.py --pred "${METHOD}=runs/pred-${OUT}" --add-held-out "$ADD_HELD_OUT" \
  --out "runs/metrics-${OUT}.json" > "runs/metrics-${OUT}.log"
# a plan whose rule is in words only (v12's: thin stacks and the bench are outside ship_check.py, and one of
# its three draws decides nothing) is said, not checked: its draws' checks must not stop the script calling
if /usr/bin/python3 -c "import json, sys; sys.exit('thresholds' not in json.load(open(sys.argv[1])))" "$PLAN"; then
  /usr/bin/python3 ship_check.py --metrics "runs/metrics-${OUT}.json" --candidate "$METHOD" --plan "$PLAN"
else
  echo "heldout_check.sh: $PLAN states its rule in words (its \"rule\"), not as thresholds: apply it to runs/metrics-${OUT}.json"
fi
