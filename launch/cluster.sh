#!/usr/bin/env bash
# Start a ringformer job across hosts over ssh.
#
#   launch/cluster.sh HOSTFILE CONFIG [--zk HOSTS] [--job NAME] [--out DIR] [--min-workers N] [--resume]
#                     [--dry-run] [--set key=value]...
#
# HOSTFILE lists one host per line: `HOST [WORKERS [SSH_PORT]]` (WORKERS defaults to 1; '#' starts a comment).
# localhost or 127.0.0.1 without an SSH_PORT runs its workers directly; every other line runs them over ssh
# (BatchMode, port SSH_PORT or 22; more options, e.g. `-i KEY`, in RINGFORMER_SSH_OPTS). Every host needs this
# repository (built, or buildable) and the data at the same path as here. Without --zk, a development ZooKeeper is
# started on this machine, listening on every interface. The coordinator runs here; it exits when the job finishes,
# fails or is stopped, and the script with it, with the job's outcome (0, 1, 130).
# Each host (a line's HOST and SSH_PORT) runs one media driver (`ringformer media-driver`) shared by all its workers:
# when the job lives on one host its workers talk IPC and sum in shared memory; across hosts every worker receives
# UDP on its host's address through that driver.
# Remote processes stop with the job: each one prints its PID first, and when this script ends (the job's end,
# Ctrl-C, an error) every remote worker and media driver still running is killed by PID over ssh. --resume continues from the run
# directory's newest checkpoint. --dry-run prints the commands instead of running them.
# Across hosts, ZooKeeper credentials are required: export RINGFORMER_ZK_AUTH=user:password first (the job's
# znodes get digest ACLs; remote workers receive the credentials on ssh's stdin, never on a command line).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RF="$ROOT/launch/bin/ringformer"
. "$ROOT/launch/zookeeper.sh"
usage() { echo "usage: launch/cluster.sh HOSTFILE CONFIG [--zk HOSTS] [--job NAME] [--out DIR] [--min-workers N] [--resume] [--dry-run] [--set key=value]..." >&2; exit 2; }
[[ $# -ge 2 ]] || usage
HOSTFILE="$1"; CONFIG="$2"; shift 2
[[ -f "$HOSTFILE" ]] || { echo "cluster.sh: host file not found: $HOSTFILE" >&2; exit 2; }
[[ -f "$CONFIG" ]] || { echo "cluster.sh: config not found: $CONFIG" >&2; exit 2; }
ZK=""; JOB="job-$(date +%Y%m%d-%H%M%S)"; OUT=""; SETS=(); MIN_WORKERS=1; RESUME=(); DRY_RUN=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --zk) ZK="$2"; shift 2 ;;
    --job) JOB="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --min-workers) MIN_WORKERS="$2"; shift 2 ;;
    --resume) RESUME=(--resume); shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --set) SETS+=(--set "$2"); shift 2 ;;
    *) usage ;;
  esac
done
OUT="${OUT:-$ROOT/runs/$JOB}"
CONFIG="$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")"
read -r -a SSH_OPTS <<< "${RINGFORMER_SSH_OPTS:-}"

# One worker slot per line and count; the coordinator waits for all of them. A host is a (HOST, SSH_PORT) pair.
SLOTS=(); PORTS=(); HOSTS=()
host_index() { local h; for ((h = 0; h < ${#HOSTS[@]}; h++)); do [[ "${HOSTS[$h]}" == "$1" ]] && { echo $h; return 0; }; done; return 1; }
while read -r host count port _; do
  [[ -z "$host" || "$host" == \#* ]] && continue
  for ((i = 0; i < ${count:-1}; i++)); do SLOTS+=("$host"); PORTS+=("${port:-}"); done
  host_index "$host:${port:-}" >/dev/null || HOSTS+=("$host:${port:-}")
done < "$HOSTFILE"
[[ ${#SLOTS[@]} -gt 0 ]] || { echo "cluster.sh: no hosts in $HOSTFILE" >&2; exit 2; }
LOCAL_ONLY=1
for host in "${SLOTS[@]}"; do [[ "$host" == localhost || "$host" == 127.0.0.1 ]] || LOCAL_ONLY=0; done
if [[ $LOCAL_ONLY == 0 && -z "${RINGFORMER_ZK_AUTH:-}" ]]; then
  echo "cluster.sh: workers on other hosts need ZooKeeper credentials: export RINGFORMER_ZK_AUTH=user:password" >&2
  exit 2
fi

PIDS=(); WORKERS=(); DRIVERS=()   # local processes (ssh sessions included); of them, workers and media drivers
REMOTE=()                          # remote processes as "port host pidfile"
stop_remote() {                    # stop_remote NAME...: kills those remote processes by PID over ssh
  for entry in "${REMOTE[@]}"; do
    read -r port host pidfile <<< "$entry"
    for name; do
      [[ "$(basename "$pidfile" .pid)" == "$name"* ]] || continue
      pid="$(head -n 1 "$pidfile" 2>/dev/null | sed -n 's/^ringformer-pid \([0-9]*\)$/\1/p')"
      [[ -n "$pid" ]] && ssh -o BatchMode=yes -p "${port:-22}" ${SSH_OPTS[@]+"${SSH_OPTS[@]}"} "$host" \
          "kill $pid 2>/dev/null || true" < /dev/null || true
    done
  done
}
cleanup() {
  # The workers first: a stopped worker finishes its step and checkpoint through its host's media driver, so the
  # drivers stop after every worker has gone.
  stop_remote worker
  for pid in "${PIDS[@]}"; do [[ " ${DRIVERS[*]} " == *" $pid "* ]] || kill "$pid" 2>/dev/null || true; done
  for pid in "${WORKERS[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_remote driver
  for pid in "${DRIVERS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "${PIDDIR:-}"
}
trap cleanup EXIT INT TERM
PIDDIR="$(mktemp -d)"
background() {                     # runs "$@" in the background (or prints it)
  if [[ $DRY_RUN == 1 ]]; then printf '%q ' "$@"; echo; else "$@" & PIDS+=($!); fi
}
is_local() { [[ ( "$1" == localhost || "$1" == 127.0.0.1 ) && -z "$2" ]]; }   # HOST SSH_PORT: no ssh needed
# remote HOST SSH_PORT NAME ringformer-arguments...: runs `ringformer ARGS` on HOST over ssh in the background.
# The credentials go through stdin: read into the remote environment, never onto a command line. The process
# prints its PID first (exec keeps it), which the cleanup above uses to stop it.
remote() {
  local host="$1" port="$2" name="$3"; shift 3
  local command="cd $(printf %q "$ROOT") && IFS= read -r RINGFORMER_ZK_AUTH; export RINGFORMER_ZK_AUTH; \
echo ringformer-pid \$\$ && exec launch/bin/ringformer $(printf '%q ' "$@")"
  local ssh_command=(ssh -o BatchMode=yes -p "${port:-22}" ${SSH_OPTS[@]+"${SSH_OPTS[@]}"} "$host" "$command")
  if [[ $DRY_RUN == 1 ]]; then printf '%q ' "${ssh_command[@]}"; echo; return; fi
  local pidfile="$PIDDIR/$name.pid"
  # the first line (the PID) goes to the pid file, the rest to this terminal
  "${ssh_command[@]}" <<< "${RINGFORMER_ZK_AUTH:-}" | { IFS= read -r first && echo "$first" > "$pidfile"; cat; } &
  PIDS+=($!)
  REMOTE+=("${port:-22} $host $pidfile")
}

if [[ -z "$ZK" ]]; then
  # The workers reach it at this machine's first address (RINGFORMER_ZK_HOST overrides), or on loopback.
  BIND=0.0.0.0; ZK_HOST="${RINGFORMER_ZK_HOST:-$(hostname -I | cut -d' ' -f1)}"
  [[ $LOCAL_ONLY == 1 ]] && { BIND=127.0.0.1; ZK_HOST=127.0.0.1; }
  if [[ $DRY_RUN == 1 ]]; then
    background "$RF" zookeeper --port 0 --bind "$BIND"; ZK="$ZK_HOST:<port>"
  else
    start_zookeeper "$BIND" "$PIDDIR/zookeeper.log"
    ZK="$ZK_HOST:$ZK_PORT"
  fi
fi

echo "cluster.sh: job $JOB, ${#SLOTS[@]} workers, ZooKeeper $ZK, run directory $OUT" >&2

# The rendezvous waits (up to a minute) for every slot; afterwards the job goes on with at least --min-workers of
# them (a dead worker's slot is dropped, a restarted one rejoins). A second coordinator stands by: if the first dies,
# it leads from ZooKeeper's state.
coordinator=(coordinator --zk "$ZK" --job "$JOB" --config "$CONFIG" ${SETS[@]+"${SETS[@]}"} \
  --min-workers "$MIN_WORKERS" --max-workers "${#SLOTS[@]}" --settle-ms 60000)
background "$RF" "${coordinator[@]}"
[[ $DRY_RUN == 1 ]] || { COORDINATOR=${PIDS[-1]}; sleep 1; }
background "$RF" "${coordinator[@]}"
[[ $DRY_RUN == 1 ]] || STANDBY=${PIDS[-1]}

# One media driver per host, in /dev/shm under the job's name and the host's index (hosts may share a file system).
# Workers wait for their driver (Aeron's 10 s driver timeout covers its start).
INBOX=ipc; [[ ${#HOSTS[@]} -gt 1 ]] && INBOX=udp
driver_dir() { echo "/dev/shm/ringformer-$JOB-host$1"; }
for ((h = 0; h < ${#HOSTS[@]}; h++)); do
  host="${HOSTS[$h]%:*}"; port="${HOSTS[$h]##*:}"
  if is_local "$host" "$port"; then
    background "$RF" media-driver --dir "$(driver_dir $h)"
  else
    remote "$host" "$port" "driver-$h" media-driver --dir "$(driver_dir $h)"
  fi
  [[ $DRY_RUN == 1 ]] || DRIVERS+=(${PIDS[-1]})
done

n=0
for host in "${SLOTS[@]}"; do
  port="${PORTS[$n]}"
  h="$(host_index "$host:$port")"
  worker=(worker --zk "$ZK" --job "$JOB" --id "$(echo "$host" | tr '.' '-')-$n" --bind "$host" --out "$OUT"
          --aeron-dir "$(driver_dir $h)" --inbox "$INBOX" ${RESUME[@]+"${RESUME[@]}"})
  if is_local "$host" "$port"; then
    background "$RF" "${worker[@]}"
  else
    remote "$host" "$port" "worker-$n" "${worker[@]}"
  fi
  [[ $DRY_RUN == 1 ]] || WORKERS+=(${PIDS[-1]})
  n=$((n + 1))
done
[[ $DRY_RUN == 0 ]] || exit 0

# Both coordinators exit when the job ends, with its outcome (0 finished, 1 failed, 130 stopped); one that was killed
# (137, 143) does not speak for the job. Local workers follow within moments; the trap stops whatever is left.
active=0; wait "$COORDINATOR" || active=$?
standby=0; wait "$STANDBY" || standby=$?
for _ in $(seq 100); do
  alive=0; for pid in "${WORKERS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [[ $alive == 0 ]] && break; sleep 0.1
done
if [[ $standby -eq 137 || $standby -eq 143 ]]; then exit "$active"; fi
exit "$standby"
