"""A tiny SDXL pipeline folder (issue 14, "whole pipelines"), written by diffusers' own
StableDiffusionXLPipeline.save_pretrained, and goldens from the same objects.

The parts are the tiny networks of the golden fixtures, consistent with each other (the UNet's
cross-attention width 24 = 8 + 16, its text_embeds width 16 = text_encoder_2's projection):
  unet/            UNet2DConditionModel with the weights of models/sdxl-unet-tiny/diffusers.safetensors
  vae/             AutoencoderKL with the weights of models/sdxl-vae-tiny/diffusers.safetensors
  text_encoder/    CLIPTextModel, vocabulary 1000, hidden 8 (random weights, seed 1)
  text_encoder_2/  CLIPTextModelWithProjection, vocabulary 1000, hidden 16, projection 16 (seed 2)
  tokenizer/, tokenizer_2/   CLIPTokenizer over a 1000-symbol vocabulary built as CLIP builds its
                   own (256 byte symbols, the same with </w>, one per merge, then
                   <|startoftext|> 998 and <|endoftext|> 999) from the first 486 merges of
                   open_clip's BPE file; tokenizer_2 pads with "!" as SDXL's does.
                   transformers 5 saves tokenizer.json only: tokenizer_2/ keeps that layout, and
                   tokenizer/ is rewritten in the layout of the hub's SDXL folders (vocab.json,
                   merges.txt "#version: 0.2" + one merge a line, special_tokens_map.json,
                   tokenizer_config.json), which transformers 4 wrote
  scheduler/       EulerDiscreteScheduler with SDXL base's published scheduler_config.json values
Writes Tests/Fixtures/hub/sdxl-pipeline/ (about 1.2 MB) and beside it:
  sdxl-pipeline.goldens.json
    tokens:    per prompt, transformers' input_ids as the pipeline asks for them
               (padding="max_length", max_length 77, truncation) from tokenizer and tokenizer_2
    schedules: per step count and spacing, diffusers' timesteps, sigmas and init_noise_sigma
  sdxl-pipeline-text/      for PROMPT: hidden_states[-2] of text_encoder (penultimate.npy) and of
                           text_encoder_2 (penultimate_2.npy), and text_encoder_2's text_embeds
                           (text_embeds_2.npy), each from the ids of its own tokenizer

Usage: .venv/bin/python Tools/gen_pipeline_folder.py  (deterministic: fixed seeds)
"""
import gzip
import importlib.util
import json
import os
import shutil
import sys

import numpy as np
import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
FIX = os.path.join(HERE, "..", "Tests", "Fixtures")
OUT = os.path.join(FIX, "hub", "sdxl-pipeline")
GOLDENS = os.path.join(FIX, "hub", "sdxl-pipeline.goldens.json")
TEXT = os.path.join(FIX, "hub", "sdxl-pipeline-text")
PROMPT = "a photo of a cat, high quality"

OPEN_CLIP = importlib.util.find_spec("open_clip").submodule_search_locations[0]
_spec = importlib.util.spec_from_file_location("open_clip_tokenizer", os.path.join(OPEN_CLIP, "tokenizer.py"))
_tok = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tok)
BPE = os.path.join(FIX, "tokenizer", "bpe_simple_vocab_16e6.txt.gz")
MERGES = 486  # 512 byte symbols + 486 merges + 2 specials = 1000

SDXL_SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                      timestep_spacing="leading", steps_offset=1, prediction_type="epsilon",
                      interpolation_type="linear", use_karras_sigmas=False, clip_sample=False, sample_max_value=1.0,
                      set_alpha_to_one=False, skip_prk_steps=True)

PROMPTS = ["", "a", "a photo of a cat", "A Photo Of A CAT!!!", "high quality, detailed, 8k, sharp focus",
           "remove the rain streaks from this image", "it's", "we're they've I'm you'll he'd don't",
           "3.14159", "$1,000,000.00", "café", "naïve résumé", "Привет, мир!", "你好，世界", "😀 I ❤️ NY",
           "tab\tseparated\tvalues", "<|startoftext|>a<|endoftext|>", " ".join(["word"] * 100)]


def tokenizer(pad_token):
    from transformers import CLIPTokenizer
    lines = gzip.open(BPE).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:1 + MERGES]]
    symbols = list(_tok.bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 1000
    return CLIPTokenizer(vocab={s: i for i, s in enumerate(vocab)}, merges=merges, pad_token=pad_token), vocab, merges


def hub_tokenizer_layout(folder, vocab, merges, pad_token):
    """tokenizer/ as stabilityai/stable-diffusion-xl-base-1.0 ships it (transformers 4's files)."""
    os.remove(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({s: i for i, s in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    token = lambda s: {"content": s, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    special = {"bos_token": token("<|startoftext|>"), "eos_token": token("<|endoftext|>"),
               "pad_token": pad_token, "unk_token": token("<|endoftext|>")}
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)


def text_encoders():
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
    common = dict(vocab_size=1000, intermediate_size=16, num_hidden_layers=3, num_attention_heads=2,
                  max_position_embeddings=77, layer_norm_eps=1e-5, bos_token_id=998, eos_token_id=999, pad_token_id=999)
    torch.manual_seed(1)
    te = CLIPTextModel(CLIPTextConfig(hidden_size=8, hidden_act="quick_gelu", **common)).eval()
    torch.manual_seed(2)
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=16, projection_dim=16, hidden_act="gelu", **common)).eval()
    return te, te2


def unet():
    from diffusers import UNet2DConditionModel
    from gen_sdxl_unet_goldens import CONFIG, EXTRA
    model = UNet2DConditionModel(**CONFIG, **EXTRA).eval()
    missing, unexpected = model.load_state_dict(load_file(os.path.join(FIX, "models", "sdxl-unet-tiny", "diffusers.safetensors")), strict=True)
    assert not missing and not unexpected
    return model


def schedules(scheduler_config):
    from diffusers import EulerDiscreteScheduler
    out = []
    for spacing in ("leading", "trailing", "linspace"):
        for steps in (20, 7):
            s = EulerDiscreteScheduler.from_config({**scheduler_config, "timestep_spacing": spacing})
            s.set_timesteps(steps)
            out.append({"spacing": spacing, "steps": steps, "timesteps": [float(t) for t in s.timesteps],
                        "sigmas": [float(x) for x in s.sigmas], "init_noise_sigma": float(s.init_noise_sigma)})
    return out


def main():
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    te, te2 = text_encoders()
    (tok, vocab, merges), (tok2, _, _) = tokenizer("<|endoftext|>"), tokenizer("!")
    scheduler = EulerDiscreteScheduler(**{k: v for k, v in SDXL_SCHEDULER.items()
                                          if k not in ("clip_sample", "sample_max_value", "set_alpha_to_one", "skip_prk_steps")})
    from gen_hub_folders import tiny_vae
    pipe = StableDiffusionXLPipeline(vae=tiny_vae(), text_encoder=te, text_encoder_2=te2, tokenizer=tok, tokenizer_2=tok2,
                                     unet=unet(), scheduler=scheduler)
    shutil.rmtree(OUT, ignore_errors=True)
    pipe.save_pretrained(OUT)
    hub_tokenizer_layout(os.path.join(OUT, "tokenizer"), vocab, merges, "<|endoftext|>")
    # Goldens from the saved folder, as a user's transformers and diffusers would load it.
    from transformers import CLIPTokenizer
    loaded = [CLIPTokenizer.from_pretrained(os.path.join(OUT, d)) for d in ("tokenizer", "tokenizer_2")]
    tokens = [{"text": p, "tokenizer": loaded[0](p, padding="max_length", max_length=77, truncation=True).input_ids,
               "tokenizer_2": loaded[1](p, padding="max_length", max_length=77, truncation=True).input_ids}
              for p in PROMPTS]
    config = json.load(open(os.path.join(OUT, "scheduler", "scheduler_config.json")))
    with open(GOLDENS, "w") as f:  # one entry a line
        rows = lambda items: ",\n".join("  " + json.dumps(x, ensure_ascii=False) for x in items)
        f.write('{"tokens": [\n' + rows(tokens) + '\n],\n"schedules": [\n' + rows(schedules(config)) + "\n]}\n")
    with torch.no_grad():
        ids = [torch.tensor([t(PROMPT, padding="max_length", max_length=77, truncation=True).input_ids]) for t in loaded]
        out1 = te(ids[0], output_hidden_states=True)
        out2 = te2(ids[1], output_hidden_states=True)
    shutil.rmtree(TEXT, ignore_errors=True)
    os.makedirs(TEXT)
    for name, value in (("penultimate", out1.hidden_states[-2]), ("penultimate_2", out2.hidden_states[-2]),
                        ("text_embeds_2", out2.text_embeds)):
        np.save(os.path.join(TEXT, name + ".npy"), value.numpy().astype(np.float32))
    total = 0
    for root, _, files in os.walk(OUT):
        for name in sorted(files):
            size = os.path.getsize(os.path.join(root, name))
            total += size
            print(os.path.relpath(os.path.join(root, name), OUT), size)
    print("total", total)


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
