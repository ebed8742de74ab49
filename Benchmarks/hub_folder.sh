#!/usr/bin/env bash
# make bench-hub (issue 14): `irzoo import` of a sharded fp16 SDXL UNet folder (5 shards,
# ~4.8 GiB, seeded random bytes, Benchmarks/hub_folder.py) beside the import of the same weights
# as one file, RUNS interleaved rounds each: time and peak RSS (/usr/bin/time). Needs ~15 GB of
# disk (sources + one imported blob at a time); files live in a temp dir and are removed.
# Usage: Benchmarks/hub_folder.sh PYTHON [RUNS]   (IRZOO_BIN=path skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
RUNS=${2:-2}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-hub.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
IRZOO_BIN=$(irzoo_bin)
export IRZOO_HOME="$TMP/home"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(grep -o -w -m1 avx512f /proc/cpuinfo || echo no-avx512f)"
"$PY" Benchmarks/hub_folder.py "$TMP/src"
for round in $(seq "$RUNS"); do
  for kind in single sharded; do
    load_note
    /usr/bin/time -f "round $round: import $kind folder: %e s, peak RSS %M KiB" \
      "$IRZOO_BIN" import "$TMP/src/$kind" --variant fp16 --arch sdxl-unet --name "unet-$kind" > /dev/null
    "$IRZOO_BIN" rm "unet-$kind" > /dev/null
  done
done
