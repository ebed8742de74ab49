#!/usr/bin/env bash
# UniRestorer at the released size (1.13 G parameters, a 4.5 GB model.pth of seeded random
# weights) on a SIDExSIDE image (512): `irzoo import`, then `irzoo run` with natural routing and
# with the same expert forced (the difference is the router's share), beside PyTorch eager
# (THREADS threads, router and expert timed apart), each with its peak RSS; the .irw size is the
# whole model a non-lazy loader would hold. Needs ~10 GB of disk and ~6 GB of memory.
# Usage: Benchmarks/unirestorer.sh PYTHON [THREADS] [SIDE]   (IRZOO_BIN=path skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
PY=${1:-python3}
THREADS=${2:-2}
SIDE=${3:-512}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-unirestorer.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
if [ -z "${IRZOO_BIN:-}" ]; then
  swift build -c release --product irzoo >&2
  IRZOO_BIN=$(swift build -c release --show-bin-path)/irzoo
fi
export IRZOO_HOME="$TMP/home"
load_note
/usr/bin/time -f 'prepare (PyTorch build + save): %e s, peak RSS %M KiB' "$PY" Benchmarks/models_unirestorer.py prepare "$TMP" "$SIDE"
ls -l "$TMP/model.pth" | awk '{print "model.pth: " $5 " bytes"}'
/usr/bin/time -f 'irzoo import: %e s, peak RSS %M KiB' "$IRZOO_BIN" import "$TMP/model.pth" --arch unirestorer --name uni | head -1
"$IRZOO_BIN" show uni | grep -E "blob size|parameters"
/usr/bin/time -f 'irzoo run (routed): %e s wall, peak RSS %M KiB' "$IRZOO_BIN" run uni --threads "$THREADS" \
  --input "$TMP/input.npy" --output "$TMP/out.npy" --json > "$TMP/routed.json"
POOL=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['routing'][0]['expert'])" "$TMP/routed.json")
/usr/bin/time -f "irzoo run (--expert $POOL): %e s wall, peak RSS %M KiB" "$IRZOO_BIN" run uni --threads "$THREADS" \
  --input "$TMP/input.npy" --output "$TMP/out2.npy" --expert "$POOL" --json > "$TMP/forced.json"
/usr/bin/time -f 'PyTorch eager: %e s wall, peak RSS %M KiB' "$PY" Benchmarks/models_unirestorer.py torch "$TMP" "$THREADS" > "$TMP/torch.json"
"$PY" - "$TMP" <<'PYEOF'
import json, sys, os
d = sys.argv[1]
routed, forced, torch = (json.load(open(os.path.join(d, f))) for f in ("routed.json", "forced.json", "torch.json"))
r = routed["routing"][0]
print(f"route: leaf {r['leaf']}, level {r['level']} -> expert {r['expert']} ({r['module']}, {r['expert_family']}); PyTorch: pool {torch['pool']}")
print(f"irzoo forward: routed {routed['seconds']:.2f} s, expert alone {forced['seconds']:.2f} s, router ~{routed['seconds'] - forced['seconds']:.2f} s")
print(f"PyTorch forward: router {torch['router_seconds']:.2f} s, expert {torch['expert_seconds']:.2f} s, total {torch['seconds']:.2f} s")
PYEOF
