#!/usr/bin/env bash
# Seconds from the `ringformer train` command to the model being ready, to the first step and to step 10, for one
# worker on gpt-char (tinyshakespeare when ../shared/data has it, else Moby Dick). Runs RUNS times (default 3).
#   launch/bench/startup.sh [RUNS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNS="${1:-3}"
DATA="$ROOT/../shared/data/tinyshakespeare.txt"
[[ -f "$DATA" ]] || DATA="$ROOT/data/moby-dick.txt"
for run in $(seq "$RUNS"); do
  OUT="$(mktemp -d)"
  start=$(date +%s.%N)
  "$ROOT/launch/bin/ringformer" train --config "$ROOT/configs/gpt-char.yaml" --set "data.path=$DATA" \
      --set train.max_iters=10 --set log.interval=1 --set eval.interval=1000 --set eval.iters=1 --sample 0 \
      --out "$OUT/run" 2>&1 | while IFS= read -r line; do
    case "$line" in
      "model backend"*) printf "run %d: model ready %.2f s" "$run" "$(awk -v now="$(date +%s.%N)" -v start="$start" 'BEGIN { print now - start }')";;
      "step 1/"*) printf ", first step %.2f s" "$(awk -v now="$(date +%s.%N)" -v start="$start" 'BEGIN { print now - start }')";;
      "step 10/"*) printf ", step 10 %.2f s\n" "$(awk -v now="$(date +%s.%N)" -v start="$start" 'BEGIN { print now - start }')";;
    esac
  done
  rm -rf "$OUT"
done
