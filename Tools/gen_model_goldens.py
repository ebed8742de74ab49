"""Writes tiny-config model goldens into Tests/Fixtures/models/, from our own PyTorch reference
modules (Tools/reference), in the containers upstream uses, with upstream key names:

  symunet-tiny/     checkpoint.pth (BasicSR {'params': sd}), config.json, input.npy, output.npy
  se-symunet-tiny/  checkpoint.pth (BasicSR, whole HF CLIPModel under clip_model.*), config.json,
                    input.npy, output.npy, aux.npz (the eight pos_embeds by module path),
                    output-default-pos.npy (the output with irzoo's seeded-normal default instead),
                    clip_pixels.npy and clip_hidden.npy (the CLIP path's intermediate results)
  clip-tiny/        model.safetensors (HF layout, whole CLIPModel, legacy position_ids),
                    ViT-tiny.pt (OpenAI layout, TorchScript archive, fp16 like OpenAI's),
                    config.json, input-{a,b}.npy, pixels-{a,b}.npy, hidden-{a,b}.npy

Weights are seeded random with LayerNorms, temperatures, alphas and biases perturbed so that
defaults (ones, zeros, alpha = 1e-4) cannot hide a bug. Inputs are float32 NCHW in [0, 1] with
sides that are not multiples of the padding step. Outputs are PyTorch's, float32.

Usage: python Tools/gen_model_goldens.py
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
import clip_vision  # noqa: E402
import pos_embed  # noqa: E402
import symunet  # noqa: E402

OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models")

TINY_SYMUNET = dict(img_channel=3, width=8, enc_blk_nums=[1, 1, 1], middle_blk_num=1, dec_blk_nums=[1, 1, 1],
                    restormer_heads=[1, 2, 4], restormer_middle_heads=8, ffn_expansion_factor=2.66, bias=False,
                    LayerNorm_type="WithBias")
# SE-SymUNet's golden tests the guidance path: a narrower backbone and CLIP keep the file small.
TINY_SE = dict(TINY_SYMUNET, width=4, cross_attn_inner_dims=[32, 32, 32], middle_cross_attn_inner_dim=32,
               cross_attn_heads=[1, 2, 4], middle_cross_attn_heads=8, patch_sizes=[4, 4, 4], middle_patch_size=2)
TINY_CLIP = clip_vision.tiny_config()
TINY_SE_CLIP = clip_vision.tiny_config(hidden=32, mlp=128, projection=24, text_hidden=16, vocab=32)


def clip_config_json(cfg, projection=True):
    out = {"hidden_size": cfg.hidden, "intermediate_size": cfg.mlp, "num_hidden_layers": cfg.layers,
           "num_attention_heads": cfg.heads, "patch_size": cfg.patch, "image_size": cfg.image_size,
           "num_channels": 3, "layer_norm_eps": 1e-5, "hidden_act": "quick_gelu"}
    if projection:
        out["projection_dim"] = cfg.projection
    return out


def perturb(module, gen, scale_weights=1.0):
    """Moves every parameter off its default so LayerNorm, temperature, alpha and bias paths matter."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("temperature"):
                p.copy_(0.5 + torch.rand(p.shape, generator=gen))
            elif name.endswith("alpha"):
                p.copy_(0.3 + 0.4 * torch.rand(p.shape, generator=gen))
            elif name.endswith("body.weight") or ("norm" in name and name.endswith("weight")) or "layer_norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2:
                p.mul_(scale_weights)


def save_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype=np.float32))


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def symunet_golden():
    torch.manual_seed(5)
    gen = torch.Generator().manual_seed(5)
    net = symunet.SymUNet(**TINY_SYMUNET).eval()
    perturb(net, gen, scale_weights=1.5)
    d = os.path.join(OUT, "symunet-tiny")
    os.makedirs(d, exist_ok=True)
    torch.save({"params": net.state_dict()}, os.path.join(d, "checkpoint.pth"))
    x = torch.rand(1, 3, 37, 45, generator=gen)
    with torch.no_grad():
        y = net(x)
    save_npy(os.path.join(d, "input.npy"), x.numpy())
    save_npy(os.path.join(d, "output.npy"), y.numpy())
    write_json(os.path.join(d, "config.json"), TINY_SYMUNET)
    print(f"symunet-tiny: {symunet.parameter_count(net)} parameters, max |output - input| {float((y - x).abs().max()):.3f}")


def make_hf_clip(cfg, gen, legacy_position_ids, round_fp16):
    clip = clip_vision.HFCLIPModel(cfg, legacy_position_ids=legacy_position_ids).eval()
    perturb(clip, gen)
    with torch.no_grad():
        clip.vision_model.embeddings.class_embedding.mul_(0.5)
        clip.vision_model.embeddings.position_embedding.weight.mul_(0.5)
        if round_fp16:
            # The tensors OpenAI stores in fp16 hold fp16 values in both layouts, so one output fits both.
            for name, p in clip.named_parameters():
                if name.endswith(("proj.weight", "proj.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                  "patch_embedding.weight", "visual_projection.weight")):
                    p.copy_(p.half().float())
    return clip


def se_symunet_golden():
    torch.manual_seed(6)
    gen = torch.Generator().manual_seed(6)
    clip = make_hf_clip(TINY_SE_CLIP, gen, legacy_position_ids=False, round_fp16=False)
    net = symunet.SESymUNet(clip, **TINY_SE).eval()
    perturb(net, gen, scale_weights=1.5)
    d = os.path.join(OUT, "se-symunet-tiny")
    os.makedirs(d, exist_ok=True)
    # Saved before any forward: a GPU-trained checkpoint has no pos_embed keys.
    torch.save({"params": net.state_dict()}, os.path.join(d, "checkpoint.pth"))
    x = torch.rand(1, 3, 21, 27, generator=gen)
    hp, wp = 32, 32  # padded to the multiple of 32
    aux, defaults = {}, {}
    levels = len(TINY_SE["enc_blk_nums"])
    for path, module in net.guidance_modules():
        # Feature-map stride: the bottleneck is at 2**levels, decoder d at 2**(levels-1-d).
        stride = 2 ** levels if path.startswith("middle") else 2 ** (levels - 1 - int(path.rsplit(".", 1)[1]))
        p = module.patch_size
        attn = module.attention
        patch_dim = attn.norm_query.weight.shape[0] if "guide" in path else attn.norm_context.weight.shape[0]
        tokens = (hp // stride // p) * (wp // stride // p)
        module.pos_embed = torch.randn(1, tokens, patch_dim, generator=gen)
        aux[f"{path}.pos_embed"] = module.pos_embed.numpy().astype(np.float32)
        defaults[path] = torch.from_numpy(pos_embed.default_pos_embed(path, tokens, patch_dim, seed=0))
    with torch.no_grad():
        pixels = clip_vision.clip_preprocess(x, TINY_SE_CLIP.image_size)
        hidden = clip.vision_model(pixels).last_hidden_state
        y = net(x)
    for path, module in net.guidance_modules():  # the forward must have used ours, not drawn new ones
        assert np.array_equal(module.pos_embed.numpy(), aux[f"{path}.pos_embed"]), path
        module.pos_embed = defaults[path]
    with torch.no_grad():  # irzoo's documented default (no --aux): seeded-normal, seed 0
        y_default = net(x)
    save_npy(os.path.join(d, "output-default-pos.npy"), y_default.numpy())
    save_npy(os.path.join(d, "input.npy"), x.numpy())
    save_npy(os.path.join(d, "output.npy"), y.numpy())
    save_npy(os.path.join(d, "clip_pixels.npy"), pixels.numpy())
    save_npy(os.path.join(d, "clip_hidden.npy"), hidden.numpy())
    np.savez(os.path.join(d, "aux.npz"), **aux)
    cfg = dict(TINY_SE, clip=clip_config_json(TINY_SE_CLIP, projection=False), pos_embed_default="seeded-normal", pos_embed_seed=0)
    write_json(os.path.join(d, "config.json"), cfg)
    own = sum(p.numel() for n, p in net.named_parameters() if not n.startswith("clip_model."))
    print(f"se-symunet-tiny: {own} own parameters, pos_embeds {sorted(aux)}, max |output - input| {float((y - x).abs().max()):.3f}")


def clip_golden():
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(7)
    hf = make_hf_clip(TINY_CLIP, gen, legacy_position_ids=True, round_fp16=True)
    d = os.path.join(OUT, "clip-tiny")
    os.makedirs(d, exist_ok=True)
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in hf.state_dict().items()}, os.path.join(d, "model.safetensors"),
              metadata={"format": "pt"})

    # The OpenAI layout of the same vision weights (text tower: its own random values).
    openai = clip_vision.OpenAICLIP(TINY_CLIP).eval()
    vision_sd = clip_vision.hf_to_openai_state_dict(hf.state_dict(), TINY_CLIP.layers)
    missing, unexpected = openai.load_state_dict(vision_sd, strict=False)
    assert not unexpected and all(not k.startswith("visual.") for k in missing), (missing, unexpected)

    inputs = {"a": torch.rand(1, 3, 23, 37, generator=gen),   # upscaled, 37 -> int(37 * 32/23) = 51, cropped
              "b": torch.rand(1, 3, 49, 49, generator=gen)}   # square 49: int(49 * 32/49) = 31 rows, zero row added
    for tag, x in inputs.items():
        with torch.no_grad():
            pixels = clip_vision.clip_preprocess(x, TINY_CLIP.image_size)
            hidden = hf.vision_model(pixels).last_hidden_state
            other = openai(pixels)
        err = float((hidden - other).abs().max())
        assert err < 1e-5, f"HF and OpenAI layouts disagree by {err}"
        save_npy(os.path.join(d, f"input-{tag}.npy"), x.numpy())
        save_npy(os.path.join(d, f"pixels-{tag}.npy"), pixels.numpy())
        save_npy(os.path.join(d, f"hidden-{tag}.npy"), hidden.numpy())
        print(f"clip-tiny {tag}: input {tuple(x.shape[2:])}, HF vs OpenAI layout {err:.1e}")

    # TorchScript archive like OpenAI's ViT-L-14.pt: traced, then conv/linear/attention weights in fp16.
    traced = torch.jit.trace(openai, inputs["a"].new_zeros(1, 3, TINY_CLIP.image_size, TINY_CLIP.image_size))
    with torch.no_grad():
        for name, p in traced.named_parameters():
            if name.endswith(("conv1.weight", "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias",
                              "c_fc.weight", "c_fc.bias", "c_proj.weight", "c_proj.bias")) or name in ("visual.proj", "text_projection"):
                p.data = p.data.half()
    path = os.path.join(d, "ViT-tiny.pt")
    torch.jit.save(traced, path)
    reloaded = torch.jit.load(path).state_dict()
    for k, v in vision_sd.items():
        assert torch.equal(reloaded[k].float(), v.float()), k
    assert reloaded["visual.conv1.weight"].dtype == torch.float16
    write_json(os.path.join(d, "config.json"), clip_config_json(TINY_CLIP))


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    symunet_golden()
    se_symunet_golden()
    clip_golden()
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs)
    print(f"{OUT}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
