#!/usr/bin/env bash
# make bench-unirestorer (issue 7): UniRestorer at the released size (1.13 G parameters, a 4.5 GB
# model.pth of seeded random weights) on a SIDExSIDE image (512). RUNS interleaved rounds of
# `irzoo run` routed, `irzoo run --expert` (the routed expert alone; the difference is the router's
# share) and PyTorch eager (THREADS threads, router and expert timed apart), each in a process of
# its own with its peak RSS; each keeps its best round. The lazily loaded run's RSS is set beside
# the whole model: the `.irw` size (what a loader building every expert would hold in weights) and
# PyTorch's RSS (it loads the whole model). Needs ~10 GB of disk and ~10 GB of memory.
# Usage: Benchmarks/unirestorer.sh PYTHON [THREADS] [SIDE] [RUNS]   (IRZOO_BIN=path skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
THREADS=${2:-2}
SIDE=${3:-512}
RUNS=${4:-3}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-unirestorer.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
IRZOO_BIN=$(irzoo_bin)
export IRZOO_HOME="$TMP/home"
load_note
/usr/bin/time -f 'prepare (PyTorch build + save): %e s, peak RSS %M KiB' "$PY" Benchmarks/models_unirestorer.py prepare "$TMP" "$SIDE"
ls -l "$TMP/model.pth" | awk '{print "model.pth: " $5 " bytes"}'
/usr/bin/time -f 'irzoo import: %e s, peak RSS %M KiB' "$IRZOO_BIN" import "$TMP/model.pth" --arch unirestorer --name uni | head -1
"$IRZOO_BIN" show uni | grep -E "blob size|parameters"

# Rounds interleave the contenders, so a load change on the shared machine hits them alike.
for run in $(seq "$RUNS"); do
  wait_for_memory 6
  /usr/bin/time -f '%e %M' -a -o "$TMP/time.routed" "$IRZOO_BIN" run uni --threads "$THREADS" \
    --input "$TMP/input.npy" --output "$TMP/out.npy" --json > "$TMP/routed.$run.json"
  POOL=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['routing'][0]['expert'])" "$TMP/routed.$run.json")
  /usr/bin/time -f '%e %M' -a -o "$TMP/time.forced" "$IRZOO_BIN" run uni --threads "$THREADS" \
    --input "$TMP/input.npy" --output "$TMP/out2.npy" --expert "$POOL" --json > "$TMP/forced.$run.json"
  wait_for_memory 10
  /usr/bin/time -f '%e %M' -a -o "$TMP/time.torch" "$PY" Benchmarks/models_unirestorer.py torch "$TMP" "$THREADS" > "$TMP/torch.$run.json"
  echo "round $run done, load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
BLOB=$("$IRZOO_BIN" show uni | awk '/blob size/ {gsub(",", "", $3); print $3}')
"$PY" - "$TMP" "$RUNS" "$THREADS" "$SIDE" "$BLOB" <<'PYEOF'
import json, sys, os
d, runs, threads, side, blob = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
def rows(name): return [tuple(map(float, l.split())) for l in open(os.path.join(d, "time." + name))]
def js(name): return [json.load(open(os.path.join(d, f"{name}.{i}.json"))) for i in range(1, runs + 1)]
routed, forced, torch = js("routed"), js("forced"), js("torch")
r = routed[0]["routing"][0]
print(f"route: leaf {r['leaf']}, level {r['level']} -> expert {r['expert']} ({r['module']}, {r['expert_family']}); PyTorch: pool {torch[0]['pool']}")
rng = lambda xs: f"{min(xs):.2f}-{max(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"
gib = lambda kib: f"{kib / 2**20:.2f} GiB"
ir = [j["seconds"] for j in routed]; irf = [j["seconds"] for j in forced]
tt = [j["seconds"] for j in torch]; tr = [j["router_seconds"] for j in torch]; te = [j["expert_seconds"] for j in torch]
print(f"{side}x{side}, {threads} threads, best of {runs} interleaved rounds (range over rounds):")
print(f"  irzoo routed forward {min(ir):.2f} s ({rng(ir)}), peak RSS {gib(max(x[1] for x in rows('routed')))}")
print(f"  irzoo --expert forward {min(irf):.2f} s ({rng(irf)}), peak RSS {gib(max(x[1] for x in rows('forced')))}")
print(f"  irzoo router share ~ routed - forced: best {min(ir) - min(irf):.2f} s, per round {', '.join(f'{a - b:.2f}' for a, b in zip(ir, irf))} s")
print(f"  PyTorch total {min(tt):.2f} s ({rng(tt)}): router {min(tr):.2f} s ({rng(tr)}), expert {min(te):.2f} s ({rng(te)}); "
      f"router share {min(tr) / min(tt) * 100:.1f}%; peak RSS {gib(max(x[1] for x in rows('torch')))} (whole model loaded)")
print(f"  irzoo / PyTorch time: {min(ir) / min(tt):.3f} (PyTorch / irzoo {min(tt) / min(ir):.2f}x)")
print(f"  lazy vs whole model: the routed run's peak RSS {gib(max(x[1] for x in rows('routed')))} (router + one expert + activations); "
      f"the whole model's weights {blob / 2**30:.2f} GiB (.irw); PyTorch with the whole model {gib(max(x[1] for x in rows('torch')))}")
PYEOF
