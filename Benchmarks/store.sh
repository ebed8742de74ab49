#!/usr/bin/env bash
# make bench-store: open time of an 8 GiB .irw and time to its first tensor, verify throughput
# (GB/s, 1 and 2 threads), and the import time of a 1 GiB torch checkpoint beside
# torch.load + safetensors.torch.save_file, in the same run. Warm page cache.
# Usage: Benchmarks/store.sh PYTHON [GIB] [IMPORT_GIB]
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
GIB=${2:-8}
IMPORT_GIB=${3:-1}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-store.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

BIN=$(bin_dir irzoo irzoo-store-bench)
load_note

"$BIN/irzoo-store-bench" "$TMP" "$GIB" 128 > "$TMP/store.jsonl"
rm -f "$TMP/big.irw" "$TMP/small.irw"

"$PY" Benchmarks/make_torch_checkpoint.py "$TMP/ckpt.pth" "$IMPORT_GIB" 64
cat "$TMP/ckpt.pth" > /dev/null
for run in 1 2; do
  rm -rf "$TMP/store"
  IRZOO_HOME="$TMP/store" timed "$TMP/t.import" "$BIN/irzoo" import "$TMP/ckpt.pth" --name bench
  timed "$TMP/t.torch" "$PY" Benchmarks/torch_convert.py "$TMP/ckpt.pth" "$TMP/torch.safetensors"
  "$PY" Benchmarks/torch_convert.py "$TMP/ckpt.pth" "$TMP/torch.safetensors" >> "$TMP/torch.inproc"
  rm -f "$TMP/torch.safetensors"
done
IRZOO_HOME="$TMP/store" timed "$TMP/t.verify" "$BIN/irzoo" verify bench

"$PY" - "$TMP" <<'PYEOF'
import json, sys
tmp = sys.argv[1]
rows = [json.loads(l) for l in open(f"{tmp}/store.jsonl")]
by = {}
for r in rows:
    by.setdefault(r["step"], []).append(r)
w = by["write"][0]
print(f"wrote {w['bytes'] / 2**30:.2f} GiB .irw ({w['tensors']} tensors) in {w['seconds']:.1f} s, fsync included")
big, small = by["open-8GiB"][0], by["open-small"][0]
print(f"open  {big['bytes'] / 2**30:.1f} GiB .irw: {big['median_ms']:.3f} ms (median of 50); "
      f"{small['bytes'] / 2**20:.1f} MiB .irw: {small['median_ms']:.3f} ms")
f = by["first-tensor"][0]
print(f"first tensor ({f['tensor_bytes'] >> 20} MiB): {f['view_ms']:.3f} ms as a zero-copy view, "
      f"{f['verified_ms']:.1f} ms verified (SHA-256) on demand")
for v in by["verify"]:
    print(f"verify, {v['threads']} thread(s): {v['gb_per_s']:.2f} GB/s ({v['bytes'] / 2**30:.1f} GiB in {v['seconds']:.2f} s)")
def best(name):
    return min(tuple(map(float, l.split())) for l in open(f"{tmp}/t.{name}") if l.strip())
ti, ri = best("import")
tt, rt = best("torch")
inproc = min(json.loads(l)["seconds"] for l in open(f"{tmp}/torch.inproc"))
tv, _ = best("verify")
print(f"import 1 GiB torch checkpoint: irzoo import {ti:.2f} s (peak RSS {ri / 1024:.0f} MiB, fsync included); "
      f"torch.load + save_file {tt:.2f} s as a process, {inproc:.2f} s in-process (peak RSS {rt / 1024:.0f} MiB); "
      f"ratio {ti / tt:.2f}x")
print(f"irzoo verify of the imported model: {tv:.2f} s as a process")
PYEOF
