#!/usr/bin/env bash
# v12's CPU path (models/quorum-wt-v2/v12-context-strides-plan.json, cpu_path): the next steps of its three
# draws, in whatever session and on whatever machine this is. Per seed S (120, 130, 140, in that order):
#   stage A   10000 iterations, from runs/v12sSa/last.pt on this machine, else from the committed
#             checkpoints/v12sSa-resume.pt (--init-keep-iter), else from scratch (~1.0 s an iteration here)
#   stage B   finish_candidate.sh with the plan's stage B options (~35 min), the candidate folder and the
#             draw's held-out check (~15 min); its EMA weights are kept as checkpoints/v12sSb-candidate.pt
#             (float16, 1.8 MB), which is all a later machine needs to rebuild runs/model-v12sSb
# and, once the three candidates exist, the plan's rule on the three pooled (ensemble_check.sh).
#   bash models/train/v12_cpu.sh [--until HH:MM]
# --until (UTC): stop stage A by then (at most 100 iterations lost) and start no stage B that cannot end by
# then, so that the session can commit what it made: git add models/train/checkpoints/v12s*.pt
set -euo pipefail
cd "$(dirname "$0")"
UNTIL=${2:-}
[ "${1:-}" = --until ] && [ -n "$UNTIL" ] || [ $# -eq 0 ] || { echo "usage: v12_cpu.sh [--until HH:MM]" >&2; exit 2; }
PLAN=v12-context-strides-plan.json
left() { [ -z "$UNTIL" ] && echo 999999 || echo $(($(date -u -d "$UNTIL" +%s) - $(date -u +%s))); }
iter_of() { /usr/bin/python3 -c "import sys, torch; print(torch.load(sys.argv[1], map_location='cpu', weights_only=False)['iter'])" "$1"; }
# decided (the plan's "result", 2026-12-07): its checkpoints left the tree for git history. With the three
# candidates put back (git show), the loop below only rebuilds their folders, then the trio and its check.
if /usr/bin/python3 -c "import json, sys; sys.exit('result' not in json.load(open('../quorum-wt-v2/$PLAN')))" &&
  ! ls checkpoints/v12s1{2,3,4}0b-candidate.pt > /dev/null 2>&1; then
  echo "v12_cpu.sh: v12 is decided (not shipped; $PLAN \"result\"). To rebuild its folders, put its candidates" \
    "back: git show COMMIT:models/train/checkpoints/v12sSb-candidate.pt > checkpoints/v12sSb-candidate.pt" \
    "(checkpoints/README.md has each COMMIT), then run this again"
  exit 0
fi
[ -f runs/cache-v2.npz ] || /usr/bin/python3 build_cache.py
for S in 120 130 140; do
  A=checkpoints/v12s${S}a-resume.pt B=checkpoints/v12s${S}b-candidate.pt
  if [ -f "$B" ]; then
    # a finished draw: rebuild its candidate folder on a machine that lacks it
    if [ ! -f "runs/model-v12s${S}b/model.onnx" ]; then
      mkdir -p "runs/v12s${S}b" && cp "$B" "runs/v12s${S}b/ema-1000.pt"
      /usr/bin/python3 export.py --run "runs/v12s${S}b" --candidate "runs/model-v12s${S}b" --snapshot ema-1000.pt
    fi
    continue
  fi
  if [ ! -f "$A" ] || [ "$(iter_of "$A")" -lt 10000 ]; then
    args=(--run "runs/v12s${S}a" --p-image-only 0.5 --iters 10000 --seed "$S" --context 1 --context-strides 1,2,3
      --threads 2 --compact "$A")
    [ ! -f "runs/v12s${S}a/last.pt" ] && [ -f "$A" ] && args+=(--init "$A" --init-keep-iter)
    t=$(left)
    [ "$t" -gt 600 ] || { echo "v12_cpu.sh: under 10 min left before $UNTIL: nothing started"; exit 0; }
    timeout "$t" /usr/bin/python3 train.py "${args[@]}" || [ $? -eq 124 ]
    n=$(iter_of "$A")
    [ "$n" -ge 10000 ] || { echo "v12_cpu.sh: stage A of seed $S stopped at iteration $n: commit $A"; exit 0; }
  fi
  [ "$(left)" -gt 3600 ] || { echo "v12_cpu.sh: stage A of seed $S done; stage B needs ~50 min, not left: commit $A"; exit 0; }
  B_OPTS='--context-strides 1,2,3' bash finish_candidate.sh "v12s${S}" $((S + 1)) "v12-s${S}" "$PLAN"
  cp "runs/v12s${S}b/ema-1000.pt" "$B"
  echo "v12_cpu.sh: seed $S done: commit $A and $B"
done
# the plan: the three pooled as 9.0.0's were, with contextMinChange 0.07 in the pooled manifest
if [ ! -f runs/model-v12-trio/manifest.json ]; then
  /usr/bin/python3 ensemble_model.py --from runs/model-v12s120b --from runs/model-v12s130b --from runs/model-v12s140b \
    --out runs/model-v12-trio
  /usr/bin/python3 - <<'PY'
import json
p = 'runs/model-v12-trio/manifest.json'
m = json.load(open(p))
m['contextMinChange'] = 0.07
json.dump(m, open(p, 'w'), indent=2)
PY
fi
bash ensemble_check.sh v12-trio "$PLAN" runs/model-v12s120b runs/model-v12s130b runs/model-v12s140b
# the rule's criteria that the held-out metrics do not hold (the plan's "rule"; heldout_check.sh says the same)
cat <<'TODO'
v12_cpu.sh: the trio's held-out metrics are in runs/metrics-v12-trio.json (rule 1: 'all held-out' dice and the
12 TCGA cases; rule 3: auroc and summary.confidence.worst_case_in_lowest_quarter). The rest of the rule:
  (2) /usr/bin/python3 robustness.py --out runs/robust-v12-trio --cases TCGA_FG_6689_20020326 TCGA_CS_6669_20020102 \
        --only identity thin_slices --model runs/model-v12-trio
  (4) (cd ../.. && QUORUM_BENCH_MODEL=models/train/runs/model-v12-trio npm run bench)   # engine: <= 1 s a slice
TODO
