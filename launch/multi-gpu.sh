#!/usr/bin/env bash
# One worker per GPU on this node.
#
#   launch/multi-gpu.sh --gpus N --config FILE [--dry-run] [any `ringformer train` option]...
#
# Worker i sees only GPU i (CUDA_VISIBLE_DEVICES=i, registered as cuda:i). The workers share one media driver, so
# they sum gradients in shared memory (or over IPC), as `train --workers N` does. GPUs need the `cuda` build
# (`mvn -Pcuda`, ND4J 1.0.0-M2.1 for CUDA 11.6 with cuDNN 8.3: kernels for sm_37 … sm_86, i.e. V100, A100, A10 and
# RTX 30; not Hopper or Blackwell): it is built here when the jar in launch/target is the CPU one. On a machine
# without GPUs (nvidia-smi lists none) it runs N CPU workers and says so. --dry-run prints the commands.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RF="$ROOT/launch/bin/ringformer"
usage() { echo "usage: launch/multi-gpu.sh --gpus N --config FILE [--dry-run] [train option]..." >&2; exit 2; }
GPUS=""; CONFIG=""; DRY_RUN=0; REST=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --gpus) GPUS="$2"; shift 2 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    *) REST+=("$1"); shift ;;
  esac
done
[[ "$GPUS" =~ ^[1-9][0-9]*$ && -n "$CONFIG" ]] || usage

found=0
if command -v nvidia-smi >/dev/null 2>&1; then found="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)"; fi
run() { if [[ $DRY_RUN == 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi; }

if [[ "$found" -eq 0 ]]; then
  echo "multi-gpu.sh: no GPU on this machine (nvidia-smi lists none): running $GPUS CPU workers instead" >&2
  run "$RF" train --config "$CONFIG" --workers "$GPUS" ${REST[@]+"${REST[@]}"}
  exit $?
fi
if [[ "$GPUS" -gt "$found" ]]; then
  echo "multi-gpu.sh: --gpus $GPUS but nvidia-smi lists $found GPU(s); use --gpus $found or fewer" >&2
  exit 2
fi
if ! ls "$ROOT"/launch/target/lib/nd4j-cuda-* >/dev/null 2>&1; then
  echo "multi-gpu.sh: building the cuda profile (needs CUDA 11.6 and cuDNN 8.3 on this host)" >&2
  run bash -c "cd '$ROOT' && mvn -B -q -Pcuda -DskipTests install"
fi
devices="$(seq -s, 0 $((GPUS - 1)))"
echo "multi-gpu.sh: $GPUS workers on GPUs $devices" >&2
run "$RF" train --config "$CONFIG" --workers "$GPUS" --devices "$devices" ${REST[@]+"${REST[@]}"}
