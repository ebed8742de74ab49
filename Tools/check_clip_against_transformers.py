"""Cross-checks our HF-layout CLIP reference (Tools/reference/clip_vision.py) against Hugging Face
transformers itself, on the clip-tiny golden: the same state_dict keys and last_hidden_state.
transformers is not in Tools/requirements.txt; install it aside, e.g.
  .venv/bin/python -m pip install --target /tmp/hflib transformers
  PYTHONPATH=/tmp/hflib .venv/bin/python Tools/check_clip_against_transformers.py
Measured with transformers 5.23.0: max abs difference 4.8e-07 on both golden inputs.
"""
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import CLIPConfig, CLIPModel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
import clip_vision  # noqa: E402

D = os.path.join(HERE, "..", "Tests", "Fixtures", "models", "clip-tiny")


def main():
    t = clip_vision.tiny_config()
    cfg = CLIPConfig(
        text_config=dict(hidden_size=t.text_hidden, intermediate_size=4 * t.text_hidden, num_hidden_layers=t.text_layers,
                         num_attention_heads=t.text_heads, vocab_size=t.vocab, max_position_embeddings=t.context,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(hidden_size=t.hidden, intermediate_size=t.mlp, num_hidden_layers=t.layers, num_attention_heads=t.heads,
                           patch_size=t.patch, image_size=t.image_size, hidden_act="quick_gelu", layer_norm_eps=1e-5),
        projection_dim=t.projection)
    model = CLIPModel(cfg).eval()
    sd = load_file(os.path.join(D, "model.safetensors"))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    legacy = {"text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"}
    assert not missing and set(unexpected) <= legacy, (missing, unexpected)
    worst = 0.0
    for tag in "ab":
        pixels = torch.from_numpy(np.load(os.path.join(D, f"pixels-{tag}.npy")))
        with torch.no_grad():
            got = model.vision_model(pixel_values=pixels).last_hidden_state.numpy()
        worst = max(worst, float(np.abs(got - np.load(os.path.join(D, f"hidden-{tag}.npy"))).max()))
    print(f"transformers CLIPVisionTransformer vs our reference: max abs difference {worst:.1e}")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
