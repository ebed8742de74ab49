"""Writes tiny SymUNet, SE-SymUNet and CLIP cases (checkpoint in the upstream container, input,
PyTorch's output) built from our reference modules in Tools/reference/, for checking the Swift
models while the committed goldens (Tools/gen_model_goldens.py) are not there, and for
regenerating a case by hand when a model changes.

Every case folder holds:
  config.json           irzoo's config for the model (the family's JSON, as in Zoo/*.json)
  model.pth / *.safetensors / *.pt   the weights in the upstream container
  input*.npy            float32 NCHW input in [0, 1]
  output*.npy           PyTorch's output (fp32, CPU)
and for SE-SymUNet an aux.npz holding the eight pos_embeds keyed by module path.

Usage: python Tools/check_models_against_torch.py [OUT_DIR]   (default /tmp/irzoo-model-check)
The Swift golden tests read such folders (IRZOO_MODEL_CASES=OUT_DIR points them here).
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
from clip_vision import (HFCLIPModel, OpenAICLIP, clip_preprocess, clip_resize_size,  # noqa: E402
                         hf_to_openai_state_dict, tiny_config)
from symunet import SESymUNet, SymUNet  # noqa: E402

TINY_SYMUNET = dict(img_channel=3, width=8, enc_blk_nums=[1, 1, 1], middle_blk_num=1, dec_blk_nums=[1, 1, 1],
                    restormer_heads=[1, 2, 4], restormer_middle_heads=8, ffn_expansion_factor=2.66, bias=False,
                    LayerNorm_type="WithBias")
TINY_SE = dict(TINY_SYMUNET, cross_attn_inner_dims=[32, 32, 32], middle_cross_attn_inner_dim=32,
               cross_attn_heads=[1, 2, 4], middle_cross_attn_heads=8, patch_sizes=[4, 4, 4], middle_patch_size=2)


def perturb(module, gen):
    """Moves every parameter away from its default so that norms, temperatures and alphas matter."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if name.endswith("temperature"):
                p.copy_(torch.rand(p.shape, generator=gen) * 1.5 + 0.5)
            elif leaf == "alpha":
                p.fill_(float(torch.rand((), generator=gen)) * 0.4 + 0.2)
            elif ("norm" in name or "layrnorm" in name or "layer_norm" in name) and leaf == "weight" and p.dim() == 1:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif ("norm" in name or "layrnorm" in name or "layer_norm" in name) and leaf == "bias":
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif leaf == "bias":
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))


def save_npy(path, t):
    np.save(path, t.detach().to(torch.float32).contiguous().numpy())


def clip_config_json(cfg, projection=True):
    out = dict(hidden_size=cfg.hidden, intermediate_size=cfg.mlp, num_hidden_layers=cfg.layers,
               num_attention_heads=cfg.heads, patch_size=cfg.patch, image_size=cfg.image_size, num_channels=3,
               layer_norm_eps=1e-5, hidden_act="quick_gelu")
    if projection:
        out["projection_dim"] = cfg.projection
    return out


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def symunet_case(out):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    net = SymUNet(**TINY_SYMUNET).eval()
    perturb(net, gen)
    torch.save({"params": net.state_dict()}, os.path.join(out, "model.pth"))
    x = torch.rand(1, 3, 37, 45, generator=gen)
    with torch.no_grad():
        y = net(x)
    save_npy(os.path.join(out, "input.npy"), x)
    save_npy(os.path.join(out, "output.npy"), y)
    write_json(os.path.join(out, "config.json"), TINY_SYMUNET)


def se_symunet_case(out):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(2)
    cfg = tiny_config()
    clip = HFCLIPModel(cfg).eval()
    net = SESymUNet(clip, **TINY_SE).eval()
    perturb(net, gen)
    # Saved before any forward, as a GPU-trained upstream checkpoint: no pos_embed keys.
    torch.save({"params": net.state_dict()}, os.path.join(out, "model.pth"))
    x = torch.rand(1, 3, 37, 45, generator=gen)
    with torch.no_grad():
        torch.manual_seed(3)
        y = net(x)  # draws the eight pos_embeds
        y2 = net(x)  # reuses them
    assert torch.equal(y, y2)
    aux = {f"{path}.pos_embed": m.pos_embed.detach().numpy().astype(np.float32) for path, m in net.guidance_modules()}
    np.savez(os.path.join(out, "aux.npz"), **aux)
    with torch.no_grad():
        z = net.clip_features(x)
    save_npy(os.path.join(out, "input.npy"), x)
    save_npy(os.path.join(out, "output.npy"), y)
    save_npy(os.path.join(out, "clip_tokens.npy"), z)
    write_json(os.path.join(out, "config.json"),
               dict(TINY_SE, clip=clip_config_json(cfg, projection=False), pos_embed_default="seeded-normal",
                    pos_embed_seed=0))


def quirk_square_side(size):
    """The smallest square side whose resize gives size-1 rows (the truncation quirk)."""
    for s in range(size + 1, 4 * size):
        if clip_resize_size(s, s, size) != (size, size):
            return s
    raise RuntimeError("no quirk side")


def clip_case(out):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(4)
    cfg = tiny_config()
    hf = HFCLIPModel(cfg).eval()
    perturb(hf, gen)
    sd = {k: v.contiguous() for k, v in hf.state_dict().items()}
    save_file(sd, os.path.join(out, "hf.safetensors"))

    # OpenAI layout: the same vision weights, fused q|k|v, visual.proj = projection.T, conv/linear
    # weights in fp16 as OpenAI's convert_weights leaves them; traced and saved as TorchScript.
    oa = OpenAICLIP(cfg).eval()
    osd = oa.state_dict()
    osd.update(hf_to_openai_state_dict(sd, cfg.layers))
    oa.load_state_dict(osd)
    traced = torch.jit.trace(oa, torch.zeros(1, 3, cfg.image_size, cfg.image_size))
    with torch.no_grad():
        for name, p in traced.named_parameters():
            if is_openai_half(name):
                p.data = p.data.half()
    torch.jit.save(traced, os.path.join(out, "openai.pt"))
    # The fp16-rounded weights, as fp32, in an HF model: what the OpenAI file holds, computed in fp32.
    rounded = HFCLIPModel(cfg).eval()
    rsd = dict(sd)
    for k, v in sd.items():
        if k.startswith("vision_model.") and any(s in k for s in ("_proj.", "mlp.fc", "patch_embedding")):
            rsd[k] = v.half().float()
    rounded.load_state_dict(rsd)

    quirk = quirk_square_side(cfg.image_size)
    for tag, (h, w) in {"a": (40, 51), "b": (quirk, quirk), "c": (20, 33)}.items():
        x = torch.rand(1, 3, h, w, generator=gen)
        with torch.no_grad():
            pixels = clip_preprocess(x, cfg.image_size)
            tokens = hf.vision_model(pixels).last_hidden_state
            tokens_rounded = rounded.vision_model(pixels).last_hidden_state
        save_npy(os.path.join(out, f"input_{tag}.npy"), x)
        save_npy(os.path.join(out, f"pixels_{tag}.npy"), pixels)
        save_npy(os.path.join(out, f"output_{tag}.npy"), tokens)
        save_npy(os.path.join(out, f"output_openai_{tag}.npy"), tokens_rounded)
    write_json(os.path.join(out, "config.json"), clip_config_json(cfg))


def is_openai_half(name):
    """What OpenAI's convert_weights leaves in fp16: conv, linear and attention weights and biases,
    and the projections; LayerNorms and the embeddings stay fp32."""
    return (name.endswith(("conv1.weight", "in_proj_weight", "in_proj_bias", "visual.proj", "text_projection"))
            or ".out_proj." in name or ".c_fc." in name or ".c_proj." in name)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/irzoo-model-check"
    for name, fn in [("symunet-tiny", symunet_case), ("se-symunet-tiny", se_symunet_case), ("clip-tiny", clip_case)]:
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        fn(d)
        print(f"wrote {d}: " + ", ".join(sorted(os.listdir(d))))


if __name__ == "__main__":
    main()
