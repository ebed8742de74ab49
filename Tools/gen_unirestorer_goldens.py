"""Golden fixtures for UniRestorer: a tiny tree of our reference module (Tools/reference/unirestorer.py)
with the released shape (1 + 7 + 23 experts in init_experts_three_layers' order, 22 leaves x 3
levels, the released path table), tiny experts of every family (Restormer WithBias/BiasFree,
LoRA-Restormer, DehazeFormer, RetinexFormer, NAFNetLocal) and a tiny DA-CLIP (64 px, patch 16,
width 16, exact GELU), saved as upstream saves it: torch.save({'params': state_dict}).

Writes Tests/Fixtures/models/unirestorer-tiny/:
  model.pth        {'params': UniRestorer.state_dict()} with the text tower, the duplicate visual
                   tower, zero_modules, gamma/beta/mean/std, gate noise halves and l2_experts.22
  config.json      the unirestorer config the Swift side reads off the shapes (experts detected)
  router_image.npy   a [1, 3, 90, 70] image; router_pixels.npy its router input [1, 3, 64, 64]
                   (8-bit PIL open_clip transform, as upstream inference.py)
  router.npz       e, mu, sigma, lf_logits, layer_logits for it; leaf/level/pool in reference.json
  input.npy        two images [2, 3, 20, 28] in [0, 1] (sides multiples of 4, not of 8 or 16)
  output.npy       UniRestorer's answer with natural routing (router input by the PIL path)
  forced_<pool>.npy  the expert at that pool index on the same images (one per family)
  reference.json   routes, pool families, sizes

Every parameter is randomised (norms, BN statistics, temperatures, zero-initialised zero_modules
and LoRA B). The gates are solved so that natural routing picks leaf 5 / level 2 (pool 13, a
LoRA-Restormer) for image 0 and leaf 20 / level 2 (pool 28: a RetinexFormer under the released
init order, §6.1) for image 1, with a margin of at least 2 logits.

Usage: python Tools/gen_unirestorer_goldens.py  (deterministic: fixed seeds)
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models", "unirestorer-tiny")

import dehazeformer  # noqa: E402
import nafnet  # noqa: E402
import restormer  # noqa: E402
import retinexformer  # noqa: E402
import unirestorer  # noqa: E402

VISION = dict(width=16, layers=2, heads=1, patch=16, image_size=64)
TEXT = dict(width=16, layers=1, heads=1, vocab=16, context=8)
EMBED = 16
RESTORMER = dict(dim=2, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, heads=(1, 2, 4, 8),
                 ffn_expansion_factor=1.5, bias=False)
BIASFREE_FORCED_DIM = 4
LORA_RANK = 1
DEHAZE = dict(embed_dims=(4, 8, 8, 8, 4), mlp_ratios=(2.0, 2.0, 2.0, 2.0, 2.0), depths=(1, 2, 1, 1, 1),
              num_heads=(1, 2, 2, 1, 1), attn_ratio=(0.0, 0.5, 0.0, 0.0, 0.0), window_size=8)
RETINEX = dict(n_feat=4, stage=1, num_blocks=(1, 1, 1))
NAFNET = dict(width=4, enc_blk_nums=(1, 1), middle_blk_num=1, dec_blk_nums=(1, 1))
IMAGE = (20, 28)
TARGETS = [(5, 2), (20, 2)]  # (leaf, level) for image 0 and image 1


def restormer_wb():
    return restormer.Restormer(LayerNorm_type="WithBias", **RESTORMER)


def restormer_bf(dim=RESTORMER["dim"]):
    return restormer.Restormer(LayerNorm_type="BiasFree", **{**RESTORMER, "dim": dim})


def lora_restormer():
    return restormer.LoRARestormer(r=LORA_RANK, lora_alpha=16, LayerNorm_type="WithBias", **RESTORMER)


def dehaze():
    return dehazeformer.DehazeFormer(**DEHAZE)


def retinex():
    return retinexformer.RetinexFormer(**RETINEX)


def naf():
    return nafnet.NAFNetLocal(**NAFNET)


def released_experts():
    """init_experts_three_layers' order, 23 level-2 modules (4 LoRA where 3 are routed)."""
    l0 = [restormer_wb()]
    # l1_experts.0 (pool 1, the forced BiasFree golden) is 4 wide: a BiasFree LayerNorm over 2
    # channels divides by a tiny variance and amplified f32 rounding to 7e-5 against PyTorch.
    l1 = [restormer_bf(BIASFREE_FORCED_DIM)] + [restormer_bf() for _ in range(3)] + [dehaze(), retinex(), naf()]
    l2 = ([restormer_bf() for _ in range(3)] + [lora_restormer() for _ in range(4)] + [restormer_wb() for _ in range(10)]
          + [dehaze() for _ in range(2)] + [retinex() for _ in range(2)] + [naf() for _ in range(2)])
    return l0, l1, l2


def family_of(module):
    if isinstance(module, restormer.LoRARestormer):
        return "lora-restormer"
    if isinstance(module, restormer.Restormer):
        kind = "WithBias" if "encoder_level1.0.norm1.body.bias" in module.state_dict() else "BiasFree"
        return "restormer-" + kind
    return type(module).__name__


def randomise(model, g):
    """Every float parameter and buffer moved off its default (relative_positions is a constant)."""
    with torch.no_grad():
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            if not p.dtype.is_floating_point or name.endswith("relative_positions"):
                continue
            if name.endswith("running_var"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("lora_B"):
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            elif p.dim() <= 1 or name.endswith(("temperature", "rescale", "beta", "gamma")):
                p.copy_(p + 0.2 * torch.randn(p.shape, generator=g))
            else:
                fan_in = max(1, p[0].numel())
                p.copy_(0.5 * torch.randn(p.shape, generator=g) / fan_in ** 0.5)
        for name, b in model.named_buffers():
            if name.endswith("num_batches_tracked"):
                b.fill_(1234)


def pack_into_one_storage(model):
    """Every float parameter and buffer becomes a view into one flat storage, so torch.save writes
    one data record instead of ~3,500 (zip entries cost ~300 bytes each) and the importer reads
    every tensor at its storage offset. Values and the state_dict are unchanged."""
    entries = []
    for module in model.modules():  # each module once (clip.visual and visual are one module)
        for table in (module._parameters, module._buffers):
            for name, t in table.items():
                if t is not None and t.dtype == torch.float32:
                    entries.append((table, name, t))
    flat = torch.cat([t.detach().reshape(-1) for _, _, t in entries])
    offset = 0
    for table, name, t in entries:
        view = flat[offset:offset + t.numel()].view(t.shape)
        offset += t.numel()
        if isinstance(t, nn.Parameter):
            table[name] = nn.Parameter(view, requires_grad=t.requires_grad)
        else:
            table[name] = view


def solve_gate(features, targets, rows, generator, margin=3.0):
    """Weights [rows, D] whose logits features @ W.T put row targets[i] first for image i by at
    least `margin`: random rows plus a ridge-regularised correction (|W| stays small, so the
    logits are not an amplifier of float rounding in mu)."""
    n, d = features.shape
    f = features.double()
    w = 0.3 * torch.randn(rows, d, generator=generator, dtype=torch.float64)
    want = f @ w.T
    for i, t in enumerate(targets):
        others = torch.cat([want[i, :t], want[i, t + 1:]])
        want[i, t] = max(want[i, t], others.max() + margin)
    gram = f @ f.T
    base = w
    for ridge in [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 0.0]:  # the least regularisation that keeps the margin
        lam = ridge * gram.diagonal().mean()
        correction = f.T @ torch.linalg.solve(gram + lam * torch.eye(n, dtype=torch.float64), want - f @ base.T)
        w = base + correction.T
        logits = f @ w.T
        if all(logits[i].topk(2).indices[0] == t and logits[i].topk(2).values.diff().abs() > 1.0 for i, t in enumerate(targets)):
            break
    else:
        raise AssertionError(f"no gate routes {targets}: {logits}")
    print("gate ridge", ridge, "cosine", float(torch.nn.functional.cosine_similarity(f[0], f[1], dim=0)))
    print("gate max |w|", float(w.abs().max()))
    return w.float()


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(7)
    clip = unirestorer.CLIP(EMBED, VISION, TEXT)
    daclip = unirestorer.DaCLIP(clip)
    l0, l1, l2 = released_experts()
    model = unirestorer.UniRestorer(daclip, l0, l1, l2, EMBED)
    randomise(model, g)
    model.eval()

    # Two images of different character (noise; a dim ramp), so their estimates differ.
    ramp = torch.linspace(0, 1, IMAGE[1]).expand(3, *IMAGE)
    images = torch.stack([torch.rand(3, *IMAGE, generator=g), 0.2 + 0.3 * ramp + 0.05 * torch.rand(3, *IMAGE, generator=g)])
    # The router sees the images as upstream inference.py makes them: 8-bit PIL, open_clip transform.
    daclip_lq = torch.stack([unirestorer.daclip_preprocess(u8, VISION["image_size"]) for u8 in unirestorer.quantise(images)])
    with torch.no_grad():
        e = model.daclip_model.encode_control(daclip_lq)
        # BatchNorm statistics near the two images' own (randomised around them), so the heads
        # contrast the images instead of returning their shared bias.
        for head in (model.mu, model.sigma):
            h = head[:-1](e)
            bn = head[-1]
            bn.running_mean.copy_(h.mean(0) + 0.2 * h.std(0) * torch.randn(h.shape[1], generator=g))
            bn.running_var.copy_(h.var(0) * (0.5 + torch.rand(h.shape[1], generator=g)) + 1e-6)
        mu, sigma = model.mu(e), model.sigma(e)
        noise_lf = model.lf_gate[0].weight[22:].clone()
        noise_layer = model.layer_gate[0].weight[3:].clone()
        model.lf_gate[0].weight.copy_(torch.cat([solve_gate(mu, [t[0] for t in TARGETS], 22, g), noise_lf]))
        model.layer_gate[0].weight.copy_(torch.cat([solve_gate(sigma, [t[1] for t in TARGETS], 3, g), noise_layer]))
        output, route = model(images, daclip_lq)
        assert [(int(route["leaf"][i]), int(route["level"][i])) for i in range(2)] == TARGETS, route

        # A larger image (downscaled: Pillow's antialiased bicubic with 8-bit rounding between passes).
        router_image = torch.rand(1, 3, 90, 70, generator=g)
        router_pixels = unirestorer.daclip_preprocess(unirestorer.quantise(router_image)[0], VISION["image_size"])[None]
        r = model.route(router_pixels)

        pool_families = [family_of(m) for m in model.expert_pool]
        forced = {}
        seen = set()
        for p, fam in enumerate(pool_families):
            if fam not in seen:
                seen.add(fam)
                forced[p] = model.expert_pool[p](images)

    os.makedirs(OUT, exist_ok=True)
    pack_into_one_storage(model)
    sd = model.state_dict()
    torch.save({"params": sd}, os.path.join(OUT, "model.pth"))
    np.save(os.path.join(OUT, "input.npy"), images.numpy())
    np.save(os.path.join(OUT, "output.npy"), output.numpy())
    np.save(os.path.join(OUT, "router_image.npy"), router_image.numpy())
    np.save(os.path.join(OUT, "router_pixels.npy"), router_pixels.numpy())
    np.savez(os.path.join(OUT, "router.npz"), e=r["e"].numpy(), mu=r["mu"].numpy(), sigma=r["sigma"].numpy(),
             lf_logits=r["lf_logits"].numpy(), layer_logits=r["layer_logits"].numpy(),
             natural_lf_logits=route["lf_logits"].numpy(), natural_layer_logits=route["layer_logits"].numpy())
    for p, y in forced.items():
        np.save(os.path.join(OUT, f"forced_{p}.npy"), y.numpy())

    config = dict(
        router=dict(hidden_size=VISION["width"], intermediate_size=VISION["width"] * 4, num_hidden_layers=VISION["layers"],
                    num_attention_heads=VISION["heads"], patch_size=VISION["patch"], image_size=VISION["image_size"],
                    num_channels=3, projection_dim=EMBED, layer_norm_eps=1e-5, hidden_act="gelu"),
        head_layers=5, leaves=22, levels=3, path_table=unirestorer.PATH_TABLE,
        pool=["l0_experts.0"] + [f"l1_experts.{i}" for i in range(7)] + [f"l2_experts.{i}" for i in range(22)])
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    ref = dict(
        image=list(IMAGE), router_image_size=VISION["image_size"], embed_dim=EMBED,
        natural=[dict(leaf=int(route["leaf"][i]), level=int(route["level"][i]), pool=int(route["pool"][i]))
                 for i in range(2)],
        router=dict(leaf=int(r["leaf"][0]), level=int(r["level"][0]), pool=int(r["pool"][0])),
        pool_families=pool_families,
        forced=sorted(forced),
        expert_modules=dict(l0=len(l0), l1=len(l1), l2=len(l2)),
        state_dict_keys=len(sd),
        values=int(sum(t.numel() for t in sd.values())),
    )
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    print(json.dumps(ref, indent=1))
    for p, y in forced.items():
        print(p, pool_families[p], float(y.abs().max()))


if __name__ == "__main__":
    main()
