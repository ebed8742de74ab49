"""Golden fixtures and published key tables for the upscalers: RRDBNet (ESRGAN / Real-ESRGAN)
and SRVGGNetCompact, from our reference modules (Tools/reference/rrdbnet.py, srvgg.py).

Writes Tests/Fixtures/models/<case>/:
  model.pth        as upstream saves it: BasicSR {'params_ema': ..., 'params': ...} (params_ema is
                   the one read; 'params' holds other values so that picking it would fail), or a bare
                   state_dict in the old ESRGAN `model.N` names, or in xinntao/ESRGAN's 2019 names
  input.npy        [1, 3, H, W] float32 in [0, 1]; sides that are not multiples of the unshuffle
  output.npy       the reference's answer [1, 3, scale H, scale W]
  config.json      the family config as the registry spells it
  reference.json   sizes, counts
  input.png, input.jpg, png_output.npy   (rrdbnet-x4 only) a 37x29 8-bit image for the CLI test, and
                   PyTorch's answer to the PNG's pixels
and Tests/Fixtures/keys/<model>_keys.txt: name<TAB>shape of every published configuration, in the
key layout its released file uses (no weights: built on the meta device).

Usage: python Tools/gen_upscaler_goldens.py  (deterministic: fixed seeds)
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
FIXTURES = os.path.join(HERE, "..", "Tests", "Fixtures")

import rrdbnet  # noqa: E402
import srvgg  # noqa: E402

TINY = dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_block=2, num_grow_ch=4)

# name, builder kwargs, family, saved layout, input (H, W)
CASES = [
    ("rrdbnet-x4", dict(TINY, scale=4), "rrdbnet", "basicsr", (13, 11)),
    ("rrdbnet-x2", dict(TINY, scale=2), "rrdbnet", "basicsr", (13, 10)),
    ("rrdbnet-x1", dict(TINY, scale=1), "rrdbnet", "basicsr", (14, 9)),
    ("rrdbnet-old-x4", dict(TINY, scale=4), "rrdbnet", "esrgan-old", (9, 12)),
    ("rrdbnet-2019-x4", dict(TINY, scale=4, num_block=1), "rrdbnet", "esrgan-2019", (10, 7)),
    ("rrdbnet-old-x1", dict(TINY, scale=1, shuffle_factor=1, num_block=1), "rrdbnet", "esrgan-old", (12, 10)),
    ("rrdbnet-old-x8", dict(TINY, scale=8, shuffle_factor=1, num_block=1), "rrdbnet", "esrgan-old", (6, 5)),
    ("srvgg-x4", dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=3, upscale=4, act_type="prelu"), "srvgg", "basicsr", (12, 9)),
    ("srvgg-x2", dict(num_in_ch=3, num_out_ch=3, num_feat=6, num_conv=2, upscale=2, act_type="prelu"), "srvgg", "basicsr", (7, 10)),
]


def build(family, kwargs):
    return rrdbnet.RRDBNet(**kwargs) if family == "rrdbnet" else srvgg.SRVGGNetCompact(**kwargs)


def randomise(net, gen):
    # PyTorch's default init is fine for the convs; PReLU slopes start at 0.25 everywhere: vary them.
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() == 1 and name.startswith("body.") and family_of(net) == "srvgg" and name.endswith("weight"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.6 - 0.1)
            elif name.endswith("bias"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.2 - 0.1)


def family_of(net):
    return "srvgg" if isinstance(net, srvgg.SRVGGNetCompact) else "rrdbnet"


def registry_config(family, kwargs, net):
    if family == "srvgg":
        return dict(kwargs)
    config = {k: v for k, v in kwargs.items() if k != "shuffle_factor"}
    config["shuffle_factor"] = net.shuffle
    return config


def saved(layout, net, state, gen):
    if layout == "esrgan-old":
        return rrdbnet.old_keys(state, net.ups)
    if layout == "esrgan-2019":
        return rrdbnet.esrgan2019_keys(state)
    # BasicSR writes both; Real-ESRGAN (and irzoo) read params_ema.
    other = {k: v + torch.randn(v.shape, generator=gen) * 0.01 for k, v in state.items()}
    return {"params": other, "params_ema": state}


def write_cli_images(net, folder, gen):
    from PIL import Image
    # Smooth gradients plus noise: a JPEG of it stays close to the PNG.
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 29), torch.linspace(0, 1, 37), indexing="ij")
    base = torch.stack([xs, ys, (xs + ys) / 2]) * 0.8 + 0.1
    pixels = ((base + torch.rand(base.shape, generator=gen) * 0.1).clamp(0, 1) * 255).round().to(torch.uint8)
    hwc = pixels.permute(1, 2, 0).numpy()
    Image.fromarray(hwc).save(os.path.join(folder, "input.png"))
    Image.fromarray(hwc).save(os.path.join(folder, "input.jpg"), quality=95)
    with torch.no_grad():
        out = net(pixels.float().unsqueeze(0) / 255)
    np.save(os.path.join(folder, "png_output.npy"), out.numpy())


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def write_key_tables():
    tables = {}
    with torch.device("meta"):
        for name, kwargs in rrdbnet.PUBLISHED.items():
            net = rrdbnet.RRDBNet(**kwargs)
            state = {k: list(v.shape) for k, v in net.state_dict().items()}
            if name == "RRDB_ESRGAN_x4":
                # Published twice: the original release (model.N) and xinntao/ESRGAN's 2019 re-save.
                tables["esrgan_RRDB_ESRGAN_x4_old"] = rrdbnet.old_keys(state, net.ups)
                tables["esrgan_RRDB_ESRGAN_x4_2019"] = rrdbnet.esrgan2019_keys(state)
            else:
                tables[f"realesrgan_{name}"] = state
            print(f"{name}: {len(state)} keys, {rrdbnet.parameter_count(net):,} parameters")
        for name, kwargs in srvgg.PUBLISHED.items():
            net = srvgg.SRVGGNetCompact(**kwargs)
            tables[f"realesrgan_{name}"] = {k: list(v.shape) for k, v in net.state_dict().items()}
            print(f"{name}: {len(net.state_dict())} keys, {rrdbnet.parameter_count(net):,} parameters")
    for name, state in tables.items():
        with open(os.path.join(FIXTURES, "keys", f"{name}_keys.txt"), "w") as f:
            f.write(f"# {name}: state_dict keys and shapes of the released file, from Tools/gen_upscaler_goldens.py\n")
            for k, s in state.items():
                f.write(f"{k}\t[{', '.join(map(str, s))}]\n")


def main():
    write_key_tables()
    for index, (name, kwargs, family, layout, (h, w)) in enumerate(CASES):
        torch.manual_seed(7000 + index)
        gen = torch.Generator().manual_seed(8000 + index)
        net = build(family, kwargs)
        randomise(net, gen)
        net.eval()
        folder = os.path.join(FIXTURES, "models", name)
        os.makedirs(folder, exist_ok=True)
        image = torch.rand(1, 3, h, w, generator=gen)
        with torch.no_grad():
            out = net(image)
        state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        torch.save(saved(layout, net, state, gen), os.path.join(folder, "model.pth"))
        np.save(os.path.join(folder, "input.npy"), image.numpy())
        np.save(os.path.join(folder, "output.npy"), out.numpy())
        write_json(os.path.join(folder, "config.json"), registry_config(family, kwargs, net))
        write_json(os.path.join(folder, "reference.json"), {
            "layout": layout, "input_hw": [h, w], "output_hw": list(out.shape[2:]),
            "parameters": rrdbnet.parameter_count(net), "state_dict_keys": len(state),
            "output_abs_max": float(out.abs().max())})
        if name == "rrdbnet-x4":
            write_cli_images(net, folder, gen)
        print(f"{name}: {layout}, {tuple(image.shape)} -> {tuple(out.shape)}")


if __name__ == "__main__":
    main()
