# Sourced by the launch scripts: start_zookeeper BIND LOG starts a development ZooKeeper (`ringformer zookeeper`)
# on a free port in the background, appends its PID to PIDS, waits (30 s at most) until it serves, and sets
# ZK_PORT; when it does not start, prints its log and exits 1. Needs RF (the ringformer command).
start_zookeeper() {
  local bind="$1" log="$2"
  "$RF" zookeeper --port 0 --bind "$bind" > "$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 150); do grep -q "serving at" "$log" && break; sleep 0.2; done
  ZK_PORT="$(sed -n 's/^ZooKeeper serving at [^ ]*:\([0-9]*\).*/\1/p' "$log")"
  [[ -n "$ZK_PORT" ]] || { echo "$(basename "$0"): ZooKeeper did not start:" >&2; cat "$log" >&2; exit 1; }
}
