"""Golden fixtures for irzoo's CLIP text encoders (SDXL's text_encoder and text_encoder_2):
tiny random configs built with transformers' CLIPTextModel and CLIPTextModelWithProjection,
fed token ids from transformers' CLIPTokenizer (the real BPE vocabulary, so ids reach 49407 and
the token embedding keeps the full 49408 rows; width 8 keeps the files small).

Writes Tests/Fixtures/models/<case>/:
  clip-text-l-tiny     (CLIP ViT-L/14 text style: quick_gelu, no projection, padded with <|endoftext|>)
    model.safetensors    HF layout as published (`text_model.*`; transformers 5 itself saves
                         CLIPTextModel without that prefix), fp16, plus the int64 `position_ids`
                         buffer older transformers saved
  clip-text-bigg-tiny  (OpenCLIP ViT-bigG/14 text style: gelu, text_projection, padded with "!" = 0)
    model.safetensors    HF layout (`text_model.*`, `text_projection.weight`), fp16
    sgm.safetensors      the same weights as sd_xl_base_1.0.safetensors stores them:
                         `conditioner.embedders.1.model.*` in open_clip naming (fused in_proj,
                         `text_projection` as x @ W, `logit_scale`), fp16
  each with
    config.json          the clip-text config as the registry spells it
    prompts.json         the prompts and their 77 token ids
    penultimate.npy      hidden_states[-2] [B, 77, D] (what SDXL feeds the UNet)
    last.npy             last_hidden_state (after final_layer_norm)
    pooled.npy           pooler_output (the hidden state at the EOS token)
    projected.npy        (bigG only) text_embeds = text_projection(pooled)

Weights are stored in fp16 and the reference runs in fp32 on the fp16-rounded values. Every
parameter is randomised (LayerNorm weights and biases included). The open_clip layout is checked
here against open_clip's own TextTransformer (same pooled projection to 1e-5), so the mapping
the registry applies is the one open_clip implies.

Usage: python Tools/gen_clip_text_goldens.py  (deterministic: fixed seeds)
"""
import importlib
import importlib.util
import json
import os
import sys
import types

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models")

from gen_clip_tokenizer_fixtures import hf_tokenizer  # noqa: E402

PROMPTS = [
    "a photo of a cat",
    "A hazy, low-light photograph of a city at night!!! 😀",
    "masterpiece, best quality, ultra-detailed, photorealistic, 8k uhd, dslr, soft lighting, film grain, "
    "Fujifilm XT3, sharp focus, depth of field, bokeh, cinematic, volumetric lighting, golden hour, "
    "highly detailed skin texture, intricate details, award winning photograph of a red fox in the snow",
]

CASES = [
    # name, config kwargs, projection, pad token
    ("clip-text-l-tiny", dict(hidden_size=8, intermediate_size=16, num_hidden_layers=3, num_attention_heads=2,
                              hidden_act="quick_gelu", eos_token_id=2), False, "<|endoftext|>"),
    ("clip-text-bigg-tiny", dict(hidden_size=8, intermediate_size=32, num_hidden_layers=3, num_attention_heads=2,
                                 hidden_act="gelu", projection_dim=8, eos_token_id=49407), True, "!"),
]


def open_clip_text_transformer():
    """open_clip's TextTransformer without importing the package __init__ (it needs torchvision)."""
    import transformers  # noqa: F401  (imported before the stub: it probes for torchvision)
    root = importlib.util.find_spec("open_clip").submodule_search_locations[0]
    misc = types.ModuleType("torchvision.ops.misc")
    misc.FrozenBatchNorm2d = torch.nn.Module
    ops = types.ModuleType("torchvision.ops")
    ops.misc = misc
    tv = types.ModuleType("torchvision")
    tv.ops = ops
    sys.modules.update({"torchvision": tv, "torchvision.ops": ops, "torchvision.ops.misc": misc})
    pkg = types.ModuleType("open_clip")
    pkg.__path__ = [root]
    sys.modules["open_clip"] = pkg
    return importlib.import_module("open_clip.transformer").TextTransformer


def randomise(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or "final_layer_norm" in name:
                if name.endswith("weight"):
                    p.copy_(torch.rand(p.shape, generator=gen) * 0.8 + 0.6)
                else:
                    p.copy_(torch.rand(p.shape, generator=gen) * 0.6 - 0.3)
            elif "embedding" in name:
                p.copy_(torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.4 - 0.2)
            else:
                bound = 1.5 / p.shape[1] ** 0.5
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
            # The fixture stores fp16: the reference runs on the rounded values.
            p.copy_(p.half().float())


def to_open_clip(sd, n_layers):
    """HF CLIPTextModelWithProjection names -> open_clip TextTransformer names."""
    out = {
        "token_embedding.weight": sd["text_model.embeddings.token_embedding.weight"],
        "positional_embedding": sd["text_model.embeddings.position_embedding.weight"],
        "ln_final.weight": sd["text_model.final_layer_norm.weight"],
        "ln_final.bias": sd["text_model.final_layer_norm.bias"],
        "text_projection": sd["text_projection.weight"].t().contiguous(),
    }
    for i in range(n_layers):
        hf, oc = f"text_model.encoder.layers.{i}.", f"transformer.resblocks.{i}."
        for p in ("weight", "bias"):
            out[oc + f"attn.in_proj_{p}"] = torch.cat([sd[hf + f"self_attn.{x}_proj.{p}"] for x in "qkv"], 0)
            out[oc + f"attn.out_proj.{p}"] = sd[hf + f"self_attn.out_proj.{p}"]
            out[oc + f"ln_1.{p}"] = sd[hf + f"layer_norm1.{p}"]
            out[oc + f"ln_2.{p}"] = sd[hf + f"layer_norm2.{p}"]
            out[oc + f"mlp.c_fc.{p}"] = sd[hf + f"mlp.fc1.{p}"]
            out[oc + f"mlp.c_proj.{p}"] = sd[hf + f"mlp.fc2.{p}"]
    return out


def save(arr, path):
    np.save(path, np.ascontiguousarray(arr.detach().numpy().astype(np.float32)))


def main():
    TextTransformer = open_clip_text_transformer()
    for case, kwargs, projection, pad in CASES:
        d = os.path.join(OUT, case)
        os.makedirs(d, exist_ok=True)
        config = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, layer_norm_eps=1e-5, **kwargs)
        cls = CLIPTextModelWithProjection if projection else CLIPTextModel
        model = cls(config).eval()
        randomise(model, torch.Generator().manual_seed(80 + len(case)))
        ids = torch.tensor(hf_tokenizer(pad)(PROMPTS, padding="max_length", max_length=77, truncation=True)["input_ids"])
        with torch.no_grad():
            out = model(input_ids=ids, output_hidden_states=True)
        save(out.hidden_states[-2], os.path.join(d, "penultimate.npy"))
        save(out.last_hidden_state, os.path.join(d, "last.npy"))
        pooled = out.text_embeds if projection else out.pooler_output
        if projection:
            # text_embeds is the projection of the pooled state; the pooled state itself:
            pooled_raw = out.last_hidden_state[torch.arange(ids.shape[0]), ids.argmax(-1)]
            save(pooled_raw, os.path.join(d, "pooled.npy"))
            save(out.text_embeds, os.path.join(d, "projected.npy"))
        else:
            save(out.pooler_output, os.path.join(d, "pooled.npy"))

        # transformers 5 saves CLIPTextModel without its `text_model.` prefix; published files
        # (diffusers' text_encoder/, SDXL's single file, transformers 4) have it: write that form.
        sd = {(k if k.startswith(("text_model.", "text_projection")) else "text_model." + k): v.detach().half().contiguous()
              for k, v in model.state_dict().items()}
        if not projection:
            # Older transformers saved the position-index buffer; the registry drops it.
            sd["text_model.embeddings.position_ids"] = torch.arange(77, dtype=torch.int64)[None]
        save_file(sd, os.path.join(d, "model.safetensors"))
        if projection:
            oc = to_open_clip({k: v.float() for k, v in sd.items() if v.is_floating_point()}, config.num_hidden_layers)
            ref = TextTransformer(context_length=77, vocab_size=49408, width=config.hidden_size, heads=config.num_attention_heads,
                                  layers=config.num_hidden_layers, mlp_ratio=config.intermediate_size / config.hidden_size,
                                  output_dim=config.projection_dim, act_layer=torch.nn.GELU).eval()
            ref.load_state_dict(oc, strict=True)
            with torch.no_grad():
                gap = (ref(ids) - pooled).abs().max().item()
            assert gap < 1e-5, f"open_clip disagrees with transformers by {gap}"
            print(f"{case}: open_clip TextTransformer matches transformers to {gap:.2e}")
            sgm = {"conditioner.embedders.1.model." + k: v.half().contiguous() for k, v in oc.items()}
            sgm["conditioner.embedders.1.model.logit_scale"] = torch.tensor(4.6052, dtype=torch.float16)
            save_file(sgm, os.path.join(d, "sgm.safetensors"))

        cfg = dict(hidden_size=config.hidden_size, intermediate_size=config.intermediate_size,
                   num_hidden_layers=config.num_hidden_layers, num_attention_heads=config.num_attention_heads,
                   max_position_embeddings=77, vocab_size=49408, hidden_act=config.hidden_act, layer_norm_eps=1e-5,
                   eos_token_id=config.eos_token_id, pad_token=pad)
        if projection:
            cfg["projection_dim"] = config.projection_dim
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
        with open(os.path.join(d, "prompts.json"), "w") as f:
            json.dump(dict(prompts=PROMPTS, ids=ids.tolist()), f, ensure_ascii=True)
        print(f"{case}: {sum(p.numel() for p in model.parameters())} parameters, ids {ids.shape[1]} per prompt, "
              f"EOS at {ids.argmax(-1).tolist()}")


if __name__ == "__main__":
    main()
