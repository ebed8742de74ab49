#!/usr/bin/env bash
# make bench-ops: the runtime's core operators beside PyTorch (torch.set_num_threads(2)), same
# machine, same run. Prints GFLOP/s (and GB/s for the memory-bound ops) and the ratio.
# Prints the machine's measured FMA peak first (Benchmarks/fma_peak.c) and each op's share of it.
# Usage: Benchmarks/ops.sh PYTHON [THREADS] [REPEATS] [ROUNDS]
# ROUNDS > 1 alternates irzoo and PyTorch runs that many times and keeps each op's best (load on a
# shared machine comes and goes). "cpu" columns use process CPU time, steadier under load.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
THREADS=${2:-2}
REPEATS=${3:-10}
ROUNDS=${4:-1}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# SCRATCH=.build-x uses another build folder (the default is SwiftPM's .build).
SCRATCH_ARGS=()
if [ -n "${SCRATCH:-}" ]; then SCRATCH_ARGS=(--scratch-path "$SCRATCH"); fi
swift build -c release "${SCRATCH_ARGS[@]}" --product irzoo-bench >&2
BENCH=$(swift build -c release "${SCRATCH_ARGS[@]}" --show-bin-path)/irzoo-bench

# The machine's FMA peak first (at the SIMD level IRZOO_SIMD selects), on 1 and THREADS threads.
CLANG=${CLANG:-$(command -v clang || echo "$(dirname "$(command -v swift)")/clang")}
"$CLANG" -O2 -pthread Benchmarks/fma_peak.c -o "$OUT/fma_peak" >&2
"$OUT/fma_peak" 1 > "$OUT/peak.jsonl"
if [ "$THREADS" != 1 ]; then "$OUT/fma_peak" "$THREADS" >> "$OUT/peak.jsonl"; fi

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  (numbers are noisy above ~0.5)" >&2
for _ in $(seq "$ROUNDS"); do
    "$BENCH" --threads "$THREADS" --repeat "$REPEATS" >> "$OUT/irzoo.jsonl"
    "$PY" Benchmarks/ops_torch.py "$THREADS" "$REPEATS" >> "$OUT/torch.jsonl"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PY" - "$OUT/irzoo.jsonl" "$OUT/torch.jsonl" "$THREADS" "$OUT/peak.jsonl" <<'PYEOF'
import json, sys
threads = int(sys.argv[3])
peaks = {p["threads"]: p for p in map(json.loads, open(sys.argv[4]))}
for p in peaks.values():
    print(f"FMA peak ({p['level']}, {p['threads']} thread{'s' if p['threads'] > 1 else ''}): {p['gflops']:.1f} GFLOP/s"
          f" (by CPU time: {p['gflops_cpu']:.1f})")
peak = peaks[threads]
def best_of(path):
    rows = {}
    for r in map(json.loads, open(path)):
        old = rows.setdefault(r["op"], r)
        old["seconds"] = min(old["seconds"], r["seconds"])
        old["cpu_seconds"] = min(old.get("cpu_seconds", float("inf")), r.get("cpu_seconds", float("inf")))
    return rows
ours, ref = best_of(sys.argv[1]), best_of(sys.argv[2])
memory_bound = {"depthwise3x3_256_128", "channel_attention_48_256", "window_attention_96_128"}
print(f"{'op':28} {'irzoo GFLOP/s':>14} {'% peak':>7} {'cpu %':>6} {'torch GFLOP/s':>14} {'irzoo GB/s':>11} {'torch GB/s':>11} {'ms irzoo':>9} {'ms torch':>9} {'ratio':>6} {'cpu ratio':>9}")
for op, r in ours.items():
    t = ref.get(op)
    g = r["flops"] / r["seconds"] / 1e9
    # The same rate by process CPU time (per thread-equivalent), against the CPU-time peak.
    gcpu = r["flops"] / (r["cpu_seconds"] / threads) / 1e9
    tg = t["flops"] / t["seconds"] / 1e9 if t else float("nan")
    gb = f"{r['bytes'] / r['seconds'] / 1e9:11.1f}" if op in memory_bound else f"{'':11}"
    tgb = f"{t['bytes'] / t['seconds'] / 1e9:11.1f}" if (op in memory_bound and t) else f"{'':11}"
    ratio = t["seconds"] / r["seconds"] if t else float("nan")
    cratio = t["cpu_seconds"] / r["cpu_seconds"] if t else float("nan")
    print(f"{op:28} {g:14.1f} {100 * g / peak['gflops']:6.0f}% {100 * gcpu / peak['gflops_cpu']:5.0f}% {tg:14.1f} {gb} {tgb} {r['seconds'] * 1e3:9.2f} {t['seconds'] * 1e3 if t else float('nan'):9.2f} {ratio:5.2f}x {cratio:8.2f}x")
print(f"({sys.argv[3]} threads, best of N; ratio = torch time / irzoo time, > 1 means irzoo is faster;")
print(" cpu ratio = the same with process CPU time, which leaves out time spent descheduled;")
print(f" % peak = irzoo GFLOP/s / the {threads}-thread FMA peak; cpu % = the same by CPU time)")
PYEOF
