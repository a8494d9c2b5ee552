#!/usr/bin/env bash
# Steady tokens/s of `ringformer train --workers N` on gpt-char: the median over the log intervals after step 100
# of 500 steps (tinyshakespeare when ../shared/data has it, else Moby Dick). Arguments after -- go to `train`.
#   launch/bench/scaling.sh 1 2 3
#   launch/bench/scaling.sh 2 -- --set exchange.transport=ring
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="$ROOT/../shared/data/tinyshakespeare.txt"
[[ -f "$DATA" ]] || DATA="$ROOT/data/moby-dick.txt"
WORKERS=()
while [[ $# -gt 0 && "$1" != "--" ]]; do WORKERS+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
EXTRA=("$@")
[[ ${#WORKERS[@]} -gt 0 ]] || WORKERS=(1 2)
for workers in "${WORKERS[@]}"; do
  OUT="$(mktemp -d)"
  "$ROOT/launch/bin/ringformer" train --config "$ROOT/configs/gpt-char.yaml" --workers "$workers" \
      --set "data.path=$DATA" --set train.max_iters=500 --set eval.interval=1000 --set eval.iters=1 \
      --set log.interval=10 --sample 0 --out "$OUT/run" ${EXTRA[@]+"${EXTRA[@]}"} > "$OUT/log" 2>&1 || { cat "$OUT/log"; exit 1; }
  python3 - "$workers" "$OUT/run/metrics.jsonl" <<'PY'
import json, statistics, sys
records = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
rates = [r["tokens_per_s"] for r in records if r.get("step", 0) > 100 and "tokens_per_s" in r]
print(f"{sys.argv[1]} worker(s): {statistics.median(rates):,.0f} tokens/s (median of {len(rates)} intervals)")
PY
  rm -rf "$OUT"
done
