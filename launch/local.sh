#!/usr/bin/env bash
# A job on this machine the way a cluster runs it: a standalone ZooKeeper, a coordinator and N worker processes,
# each its own command (what `ringformer train --workers N` does inside one command).
#
#   launch/local.sh CONFIG N [--set key=value]...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 2 ]] || { echo "usage: launch/local.sh CONFIG N [--set key=value]..." >&2; exit 2; }
CONFIG="$1"; N="$2"; shift 2
HOSTS="$(mktemp)"
trap 'rm -f "$HOSTS"' EXIT
echo "127.0.0.1 $N" > "$HOSTS"
exec "$ROOT/launch/cluster.sh" "$HOSTS" "$CONFIG" "$@"
