"""Golden fixtures for UniRestorer-LoRA (reconstructed; no upstream builder or weights exist): a
tiny tree of our reference modules with the released routing shape (22 leaves x 3 levels, the
released path table, pool = [base, experts.0-28]), where the base is a plain Restormer (WithBias)
and every other expert is a LoRARestormer (Tools/reference/restormer.py) whose wrapped conv
weights ARE the base's, with its own random factors (lora_B nonzero), LayerNorms and temperatures.

The file is what the released save functions would write for such a tree (the inferred source
layout, docs/UNIRESTORER.md): {'params': ...} with the full model's router keys (DA-CLIP's visual_control
in open_clip names with its zero_modules, mu, sigma, gates, gamma/beta/mean/std), the base once as
`l0_experts.0.*` (the level-0 expert; the layout renames it to base.*), and per expert `experts.N.*`
holding only what save_lora_network_w_norm_temp keeps: keys containing lora_, norm or temperature.
DA-CLIP's `clip.*` and `visual.*` copies are left out of the fixture to keep it small.

Writes Tests/Fixtures/models/unirestorer-lora-tiny/:
  model.pth         the file above
  input.npy         two images [2, 3, 20, 28] in [0, 1]
  output.npy        natural routing (router input by the 8-bit PIL path): image 0 -> leaf 5 / level 2
                    (pool 13, experts.12), image 1 -> leaf 20 / level 1 (pool 7, experts.6)
  forced_<pool>.npy   pool 0 (the base) and pool 20 (experts.19) on the same images
  config.json       the unirestorer-lora config the Swift side reads off the shapes
  reference.json    routes, sizes

Usage: python Tools/gen_unirestorer_lora_goldens.py  (deterministic: fixed seeds)
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, HERE)
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models", "unirestorer-lora-tiny")

import gen_unirestorer_goldens as full  # noqa: E402  (tiny DA-CLIP sizes, randomise, solve_gate)
import restormer  # noqa: E402
import unirestorer  # noqa: E402

BASE = dict(dim=2, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, heads=(1, 2, 4, 8),
            ffn_expansion_factor=1.5, bias=False, LayerNorm_type="WithBias")
LORA_RANK, LORA_ALPHA = 1, 16  # tiny so 29 experts stay well under 1.5 MB
EXPERTS = 29  # 7 level-1 + 22 level-2 under the released path table
TARGETS = [(5, 2), (20, 1)]  # (leaf, level) -> pool 13 (experts.12), pool 7 (experts.6)
FORCED = [0, 20]


def expert_own(key):
    """UniRestorer's save_lora_network_w_norm_temp filter."""
    return "lora_" in key or "norm" in key or "temperature" in key


def share_base(expert, base):
    """The expert's wrapped convs take the base's weights; the rest must be its own norms/temperatures."""
    base_sd = base.state_dict()
    with torch.no_grad():
        for name, m in expert.named_modules():
            if isinstance(m, restormer.ConvLoRA):
                m.conv.weight.copy_(base_sd[name + ".weight"])
    for key in expert.state_dict():
        assert expert_own(key) or key.endswith(".conv.weight"), key


def packed(sd):
    """Every tensor a view into one flat storage (one zip record, not hundreds)."""
    flat = torch.cat([t.detach().reshape(-1).float() for t in sd.values()])
    out, offset = {}, 0
    for k, t in sd.items():
        out[k] = flat[offset:offset + t.numel()].view(t.shape)
        offset += t.numel()
    return out


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(11)
    clip = unirestorer.CLIP(full.EMBED, full.VISION, full.TEXT)
    daclip = unirestorer.DaCLIP(clip)
    base = restormer.Restormer(**BASE)
    experts = [restormer.LoRARestormer(r=LORA_RANK, lora_alpha=LORA_ALPHA, **BASE) for _ in range(EXPERTS)]
    model = unirestorer.UniRestorer(daclip, [base], experts[:7], experts[7:], full.EMBED)
    full.randomise(model, g)
    for e in experts:
        share_base(e, base)
    model.eval()

    ramp = torch.linspace(0, 1, full.IMAGE[1]).expand(3, *full.IMAGE)
    images = torch.stack([torch.rand(3, *full.IMAGE, generator=g),
                          0.2 + 0.3 * ramp + 0.05 * torch.rand(3, *full.IMAGE, generator=g)])
    daclip_lq = torch.stack([unirestorer.daclip_preprocess(u8, full.VISION["image_size"]) for u8 in unirestorer.quantise(images)])
    with torch.no_grad():
        e = model.daclip_model.encode_control(daclip_lq)
        for head in (model.mu, model.sigma):
            h = head[:-1](e)
            bn = head[-1]
            bn.running_mean.copy_(h.mean(0) + 0.2 * h.std(0) * torch.randn(h.shape[1], generator=g))
            bn.running_var.copy_(h.var(0) * (0.5 + torch.rand(h.shape[1], generator=g)) + 1e-6)
        mu, sigma = model.mu(e), model.sigma(e)
        noise_lf = model.lf_gate[0].weight[22:].clone()
        noise_layer = model.layer_gate[0].weight[3:].clone()
        model.lf_gate[0].weight.copy_(torch.cat([full.solve_gate(mu, [t[0] for t in TARGETS], 22, g), noise_lf]))
        model.layer_gate[0].weight.copy_(torch.cat([full.solve_gate(sigma, [t[1] for t in TARGETS], 3, g), noise_layer]))
        output, route = model(images, daclip_lq)
        assert [(int(route["leaf"][i]), int(route["level"][i])) for i in range(2)] == TARGETS, route
        forced = {p: model.expert_pool[p](images) for p in FORCED}

    # The LoRA tree's file: router keys as the full model saves them, the base once, expert payloads.
    # DA-CLIP's second CLIP copy and text tower are left out (the layout drops them when present).
    skip = ("l0_experts.", "l1_experts.", "l2_experts.", "daclip_model.clip.", "daclip_model.visual.")
    sd = {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}
    for k, v in base.state_dict().items():
        sd["l0_experts.0." + k] = v
    for n, ex in enumerate(experts):
        for k, v in ex.state_dict().items():
            if expert_own(k):
                sd[f"experts.{n}.{k}"] = v
    floats = packed({k: v for k, v in sd.items() if v.dtype.is_floating_point})
    sd = {k: floats.get(k, v) for k, v in sd.items()}

    os.makedirs(OUT, exist_ok=True)
    torch.save({"params": sd}, os.path.join(OUT, "model.pth"))
    np.save(os.path.join(OUT, "input.npy"), images.numpy())
    np.save(os.path.join(OUT, "output.npy"), output.numpy())
    for p, y in forced.items():
        np.save(os.path.join(OUT, f"forced_{p}.npy"), y.numpy())
    config = dict(
        router=dict(hidden_size=full.VISION["width"], intermediate_size=full.VISION["width"] * 4,
                    num_hidden_layers=full.VISION["layers"], num_attention_heads=full.VISION["heads"],
                    patch_size=full.VISION["patch"], image_size=full.VISION["image_size"], num_channels=3,
                    projection_dim=full.EMBED, layer_norm_eps=1e-5, hidden_act="gelu"),
        head_layers=5, leaves=22, levels=3, path_table=unirestorer.PATH_TABLE,
        base=dict(inp_channels=3, out_channels=3, dim=BASE["dim"], num_blocks=list(BASE["num_blocks"]),
                  num_refinement_blocks=BASE["num_refinement_blocks"], heads=list(BASE["heads"]),
                  ffn_expansion_factor=BASE["ffn_expansion_factor"], bias=BASE["bias"], LayerNorm_type=BASE["LayerNorm_type"]),
        experts=EXPERTS, lora_rank=LORA_RANK, lora_alpha=LORA_ALPHA)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    per_expert = sum(v.numel() for k, v in experts[0].state_dict().items() if expert_own(k))
    ref = dict(
        image=list(full.IMAGE), experts=EXPERTS, lora_rank=LORA_RANK, lora_alpha=LORA_ALPHA,
        natural=[dict(leaf=int(route["leaf"][i]), level=int(route["level"][i]), pool=int(route["pool"][i]))
                 for i in range(2)],
        forced=FORCED, state_dict_keys=len(sd), values=int(sum(t.numel() for t in sd.values())),
        base_values=int(sum(v.numel() for v in base.state_dict().values())), per_expert_values=int(per_expert),
    )
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    print(json.dumps(ref, indent=1))


if __name__ == "__main__":
    main()
