#!/usr/bin/env bash
# make bench-batch (issue 13): a folder of N (default 50) noisy 1-megapixel JPEGs through the
# demo SymUNet with `irzoo run --input DIR --output DIR`, beside a PyTorch loop doing the same
# decode (PIL), forward and encode (PIL, JPEG 95 4:4:4) on THREADS threads, in the same run,
# RUNS interleaved rounds: images per second and peak RSS of each whole process. irzoo also runs
# on the first 10 images alone, to show its peak RSS does not grow with the number of images.
# Then (BIG=0 skips it: it takes about an hour on 2 cores) one 24-megapixel JPEG through SymUNet
# w48 (random weights) with the automatic tiling under the default --max-memory: time and peak RSS.
# Usage: Benchmarks/batch.sh PYTHON [THREADS] [RUNS] [N]   (IRZOO_BIN=path skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
THREADS=${2:-2}
RUNS=${3:-1}
N=${4:-50}
BIG=${BIG:-1}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-batch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

IRZOO=$(irzoo_bin)
export IRZOO_HOME="$TMP/home"
"$IRZOO" import Zoo/demo/symunet-demo.pth --arch symunet-demo --name symunet-demo >&2
"$PY" Benchmarks/batch_torch.py prepare "$TMP" "$N" 1152 864
mkdir -p "$TMP/few"
for f in $(ls "$TMP/in" | head -10); do cp "$TMP/in/$f" "$TMP/few/"; done
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); $(grep -o -w 'avx2\|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')"
load_note

for run in $(seq "$RUNS"); do
  rm -rf "$TMP/out-irzoo" "$TMP/out-few" "$TMP/out-torch"
  /usr/bin/time -f '%e %M' -a -o "$TMP/time.irzoo" "$IRZOO" run symunet-demo --threads "$THREADS" \
    --input "$TMP/in" --output "$TMP/out-irzoo" --json >> "$TMP/irzoo.jsonl"
  /usr/bin/time -f '%e %M' -a -o "$TMP/time.torch" "$PY" Benchmarks/batch_torch.py torch "$TMP" "$THREADS" >> "$TMP/torch.jsonl"
  /usr/bin/time -f '%e %M' -a -o "$TMP/time.irzoo.few" "$IRZOO" run symunet-demo --threads "$THREADS" \
    --input "$TMP/few" --output "$TMP/out-few" --json > /dev/null
done
load_note

if [ "$BIG" != 0 ]; then
  "$PY" Benchmarks/batch_torch.py prepare "$TMP" 1 0 0
  "$PY" Benchmarks/batch_torch.py w48 "$TMP"
  "$IRZOO" import "$TMP/symunet-w48.pth" --arch symunet --name w48 >&2
  /usr/bin/time -f '%e %M' -a -o "$TMP/time.irzoo.big" "$IRZOO" run w48 --threads "$THREADS" \
    --input "$TMP/big" --output "$TMP/out-big" --json >> "$TMP/irzoo.big.jsonl"
  load_note
fi
"$PY" Benchmarks/batch_torch.py report "$TMP"
