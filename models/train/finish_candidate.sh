#!/usr/bin/env bash
# A two-stage candidate after its stage A (a plan in models/quorum-wt-v2/): stage B from stage A's
# committed checkpoint, a candidate model folder, the app's proposals on the 15 held-out cases, their
# scores and the plan's ship rule. Each step is skipped when its output exists, so a session cut short
# continues where it stopped (v4: stage B 78 min and the rest ~15 min here on 2026-12-04).
#   NAME     v4, v5, ...: reads checkpoints/NAMEa-resume.pt, writes runs/NAMEb, runs/model-NAMEb,
#            runs/pred-NAME, runs/metrics-NAME.json
#   SEED     stage B's seed (the plan's)
#   METHOD   the candidate's name in the metrics (v4-w24, v5-ctx)
#   PLAN     the plan file in models/quorum-wt-v2/
# Run from anywhere: [THREADS=N] [ADD_HELD_OUT=X] bash models/train/finish_candidate.sh NAME SEED METHOD PLAN
#   ADD_HELD_OUT: stage A's --add-held-out, given to stage B too, and to heldout_check.sh (it scores only
#   the cases still held out); PROPOSE_ARGS goes to heldout_check.sh; B_OPTS: more train_prompts.py options
#   (a plan's stage B options, e.g. '--context-strides 1,2,3')
#   v4: bash models/train/finish_candidate.sh v4 41 v4-w24 v4-width24-plan.json
#   v5: bash models/train/finish_candidate.sh v5 51 v5-ctx v5-context-plan.json
#   v11: ADD_HELD_OUT=site-but-validation PROPOSE_ARGS="--edge keep" bash models/train/finish_candidate.sh v11 111 v11-site4 v11-fourth-site-plan.json
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: finish_candidate.sh NAME SEED METHOD PLAN (see the comment at the top)" >&2
  exit 2
fi
NAME=$1 SEED=$2 METHOD=$3
THREADS=${THREADS:-2}
cd "$(dirname "$0")"
PLAN=../quorum-wt-v2/$4
[ -f "$PLAN" ] || { echo "finish_candidate.sh: no plan $PLAN" >&2; exit 2; }
[ -f "checkpoints/${NAME}a-resume.pt" ] || { echo "finish_candidate.sh: no stage A checkpoint checkpoints/${NAME}a-resume.pt" >&2; exit 2; }
[ -f runs/cache-v2.npz ] || /usr/bin/python3 build_cache.py
# resumes from runs/NAMEb/last.pt when there is one; at iteration 1000 it loads the cache and returns.
# The width and the context come from stage A's checkpoint.
/usr/bin/python3 train_prompts.py --run "runs/${NAME}b" --init "checkpoints/${NAME}a-resume.pt" --iters 1000 \
  --seed "$SEED" --snapshot-every 100 --p-image-only 0.5 --threads "$THREADS" --add-held-out "${ADD_HELD_OUT:-none}" \
  ${B_OPTS:-}
[ -f "runs/model-${NAME}b/model.onnx" ] || /usr/bin/python3 export.py --run "runs/${NAME}b" --candidate "runs/model-${NAME}b"
bash heldout_check.sh "runs/model-${NAME}b" "$NAME" "$METHOD" "$PLAN"
