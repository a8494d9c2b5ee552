#!/usr/bin/env bash
# Where overlapping the exchange with the backward pass pays: `train --workers 2` on gpt-char for each transport and
# each exchange.bucket_bytes (0 = one all-reduce after the backward pass), reporting from metrics.jsonl the median
# step, the part of it spent waiting in the exchange (exchange_ms: the tail that did not overlap) and tokens/s.
#   launch/bench/buckets.sh [--medium] [BUCKET_BYTES ...]     (default: 0 65536 262144 1048576)
# --medium trains 6 layers × 384 wide, block 256, batch 8 (10.8M parameters, a 43 MB gradient) instead of nanoGPT's
# 4 × 128 (0.8M, 3 MB). Transports: auto (shared memory on one host) and ring (the Aeron ring over IPC).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="$ROOT/../shared/data/tinyshakespeare.txt"
[[ -f "$DATA" ]] || DATA="$ROOT/data/moby-dick.txt"
SHAPE=(); STEPS=300; FROM=100
if [[ "${1:-}" == --medium ]]; then
  shift
  SHAPE=(--set model.n_layer=6 --set model.n_head=6 --set model.n_embd=384 --set model.block_size=256
         --set train.batch_size=8)
  STEPS=40; FROM=15
fi
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(0 65536 262144 1048576)
for transport in auto ring; do
  for bytes in "${SIZES[@]}"; do
    OUT="$(mktemp -d)"
    "$ROOT/launch/bin/ringformer" train --config "$ROOT/configs/gpt-char.yaml" --workers 2 \
        --set "data.path=$DATA" --set "train.max_iters=$STEPS" --set eval.interval=100000 --set eval.iters=1 \
        --set log.interval=1 --set "exchange.transport=$transport" --set "exchange.bucket_bytes=$bytes" \
        ${SHAPE[@]+"${SHAPE[@]}"} --sample 0 --out "$OUT/run" > "$OUT/log" 2>&1 || { cat "$OUT/log"; exit 1; }
    python3 - "$transport" "$bytes" "$FROM" "$OUT/run/metrics.jsonl" <<'PY'
import json, statistics, sys
transport, size, first, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
records = [json.loads(line) for line in open(path) if line.strip()]
steady = [r for r in records if r.get("step", 0) > first and "step_ms" in r]
median = lambda key: statistics.median(r[key] for r in steady)
print(f"{transport:5s} buckets {size if size else 'off':>8}: step {median('step_ms'):7.1f} ms, exchange "
      f"{median('exchange_ms'):6.1f} ms, {median('tokens_per_s'):9,.0f} tokens/s (median of {len(steady)} steps)")
PY
    rm -rf "$OUT"
  done
done
