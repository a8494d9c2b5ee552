#!/usr/bin/env bash
# Step time against model size: ringformer's SameDiff and fused steps in fp32 and bf16 (`bench train`, one thread,
# the variants alternating in rounds) next to PyTorch's eager fp32 and bf16 autocast step on the same shapes
# (launch/bench/torch_gpt.py, one thread). Three sizes, each a GPT on a 65-character vocabulary:
#   nanogpt  4 layers × 128 wide, 4 heads, block 64, batch 12   (~0.8M parameters, nanoGPT's CPU configuration)
#   medium   6 layers × 384 wide, 6 heads, block 256, batch 8   (~10.8M)
#   large   10 layers × 640 wide, 10 heads, block 256, batch 8  (~49M)
#   launch/bench/growth.sh [SIZE ...]        (default: all three)
# SameDiff's bf16 step (casts around every matmul) takes seconds even at nanoGPT's size (15–22 s a step here), so it is not
# run; `bench train --variants samediff:bf16` measures it on its own. PyTorch needs python3-torch and libopenblas0-openmp (see torch_gpt.py). Prints each run's lines, then a table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(nanogpt medium large)
TABLE="$(mktemp)"
trap 'rm -f "$TABLE"' EXIT

for size in "${SIZES[@]}"; do
  # layers heads width block batch warmup steps rounds
  case "$size" in
    nanogpt) shape=(4 4 128 64 12 20 40 4) variants=samediff:fp32,fused:fp32,fused:bf16;;
    medium)  shape=(6 6 384 256 8 5 12 3) variants=samediff:fp32,fused:fp32,fused:bf16;;
    large)   shape=(10 10 640 256 8 2 6 3) variants=samediff:fp32,fused:fp32,fused:bf16;;
    *) echo "growth.sh: unknown size '$size' (nanogpt, medium or large)" >&2; exit 2;;
  esac
  read -r layers heads width block batch warmup steps rounds <<< "${shape[*]}"
  echo "== $size: $layers layers × $width wide, $heads heads, block $block, batch $batch"
  ours="$("$ROOT/launch/bin/ringformer" bench train --config "$ROOT/configs/gpt-char.yaml" \
      --set "model.n_layer=$layers" --set "model.n_head=$heads" --set "model.n_embd=$width" \
      --set "model.block_size=$block" --set "train.batch_size=$batch" \
      --variants "$variants" \
      --warmup "$warmup" --steps "$steps" --rounds "$rounds" 2>&1)" || { echo "$ours"; exit 1; }
  echo "$ours"
  theirs="$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$ROOT/launch/bench/torch_gpt.py" \
      --layers "$layers" --heads "$heads" --width "$width" --block "$block" --batch "$batch" \
      --warmup "$warmup" --steps "$steps" --rounds "$rounds" 2>&1)" || { echo "$theirs"; exit 1; }
  echo "$theirs"
  python3 - "$size" "$ours" "$theirs" >> "$TABLE" <<'PY'
import re, sys
size, ours, theirs = sys.argv[1:]
def median(text, name):
    # ours: "fused:fp32 [fused fp32 (...)]" then "  step: median 33.1 ms, ..."; PyTorch's: "pytorch fp32 eager  median 79.0 ms"
    m = re.search(r"^" + re.escape(name) + r"(?: \[.*\]\n\s+step:)?\s+median\s+([0-9.]+) ms", text, re.M)
    return float(m.group(1)) if m else float("nan")
params = re.search(r"([0-9,]+) parameters", theirs)
row = {k: median(ours, k) for k in ("samediff:fp32", "samediff:bf16", "fused:fp32", "fused:bf16")}
row["torch fp32"] = median(theirs, "pytorch fp32 eager")
row["torch bf16"] = median(theirs, "pytorch bf16 autocast")
cell = lambda ms: "not run" if ms != ms else f"{ms:.1f}"
print(f"| {size} ({params.group(1) if params else '?'}) | {cell(row['samediff:fp32'])} | {cell(row['samediff:bf16'])} "
      f"| {row['fused:fp32']:.1f} | {row['fused:bf16']:.1f} | {row['torch fp32']:.1f} | {row['torch bf16']:.1f} "
      f"| {row['torch fp32'] / row['fused:fp32']:.2f}× | {row['torch bf16'] / row['fused:bf16']:.2f}× |")
PY
done
echo
echo "| size (parameters) | SameDiff fp32 ms | SameDiff bf16 ms | fused fp32 ms | fused bf16 ms | PyTorch fp32 ms | PyTorch bf16 ms | PyTorch/fused fp32 | PyTorch/fused bf16 |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
cat "$TABLE"
