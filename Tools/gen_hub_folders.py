"""Hub-folder fixtures (issue 14): the tiny SDXL VAE and CLIP text encoder of the golden
fixtures, written by diffusers' and transformers' own `save_pretrained`, so the folders have
exactly the layout the hubs hand out (config.json, shard index, variant names).

Writes Tests/Fixtures/hub/:
  sdxl-vae/          AutoencoderKL with the weights of models/sdxl-vae-tiny/diffusers.safetensors:
                     full precision in shards (max_shard_size forces 3) with
                     diffusion_pytorch_model.safetensors.index.json, and variant="fp16" beside it
                     (the same module .half(), one file). The goldens are models/sdxl-vae-tiny's.
  sdxl-vae-bin/      the fp16 variant above as PyTorch pickle shards (safe_serialization=False):
                     diffusion_pytorch_model.fp16-0000N-of-0000M.bin + its .bin.index.fp16.json.
  clip-text/         a CLIPTextModel (vocabulary 1000, seed 0) in safetensors shards with
                     model.safetensors.index.json (transformers 5 writes safetensors only).

Usage: .venv/bin/python Tools/gen_hub_folders.py  (deterministic: the weights are the fixtures')
"""
import json
import os
import shutil

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "Tests", "Fixtures")
OUT = os.path.join(FIX, "hub")


def fresh(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def tiny_vae():
    """The AutoencoderKL of models/sdxl-vae-tiny (also the tiny pipeline's, Tools/gen_pipeline_folder.py)."""
    from diffusers import AutoencoderKL
    src = os.path.join(FIX, "models", "sdxl-vae-tiny")
    cfg = json.load(open(os.path.join(src, "config.json")))
    model = AutoencoderKL(down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                          sample_size=32, **cfg).eval()
    missing, unexpected = model.load_state_dict(load_file(os.path.join(src, "diffusers.safetensors")), strict=True)
    assert not missing and not unexpected
    return model


def vae():
    model = tiny_vae()
    d = fresh("sdxl-vae")
    model.save_pretrained(d, max_shard_size="200KB")
    model.half().save_pretrained(d, variant="fp16")
    return d


def vae_bin():
    """The same VAE in fp16 as PyTorch pickles, sharded: what diffusers writes without safetensors."""
    from diffusers import AutoencoderKL
    model = AutoencoderKL.from_pretrained(os.path.join(OUT, "sdxl-vae"), variant="fp16", torch_dtype=torch.float16)
    d = fresh("sdxl-vae-bin")
    model.save_pretrained(d, variant="fp16", max_shard_size="100KB", safe_serialization=False)
    return d


def clip_text():
    """A CLIP text encoder with a small vocabulary (random weights, seed 0), in safetensors shards."""
    from transformers import CLIPTextConfig, CLIPTextModel
    torch.manual_seed(0)
    config = CLIPTextConfig(vocab_size=1000, hidden_size=8, intermediate_size=16, num_hidden_layers=3,
                            num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                            layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2, pad_token_id=1)
    model = CLIPTextModel(config).eval()
    d = fresh("clip-text")
    model.save_pretrained(d, max_shard_size="20KB")
    return d


if __name__ == "__main__":
    torch.manual_seed(0)
    for d in (vae(), vae_bin(), clip_text()):
        print(d)
        for f in sorted(os.listdir(d)):
            print("  ", f, os.path.getsize(os.path.join(d, f)))
