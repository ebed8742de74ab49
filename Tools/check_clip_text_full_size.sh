#!/usr/bin/env bash
# Full-size check of SDXL's text encoders through the CLI (not part of `make test`):
#   python Tools/check_clip_text_full_size.py OUT && Tools/check_clip_text_full_size.sh OUT PYTHON
# imports the SDXL-style single files with the manifests' own configs, runs one prompt with 2
# threads (--repeat 3), and prints the max abs error against transformers.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$1
PY=${2:-python3}
BIN=${IRZOO:-.build/release/irzoo}
export IRZOO_HOME=$OUT/home
VOCAB=Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz
PROMPT="a sharp photograph of a red fox in fresh snow at golden hour, highly detailed"
"$BIN" import "$OUT/clip_l.safetensors" --arch clip-vit-l-14-text --name clip-l --vocab "$VOCAB" --replace
"$BIN" import "$OUT/bigg.safetensors" --arch openclip-vit-bigg-14-text --name bigg --vocab "$VOCAB" --replace
"$BIN" run clip-l --prompt "$PROMPT" --output "$OUT/swift_clip_l.npy" --pooled-output "$OUT/swift_clip_l_pooled.npy" --threads 2 --repeat 3
"$BIN" run bigg --prompt "$PROMPT" --output "$OUT/swift_bigg.npy" --pooled-output "$OUT/swift_bigg_embeds.npy" --threads 2 --repeat 3
"$PY" - "$OUT" <<'PYEOF'
import sys, numpy as np
d = sys.argv[1]
for a, b in [("swift_clip_l", "clip_l_penultimate"), ("swift_clip_l_pooled", "clip_l_pooled"),
             ("swift_bigg", "bigg_penultimate"), ("swift_bigg_embeds", "bigg_text_embeds")]:
    x, y = np.load(f"{d}/{a}.npy"), np.load(f"{d}/{b}.npy")
    print(f"{b}: shape {list(x.shape)}, max abs error {np.abs(x - y).max():.3g} (values up to {np.abs(y).max():.3g})")
PYEOF
