#!/usr/bin/env bash
# SDXL VAE decode and one SDXL UNet step (issue 8), published configs with seeded random weights,
# `irzoo run` beside diffusers eager float32 (THREADS threads), with peak RSS and the max abs
# difference of the outputs. Not part of `make test` or `make bench` (the UNet needs ~10 GB per
# process and minutes per step on 2 cores).
# Usage: Benchmarks/sdxl.sh PYTHON [THREADS] [RUNS] [LATENT] [PARTS]
#   LATENT: latent side (64 = a 512x512 image); PARTS: "vae unet" (default) or one of them.
#   IRZOO_BIN=path skips the build; SDXL_BENCH_DTYPE=f16 writes fp16 weights (irzoo widens per layer).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
THREADS=${2:-2}
RUNS=${3:-2}
LATENT=${4:-64}
PARTS=${5:-"vae unet"}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-sdxl.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

if [ -z "${IRZOO_BIN:-}" ]; then
  swift build -c release --product irzoo >&2
  IRZOO_BIN=$(swift build -c release --show-bin-path)/irzoo
fi
export IRZOO_HOME="$TMP/home"
load_note

for part in $PARTS; do
  "$PY" Benchmarks/sdxl_torch.py prepare "$TMP" "$part" "$LATENT"
  "$IRZOO_BIN" import "$TMP/$part.safetensors" --arch "sdxl-$part" --name "bench-$part" >&2
  args=(run "bench-$part" --threads "$THREADS" --repeat "$RUNS" --input "$TMP/${part}_input.npy"
        --output "$TMP/${part}_irzoo_output.npy" --json)
  if [ "$part" = vae ]; then args+=(--vae-mode decode); else args+=(--aux "$TMP/unet_aux.npz"); fi
  /usr/bin/time -f '%e %M' -o "$TMP/time.irzoo" "$IRZOO_BIN" "${args[@]}" > "$TMP/irzoo.json"
  /usr/bin/time -f '%e %M' -o "$TMP/time.torch" "$PY" Benchmarks/sdxl_torch.py torch "$TMP" "$part" "$THREADS" "$RUNS" > "$TMP/torch.json"
  irzoo_s=$("$PY" -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["seconds"])' "$TMP/irzoo.json")
  torch_s=$("$PY" -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["seconds"])' "$TMP/torch.json")
  err=$("$PY" Benchmarks/sdxl_torch.py compare "$TMP" "$part")
  echo "sdxl-$part ${LATENT}x${LATENT} latent, $THREADS threads: irzoo ${irzoo_s} s (peak RSS $(cut -d' ' -f2 "$TMP/time.irzoo") KiB), diffusers ${torch_s} s (peak RSS $(cut -d' ' -f2 "$TMP/time.torch") KiB); $err"
done
