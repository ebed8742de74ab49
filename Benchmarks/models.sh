#!/usr/bin/env bash
# make bench-models: the published SymUNet at 256x256 and the CLIP ViT-L/14 vision tower at
# 224x224, random (seeded) weights, timed with `irzoo run` beside PyTorch eager (THREADS threads,
# best of contiguous and channels_last) and ONNX Runtime (the reference module exported to ONNX,
# THREADS intra-op threads), in the same run, with peak RSS and the ratios. RUNS interleaved rounds;
# PyTorch and ONNX Runtime take the best of 2 passes after a warm-up in each round, irzoo the best
# of 3 passes (`run --repeat 3`; its first pass, which also faults the mapped weights in, is shown too).
# Generated checkpoints live in a temp dir and are removed. Targets (issue 5): irzoo faster than
# both on SymUNet 256x256 (PyTorch eager about 4.4 s, ONNX Runtime about 2.4 s on 2 cores).
# Usage: Benchmarks/models.sh PYTHON [THREADS] [RUNS]   (IRZOO_BIN=path skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
THREADS=${2:-2}
RUNS=${3:-3}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-models.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

IRZOO_BIN=$(irzoo_bin)
IRZOO=$IRZOO_BIN
export IRZOO_HOME="$TMP/home"

"$PY" Benchmarks/models_torch.py prepare "$TMP"
"$IRZOO" import "$TMP/symunet.pth" --arch symunet --name bench-symunet >&2
"$IRZOO" import "$TMP/clip.safetensors" --arch clip-vit-l-14 --name bench-clip >&2
load_note

# timed_json OUTFILE JSONFILE CMD...: /usr/bin/time record in OUTFILE, the command's stdout in JSONFILE.
timed_json() {
  local out=$1 json=$2; shift 2
  /usr/bin/time -f '%e %M' -a -o "$out" "$@" >> "$json"
}

# Rounds interleave the contenders, so a load change on a shared machine hits them alike; each
# keeps its best round.
for name in symunet clip; do
  for run in $(seq "$RUNS"); do
    timed_json "$TMP/time.irzoo.$name" "$TMP/irzoo.$name.jsonl" "$IRZOO" run "bench-$name" --threads "$THREADS" --repeat 3 \
      --input "$TMP/${name}_input.npy" --output "$TMP/${name}_irzoo_output.npy" --json
    timed_json "$TMP/time.torch.$name" "$TMP/torch.$name.jsonl" "$PY" Benchmarks/models_torch.py torch "$name" "$TMP" "$THREADS" 2
    timed_json "$TMP/time.ort.$name" "$TMP/ort.$name.jsonl" "$PY" Benchmarks/models_torch.py ort "$name" "$TMP" "$THREADS" 2
  done
  # `run --json` is pretty-printed: one compact line per run for the report.
  "$PY" -c 'import json,sys; d=sys.stdin.read(); dec=json.JSONDecoder(); i=0
while i < len(d):
    d2 = d[i:].lstrip()
    if not d2: break
    o, n = dec.raw_decode(d2); i = len(d) - len(d2) + n; print(json.dumps(o))' < "$TMP/irzoo.$name.jsonl" > "$TMP/irzoo.$name.tmp"
  mv "$TMP/irzoo.$name.tmp" "$TMP/irzoo.$name.jsonl"
done

"$PY" Benchmarks/models_torch.py report "$TMP"

# AnyIR-T and AnyIR-S at 256x256 (issue 6): the same protocol, in Benchmarks/anyir.sh.
IRZOO_BIN=$IRZOO bash Benchmarks/anyir.sh "$PY" "$THREADS" "$RUNS"
