#!/usr/bin/env bash
# make demo: installs the embedded demo denoiser (Zoo/demo/symunet-demo.pth, a small SymUNet that
# Tools/train_demo.py trained for sigma = 25 Gaussian noise, saved in BasicSR's container) into a
# temporary store, shows it, restores the held-out noisy photo, writes the PNGs to demo-out/, and
# prints PSNR before and after. Fails (exit 1) unless the restoration gains at least 3 dB.
# Usage: Tools/demo.sh [IRZOO_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/irzoo}
DEMO=Zoo/demo
OUT=demo-out
CKPT=$DEMO/symunet-demo.pth
CLEAN=$DEMO/chelsea-clean.png
NOISY=$DEMO/chelsea-noisy-s25.png
MIN_GAIN_DB=3

for f in "$BIN" "$CKPT" "$CLEAN" "$NOISY"; do
  if [ ! -e "$f" ]; then
    echo "demo: $f is missing (build with 'make build'; the demo files come from Tools/train_demo.py)" >&2
    exit 1
  fi
done

STORE=$(mktemp -d "${TMPDIR:-/tmp}/irzoo-demo.XXXXXX")
trap 'rm -rf "$STORE"' EXIT
export IRZOO_HOME="$STORE"
mkdir -p "$OUT"

echo "== irzoo import $CKPT"
"$BIN" import "$CKPT" --arch symunet-demo --name symunet-demo
echo
echo "== irzoo show symunet-demo"
"$BIN" show symunet-demo
echo
echo "== irzoo run symunet-demo (sigma 25 noise, held-out image)"
"$BIN" run symunet-demo --input "$NOISY" --output "$OUT/chelsea-restored.png" --reference "$CLEAN" --json > "$STORE/run.json"
cp "$CLEAN" "$OUT/chelsea-clean.png"
cp "$NOISY" "$OUT/chelsea-noisy.png"

field() { grep -o "\"$1\": *[-0-9.eE+]*" "$STORE/run.json" | head -1 | sed 's/.*: *//'; }
before=$(field psnr_input_db)
after=$(field psnr_output_db)
seconds=$(field seconds)
if [ -z "$before" ] || [ -z "$after" ]; then
  echo "demo: irzoo run printed no PSNR:" >&2
  cat "$STORE/run.json" >&2
  exit 1
fi
awk -v b="$before" -v a="$after" -v s="$seconds" -v min="$MIN_GAIN_DB" -v out="$OUT" 'BEGIN {
  printf "restored in %.2f s\n", s
  printf "PSNR noisy    vs clean: %6.2f dB\n", b
  printf "PSNR restored vs clean: %6.2f dB  (%+.2f dB)\n", a, a - b
  printf "images: %s/chelsea-clean.png, %s/chelsea-noisy.png, %s/chelsea-restored.png\n", out, out, out
  if (a - b < min) { printf "demo FAILED: the gain is below %d dB\n", min; exit 1 }
  print "demo OK"
}'
