#!/usr/bin/env bash
# The AnyIR part of `make bench-models` (Benchmarks/models.sh calls it; it also runs alone):
# the published AnyIR-T and AnyIR-S at SIDExSIDE (256), seeded random weights in a Lightning
# .ckpt, timed with `irzoo run` beside PyTorch eager (THREADS threads, best of contiguous and
# channels_last) and ONNX Runtime (THREADS intra-op threads), in the same run, with peak RSS and
# the ratios; RUNS interleaved rounds. Target (issue 6): irzoo faster than both.
# Usage: Benchmarks/anyir.sh PYTHON [THREADS] [RUNS] [SIDE]   (IRZOO_BIN=path skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
THREADS=${2:-2}
RUNS=${3:-3}
SIDE=${4:-256}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-anyir.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

IRZOO_BIN=$(irzoo_bin)
export IRZOO_HOME="$TMP/home"

"$PY" Benchmarks/models_anyir.py prepare "$TMP" "$SIDE"
load_note

# timed_json OUTFILE JSONFILE CMD...: /usr/bin/time record in OUTFILE, the command's stdout in JSONFILE.
timed_json() {
  local out=$1 json=$2; shift 2
  /usr/bin/time -f '%e %M' -a -o "$out" "$@" >> "$json"
}

# Rounds interleave the contenders, so a load change on a shared machine hits them alike; each
# keeps its best round (PyTorch and ONNX Runtime: best of 2 passes after a warm-up per round).
for name in anyir-t anyir-s; do
  "$IRZOO_BIN" import "$TMP/$name.ckpt" --arch "$name" --name "bench-$name" >&2
  for run in $(seq "$RUNS"); do
    timed_json "$TMP/time.irzoo.$name" "$TMP/irzoo.$name.jsonl" "$IRZOO_BIN" run "bench-$name" --threads "$THREADS" \
      --input "$TMP/${name}_input.npy" --output "$TMP/${name}_irzoo_output.npy" --json
    timed_json "$TMP/time.torch.$name" "$TMP/torch.$name.jsonl" "$PY" Benchmarks/models_anyir.py torch "$name" "$TMP" "$THREADS" 2
    timed_json "$TMP/time.ort.$name" "$TMP/ort.$name.jsonl" "$PY" Benchmarks/models_anyir.py ort "$name" "$TMP" "$THREADS" 2
  done
done

"$PY" Benchmarks/models_anyir.py report "$TMP"
