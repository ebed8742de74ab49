#!/usr/bin/env bash
# make bench-sdxl (issue 8): SDXL VAE decode and one SDXL UNet step, published configs with seeded
# random weights, `irzoo run` beside diffusers eager float32 (THREADS threads) in the same run:
# RUNS interleaved rounds (irzoo, diffusers, irzoo, ...), each a process of its own with its peak
# RSS and two passes (irzoo `--repeat 2`; diffusers a warm-up and one timed pass); each keeps its
# best round. LATENT is the latent side: 64 = the 64x64x4 latent of a 512x512 image (the VAE
# decodes it to 512x512; the UNet step runs at 64x64 with SDXL's 77x2048 context). Then, with
# FP16=1 (default), the UNet saved as float16 safetensors (what SDXL ships), imported and run once
# by irzoo from the mapping with per-layer widening: its peak RSS and its difference from the
# float32 diffusers output. Needs ~10 GB of memory per process and ~25 GB of disk for the UNet;
# not part of `make test` or `make bench`. Files live in a temp dir and are removed.
# Usage: Benchmarks/sdxl.sh PYTHON [THREADS] [RUNS] [LATENT] [PARTS]
#   PARTS: "vae unet" (default) or one of them. IRZOO_BIN=path skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
THREADS=${2:-2}
RUNS=${3:-3}
LATENT=${4:-64}
PARTS=${5:-"vae unet"}
FP16=${FP16:-1}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-sdxl.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

IRZOO_BIN=$(irzoo_bin)
export IRZOO_HOME="$TMP/home"
load_note
field() { "$PY" -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

for part in $PARTS; do
  if [ "$part" = vae ]; then need=3; else need=12; fi  # GiB one process of this part peaks at
  wait_for_memory $need
  /usr/bin/time -f "prepare $part (diffusers build, save, reference output): %e s, peak RSS %M KiB" \
    "$PY" Benchmarks/sdxl_torch.py prepare "$TMP" "$part" "$LATENT"
  /usr/bin/time -f "irzoo import $part: %e s, peak RSS %M KiB" \
    "$IRZOO_BIN" import "$TMP/$part.safetensors" --arch "sdxl-$part" --name "bench-$part" > /dev/null
  args=(run "bench-$part" --threads "$THREADS" --repeat 2 --input "$TMP/${part}_input.npy"
        --output "$TMP/${part}_irzoo_output.npy" --json)
  if [ "$part" = vae ]; then args+=(--vae-mode decode); else args+=(--aux "$TMP/unet_aux.npz"); fi
  # Rounds interleave the contenders, so a load change on the shared machine hits them alike.
  for run in $(seq "$RUNS"); do
    wait_for_memory $need
    /usr/bin/time -f '%e %M' -a -o "$TMP/time.irzoo.$part" "$IRZOO_BIN" "${args[@]}" > "$TMP/irzoo.$part.$run.json"
    wait_for_memory $need
    /usr/bin/time -f '%e %M' -a -o "$TMP/time.torch.$part" "$PY" Benchmarks/sdxl_torch.py torch "$TMP" "$part" "$THREADS" 1 > "$TMP/torch.$part.$run.json"
    echo "$part round $run: irzoo $(field "$TMP/irzoo.$part.$run.json" seconds) s (first pass $(field "$TMP/irzoo.$part.$run.json" first_seconds) s)," \
      "diffusers $(field "$TMP/torch.$part.$run.json" seconds) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  done
  "$PY" Benchmarks/sdxl_torch.py report "$TMP" "$part" "$RUNS" "$LATENT" "$THREADS"
  if [ "$part" = unet ] && [ "$FP16" = 1 ]; then
    # The float32 file and store copy are no longer needed; the float16 one replaces them.
    "$IRZOO_BIN" rm bench-unet > /dev/null 2>&1 || true
    /usr/bin/time -f "float16 file (streamed from the float32 one): %e s, peak RSS %M KiB" \
      "$PY" Benchmarks/sdxl_torch.py half "$TMP" unet
    rm -f "$TMP/unet.safetensors"
    /usr/bin/time -f "irzoo import unet float16: %e s, peak RSS %M KiB" \
      "$IRZOO_BIN" import "$TMP/unet_fp16.safetensors" --arch sdxl-unet --name bench-unet-fp16 > /dev/null
    "$IRZOO_BIN" show bench-unet-fp16 | grep -E "blob size|parameters|dtype" || true
    wait_for_memory 8
    /usr/bin/time -f '%e %M' -o "$TMP/time.fp16" "$IRZOO_BIN" run bench-unet-fp16 --threads "$THREADS" \
      --input "$TMP/unet_input.npy" --aux "$TMP/unet_aux.npz" --output "$TMP/unet_irzoo_output.npy" --json > "$TMP/irzoo.fp16.json"
    echo "irzoo UNet step from the float16 file (per-layer widening): forward $(field "$TMP/irzoo.fp16.json" seconds) s," \
      "peak RSS $(awk '{printf "%.2f GiB", $2 / 1048576}' "$TMP/time.fp16"); against diffusers float32: $("$PY" Benchmarks/sdxl_torch.py compare "$TMP" unet)"
  fi
done
