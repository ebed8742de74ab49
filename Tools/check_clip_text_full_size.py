"""Full-size check of SDXL's two text encoders (not part of `make test`: 1.6 GB of weights).

Builds transformers' CLIPTextModel (CLIP ViT-L/14) and CLIPTextModelWithProjection (OpenCLIP
bigG/14) at the published sizes with random weights (LayerNorms randomised too), rounds them to
fp16, and writes them the way sd_xl_base_1.0.safetensors stores them (CLIP-L under
conditioner.embedders.0.transformer.text_model.*, bigG in open_clip naming under
conditioner.embedders.1.model.*), with PyTorch's outputs for one prompt and its eager timing:

  OUT/clip_l.safetensors, OUT/bigg.safetensors
  OUT/clip_l_penultimate.npy, OUT/clip_l_pooled.npy, OUT/bigg_penultimate.npy, OUT/bigg_text_embeds.npy

Then import both with `irzoo import FILE --arch clip-vit-l-14-text` / `openclip-vit-bigg-14-text`
(the manifests' configs, no --config) and compare `irzoo run --prompt` (Tools/check_clip_text_full_size.sh).

Usage: python Tools/check_clip_text_full_size.py OUT [THREADS]
"""
import os
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_clip_text_goldens import hf_tokenizer, to_open_clip  # noqa: E402

PROMPT = "a sharp photograph of a red fox in fresh snow at golden hour, highly detailed"


def randomise_norms(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.copy_(torch.rand(p.shape, generator=gen) * 0.8 + 0.6 if name.endswith("weight")
                        else torch.rand(p.shape, generator=gen) * 0.6 - 0.3)
            p.copy_(p.half().float())


def timed(model, ids, repeat=3):
    """The output and the fastest of `repeat` forward passes (as `irzoo run --repeat`)."""
    times = []
    with torch.no_grad():
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = model(input_ids=ids, output_hidden_states=True)
            times.append(time.perf_counter() - t0)
    return out, min(times)


def main():
    out_dir = sys.argv[1]
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    os.makedirs(out_dir, exist_ok=True)
    gen = torch.Generator().manual_seed(8)
    torch.manual_seed(8)

    l14 = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                                       hidden_act="quick_gelu", eos_token_id=2)).eval()
    randomise_norms(l14, gen)
    ids = torch.tensor([hf_tokenizer("<|endoftext|>")(PROMPT, padding="max_length", max_length=77, truncation=True)["input_ids"]])
    out, seconds = timed(l14, ids)
    print(f"CLIP-L PyTorch eager ({torch.get_num_threads()} threads, fastest of 3): {seconds:.3f} s")
    np.save(os.path.join(out_dir, "clip_l_penultimate.npy"), out.hidden_states[-2].numpy())
    np.save(os.path.join(out_dir, "clip_l_pooled.npy"), out.pooler_output.numpy())
    sd = {"conditioner.embedders.0.transformer." + (k if k.startswith("text_model.") else "text_model." + k): v.half().contiguous()
          for k, v in l14.state_dict().items()}
    save_file(sd, os.path.join(out_dir, "clip_l.safetensors"))
    del l14, sd, out

    bigg = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                                                      num_attention_heads=20, hidden_act="gelu", projection_dim=1280,
                                                      eos_token_id=2)).eval()
    randomise_norms(bigg, gen)
    ids = torch.tensor([hf_tokenizer("!")(PROMPT, padding="max_length", max_length=77, truncation=True)["input_ids"]])
    out, seconds = timed(bigg, ids)
    print(f"bigG PyTorch eager ({torch.get_num_threads()} threads, fastest of 3): {seconds:.3f} s")
    np.save(os.path.join(out_dir, "bigg_penultimate.npy"), out.hidden_states[-2].numpy())
    np.save(os.path.join(out_dir, "bigg_text_embeds.npy"), out.text_embeds.numpy())
    oc = to_open_clip(bigg.state_dict(), 32)
    sgm = {"conditioner.embedders.1.model." + k: v.half().contiguous() for k, v in oc.items()}
    sgm["conditioner.embedders.1.model.logit_scale"] = torch.tensor(4.6052)
    save_file(sgm, os.path.join(out_dir, "bigg.safetensors"))


if __name__ == "__main__":
    main()
