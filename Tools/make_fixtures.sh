#!/usr/bin/env bash
# Regenerates every committed fixture and golden from PyTorch: each Tools/gen_*.py in turn.
# Usage: Tools/make_fixtures.sh PYTHON
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
for script in Tools/gen_*.py; do
  echo "== $script"
  "$PY" "$script"
done
