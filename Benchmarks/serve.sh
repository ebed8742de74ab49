#!/bin/bash
# make bench-serve (issue 17): 200 small images through `irzoo serve`'s API with 8 concurrent
# clients, beside `irzoo run` on the same images, interleaved; throughput, p50/p99 latency and the
# server's peak RSS. Usage: Benchmarks/serve.sh [IRZOO_BIN]. Needs python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
BIN=${1:-$(irzoo_bin)}
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'); flags: $(grep -o -w -E 'avx2|avx512f|avx512bw|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load: $(uptime)"
python3 Benchmarks/serve_bench.py --irzoo "$BIN" --fixtures Tests/Fixtures --images "${SERVE_BENCH_IMAGES:-200}" \
  --clients "${SERVE_BENCH_CLIENTS:-8}" --size "${SERVE_BENCH_SIZE:-64}" --rounds "${SERVE_BENCH_ROUNDS:-2}" --big "${SERVE_BENCH_BIG_MP:-24}"
echo "load: $(uptime)"
