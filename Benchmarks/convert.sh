#!/usr/bin/env bash
# make bench-convert: converts a generated >= 1 GiB f32 torch.save checkpoint with irzoo (to
# .safetensors and to .irw) and prints time and peak RSS beside torch.load + save_file and `cp`
# on the same file, in the same run (RUNS interleaved rounds, warm page cache for everyone;
# best and range). irzoo is timed with its fsync (durable, as shipped) and with --no-fsync,
# beside `cp` (no sync) and `cp && sync`: compare like with like.
# Targets (issue 2): time <= 0.5x torch, <= 1.5x cp; peak RSS <= largest tensor + 64 MiB.
# Usage: Benchmarks/convert.sh PYTHON [GIB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
GIB=${2:-1}
RUNS=${3:-2}
TENSOR_MIB=64
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-convert.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

IRZOO=$(bin_dir irzoo)/irzoo
"$PY" Benchmarks/make_torch_checkpoint.py "$TMP/ckpt.pth" "$GIB" "$TENSOR_MIB"
cat "$TMP/ckpt.pth" > /dev/null # into the page cache, for every contender alike
load_note

for run in $(seq "$RUNS"); do
  timed "$TMP/t.safetensors" "$IRZOO" convert "$TMP/ckpt.pth" -o "$TMP/out.safetensors"; rm -f "$TMP/out.safetensors"
  timed "$TMP/t.nofsync" "$IRZOO" convert --no-fsync "$TMP/ckpt.pth" -o "$TMP/out.safetensors"; rm -f "$TMP/out.safetensors"
  timed "$TMP/t.irw" "$IRZOO" convert "$TMP/ckpt.pth" -o "$TMP/out.irw"; rm -f "$TMP/out.irw"
  timed "$TMP/t.torch" "$PY" Benchmarks/torch_convert.py "$TMP/ckpt.pth" "$TMP/torch.safetensors"
  "$PY" Benchmarks/torch_convert.py "$TMP/ckpt.pth" "$TMP/torch.safetensors" >> "$TMP/torch.inproc"; rm -f "$TMP/torch.safetensors"
  timed "$TMP/t.cp" cp "$TMP/ckpt.pth" "$TMP/copy.pth"; rm -f "$TMP/copy.pth"
  timed "$TMP/t.cpsync" sh -c 'cp "$0" "$1" && sync "$1"' "$TMP/ckpt.pth" "$TMP/copy.pth"; rm -f "$TMP/copy.pth"
done

"$PY" - "$TMP" "$(stat -c %s "$TMP/ckpt.pth")" "$TENSOR_MIB" <<'PYEOF'
import json, sys
tmp, size, tensor_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def rows(name):
    return [tuple(map(float, l.split())) for l in open(f"{tmp}/t.{name}") if l.strip()]
def best(name):
    return min(rows(name))
torch_inproc = min(json.loads(l)["seconds"] for l in open(f"{tmp}/torch.inproc"))
t_torch, _ = best("torch")
t_cp, _ = best("cp")
print(f"input: {size / 2**30:.2f} GiB torch.save zip, f32 tensors of {tensor_mib} MiB (largest)")
t_cpsync, _ = best("cpsync")
print(f"{'contender':42} {'best s':>7} {'range s':>11} {'peak RSS':>10} {'vs torch':>9} {'vs cp':>6} {'vs cp+sync':>10}")
for name, label in [("safetensors", "irzoo convert -o .safetensors (fsync)"), ("nofsync", "irzoo convert -o .safetensors --no-fsync"),
                    ("irw", "irzoo convert -o .irw (fsync)"),
                    ("torch", "torch.load + save_file (process)"), ("cp", "cp"), ("cpsync", "cp + sync")]:
    t, rss = best(name)
    ts = [r[0] for r in rows(name)]
    print(f"{label:42} {t:7.2f} {min(ts):5.2f}-{max(ts):<5.2f} {rss / 1024:6.0f} MiB {t / t_torch:8.2f}x {t / t_cp:5.2f}x {t / t_cpsync:9.2f}x")
print(f"{'torch.load + save_file (in-process)':38} {torch_inproc:8.2f}")
print(f"targets: time <= 0.5x torch and <= 1.5x cp; peak RSS <= {tensor_mib + 64} MiB (largest tensor + 64 MiB)")
PYEOF
