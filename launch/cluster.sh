#!/usr/bin/env bash
# Start a ringformer job across hosts over ssh.
#
#   launch/cluster.sh HOSTFILE CONFIG [--zk HOSTS] [--job NAME] [--out DIR] [--min-workers N] [--set key=value]...
#
# HOSTFILE lists one host per line, optionally followed by how many workers to start there (default 1); '#'
# starts a comment. Every host needs this repository (built, or buildable) and the data at the same path as here,
# and passwordless ssh. Without --zk, a development ZooKeeper is started on this machine, listening on every
# interface. The coordinator runs here; it exits when the job finishes or fails, and the script with it.
# A host named localhost or 127.0.0.1 runs its workers directly, without ssh.
# Across hosts, ZooKeeper credentials are required: export RINGFORMER_ZK_AUTH=user:password first (the job's
# znodes get digest ACLs; remote workers receive the credentials on ssh's stdin, never on a command line).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RF="$ROOT/launch/bin/ringformer"
usage() { echo "usage: launch/cluster.sh HOSTFILE CONFIG [--zk HOSTS] [--job NAME] [--out DIR] [--min-workers N] [--set key=value]..." >&2; exit 2; }
[[ $# -ge 2 ]] || usage
HOSTFILE="$1"; CONFIG="$2"; shift 2
[[ -f "$HOSTFILE" ]] || { echo "cluster.sh: host file not found: $HOSTFILE" >&2; exit 2; }
[[ -f "$CONFIG" ]] || { echo "cluster.sh: config not found: $CONFIG" >&2; exit 2; }
ZK=""; JOB="job-$(date +%Y%m%d-%H%M%S)"; OUT=""; SETS=(); MIN_WORKERS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --zk) ZK="$2"; shift 2 ;;
    --job) JOB="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --min-workers) MIN_WORKERS="$2"; shift 2 ;;
    --set) SETS+=(--set "$2"); shift 2 ;;
    *) usage ;;
  esac
done
OUT="${OUT:-$ROOT/runs/$JOB}"
CONFIG="$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")"

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# One worker slot per line and count; the coordinator waits for all of them.
SLOTS=()
while read -r host count _; do
  [[ -z "$host" || "$host" == \#* ]] && continue
  for ((i = 0; i < ${count:-1}; i++)); do SLOTS+=("$host"); done
done < "$HOSTFILE"
[[ ${#SLOTS[@]} -gt 0 ]] || { echo "cluster.sh: no hosts in $HOSTFILE" >&2; exit 2; }
LOCAL_ONLY=1
for host in "${SLOTS[@]}"; do [[ "$host" == localhost || "$host" == 127.0.0.1 ]] || LOCAL_ONLY=0; done
if [[ $LOCAL_ONLY == 0 && -z "${RINGFORMER_ZK_AUTH:-}" ]]; then
  echo "cluster.sh: workers on other hosts need ZooKeeper credentials: export RINGFORMER_ZK_AUTH=user:password" >&2
  exit 2
fi

if [[ -z "$ZK" ]]; then
  ZK_LOG="$(mktemp)"
  BIND=0.0.0.0; [[ $LOCAL_ONLY == 1 ]] && BIND=127.0.0.1
  "$RF" zookeeper --port 0 --bind "$BIND" > "$ZK_LOG" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "serving at" "$ZK_LOG" && break; sleep 0.2; done
  ZK="$(sed -n 's/^ZooKeeper serving at \([^ ]*\).*/\1/p' "$ZK_LOG")"
  [[ -n "$ZK" ]] || { echo "cluster.sh: ZooKeeper did not start:" >&2; cat "$ZK_LOG" >&2; exit 1; }
fi

echo "cluster.sh: job $JOB, ${#SLOTS[@]} workers, ZooKeeper $ZK, run directory $OUT" >&2

# The rendezvous waits (up to a minute) for every slot; afterwards the job goes on with at least --min-workers of
# them (a dead worker's slot is dropped, a restarted one rejoins). A second coordinator stands by: if the first dies,
# it leads from ZooKeeper's state.
coordinator=(coordinator --zk "$ZK" --job "$JOB" --config "$CONFIG" "${SETS[@]}" \
  --min-workers "$MIN_WORKERS" --max-workers "${#SLOTS[@]}" --settle-ms 60000)
"$RF" "${coordinator[@]}" &
COORDINATOR=$!
PIDS+=($COORDINATOR)
sleep 1
"$RF" "${coordinator[@]}" &
STANDBY=$!
PIDS+=($STANDBY)

n=0
for host in "${SLOTS[@]}"; do
  worker=(worker --zk "$ZK" --job "$JOB" --id "$(echo "$host" | tr '.' '-')-$n" --bind "$host" --out "$OUT")
  if [[ "$host" == localhost || "$host" == 127.0.0.1 ]]; then
    "$RF" "${worker[@]}" &
  else
    # the credentials go through stdin: read into the remote environment, never onto a command line
    ssh -o BatchMode=yes "$host" "cd '$ROOT' && IFS= read -r RINGFORMER_ZK_AUTH && export RINGFORMER_ZK_AUTH \
      && exec launch/bin/ringformer $(printf '%q ' "${worker[@]}")" <<< "${RINGFORMER_ZK_AUTH:-}" &
  fi
  PIDS+=($!)
  n=$((n + 1))
done

# Both coordinators exit when the job ends, with its outcome (0 finished, 1 failed, 130 stopped); one that was killed
# (137, 143) does not speak for the job.
active=0; wait "$COORDINATOR" || active=$?
standby=0; wait "$STANDBY" || standby=$?
if [[ $standby -eq 137 || $standby -eq 143 ]]; then exit "$active"; fi
exit "$standby"
