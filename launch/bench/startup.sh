#!/usr/bin/env bash
# Seconds from the `ringformer train` command to the model being ready, to the first step and to step 10, for
# WORKERS workers (default 1) on gpt-char (tinyshakespeare when ../shared/data has it, else Moby Dick). Runs RUNS
# times (default 3). With several workers, "model ready" is the first worker's.
#   launch/bench/startup.sh [RUNS] [WORKERS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNS="${1:-3}"
WORKERS="${2:-1}"
DATA="$ROOT/../shared/data/tinyshakespeare.txt"
[[ -f "$DATA" ]] || DATA="$ROOT/data/moby-dick.txt"
since() { awk -v now="$(date +%s.%N)" -v start="$1" 'BEGIN { printf "%.2f", now - start }'; }
for run in $(seq "$RUNS"); do
  OUT="$(mktemp -d)"
  start=$(date +%s.%N)
  ready=""
  "$ROOT/launch/bin/ringformer" train --workers "$WORKERS" --config "$ROOT/configs/gpt-char.yaml" \
      --set "data.path=$DATA" --set train.max_iters=10 --set log.interval=1 --set eval.interval=1000 \
      --set eval.iters=1 --sample 0 --out "$OUT/run" 2>&1 | while IFS= read -r line; do
    case "$line" in
      "model backend"*) [[ -n "$ready" ]] || { ready=1; printf "run %d: model ready %s s" "$run" "$(since "$start")"; };;
      "step 1/"*) printf ", first step %s s" "$(since "$start")";;
      "step 10/"*) printf ", step 10 %s s\n" "$(since "$start")";;
    esac
  done
  rm -rf "$OUT"
done
