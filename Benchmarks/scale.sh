#!/usr/bin/env bash
# make bench-scale (issue 12): SymUNet w48 (the published config, seeded random weights) at
# 256², 512² and 1024² with `irzoo run` (whole image: --tile equal to the side), at the CPU's own
# SIMD level and at IRZOO_SIMD=avx2 (when the CPU has both): seconds and peak RSS, and each per
# megapixel, so growth faster than the pixel count shows. Target: per-megapixel time within 20%
# from 256² to 1024². Each run is its own process (its own peak RSS, /usr/bin/time); the time is
# the forward pass `run --json` reports, best of REPEAT passes in one process (its first pass is
# shown too); on a shared machine read the CPU time (user + sys of the whole process over its
# REPEAT passes, so it includes loading). RUNS rounds alternate the levels.
# Usage: Benchmarks/scale.sh PYTHON [THREADS] [RUNS] [REPEAT] [SIDES]   (IRZOO_BIN=path skips the build;
#        LEVELS="avx2" picks the levels)
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
THREADS=${2:-2}
RUNS=${3:-1}
REPEAT=${4:-2}
SIDES=${5:-256 512 1024}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-scale.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

IRZOO=$(irzoo_bin)
export IRZOO_HOME="$TMP/home"
if [ -z "${LEVELS:-}" ]; then
  LEVELS=native
  grep -qw avx512f /proc/cpuinfo && grep -qw avx2 /proc/cpuinfo && LEVELS="native avx2"
fi

"$PY" Benchmarks/batch_torch.py w48 "$TMP"
"$IRZOO" import "$TMP/symunet-w48.pth" --arch symunet --name w48 >&2
"$PY" Benchmarks/scale.py inputs "$TMP" $SIDES
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); $(grep -o -w 'avx2\|fma\|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')"
load_note

for run in $(seq "$RUNS"); do
  for side in $SIDES; do
    for level in $LEVELS; do
      env_level=()
      [ "$level" = native ] || env_level=(env "IRZOO_SIMD=$level")
      "${env_level[@]}" /usr/bin/time -f '%e %M %U %S' -a -o "$TMP/time.$level.$side" "$IRZOO" run w48 --threads "$THREADS" \
        --repeat "$REPEAT" --tile "$side" --input "$TMP/in$side.npy" --output "$TMP/out.$level.$side.npy" --json \
        >> "$TMP/irzoo.$level.$side.jsonl"
      load_note
    done
  done
done
"$PY" Benchmarks/scale.py report "$TMP" "$LEVELS" $SIDES
