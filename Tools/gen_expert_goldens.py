"""Golden fixtures for two UniRestorer expert families, DehazeFormer and RetinexFormer: tiny
configs of our reference modules (Tools/reference/dehazeformer.py, retinexformer.py), saved the way
UniRestorer's BasicSR training saves a network (`torch.save({'params': state_dict})`), with fixed
inputs and PyTorch's outputs.

Writes Tests/Fixtures/models/<case>/:
  model.pth        {'params': state_dict}
  input.npy        the input image [1, 3, H, W], float32 in [0, 1]
  output.npy       the reference's answer, float32
  input_odd.npy / output_odd.npy   (retinexformer-tiny) sides that are not multiples of 4: reflect-padded
                   right/bottom to a multiple of 4 and cropped back (irzoo's rule; upstream crashes)
  input.png / png_output.npy       (dehazeformer-tiny) the input rounded to 8-bit RGB for the CLI test,
                   and the reference's answer to the PNG's pixels (value / 255)
  config.json      the family config the shapes follow (as the registry spells it)
  reference.json   how the case was made: sizes, counts

Every value a default initialisation would leave degenerate is randomised, so a wrong formula cannot
hide behind an identity: RLN weight/bias and its meta1/meta2 1x1 convs, every bias, LayerNorms, the
IG-MSA `rescale`, and the stored `relative_positions` buffers (perturbed, so the Swift model must read
the buffer the checkpoint holds rather than recompute it).

Usage: python Tools/gen_expert_goldens.py  (deterministic: fixed seeds)
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, HERE)
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models")

import dehazeformer  # noqa: E402
import retinexformer  # noqa: E402

# Layer1 attends in block 1 (shifted) only, layer2 in blocks 2 (plain) and 3 (shifted), layer3 in 1..3.
# 29 x 34 is padded to 32 x 36 (multiple of 4), then per level to window multiples: 16x24, 8x16
# (plain blocks, layers 2 and 3) and 40x40, 24x24, 16x16 (shifted blocks), so every padding path runs.
DEHAZE_TINY = dict(embed_dims=(8, 16, 24, 16, 8), mlp_ratios=(2.0, 4.0, 4.0, 2.0, 2.0), depths=(2, 4, 4, 2, 2),
                   num_heads=(2, 4, 6, 1, 1), attn_ratio=(0.5, 0.5, 0.75, 0.0, 0.0), window_size=8)
RETINEX_TINY = dict(n_feat=8, stage=1, num_blocks=(1, 2, 2))


def randomise(net, gen):
    def uniform(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)

    with torch.no_grad():
        for name, p in net.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if ".meta1." in name and leaf == "bias":
                uniform(p, 0.5, 1.5)  # rescale = meta1(std): around 1, as trained
            elif ".meta1." in name or ".meta2." in name:
                uniform(p, -0.5, 0.5)
            elif name.endswith("norm1.weight") or name.endswith("norm.weight"):
                uniform(p, 0.6, 1.4)
            elif name.endswith("norm1.bias") or name.endswith("norm.bias"):
                uniform(p, -0.3, 0.3)
            elif leaf == "rescale":
                uniform(p, 0.4, 2.0)
            elif leaf == "bias":
                uniform(p, -0.2, 0.2)
        for name, b in net.named_buffers():
            if name.endswith("relative_positions"):
                b.add_(torch.randn(b.shape, generator=gen) * 0.25)


def reference_output(net, image, multiple):
    """The answer; sides that are not multiples of `multiple` are reflect-padded right/bottom and cropped."""
    h, w = image.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    x = F.pad(image, (0, pw, 0, ph), mode="reflect") if ph or pw else image
    with torch.no_grad():
        return net(x)[..., :h, :w].contiguous()


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def save_png_case(folder, net, image, multiple):
    pixels = np.rint(image[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    Image.fromarray(pixels).save(os.path.join(folder, "input.png"))
    decoded = torch.from_numpy(np.array(Image.open(os.path.join(folder, "input.png")).convert("RGB")))
    png_input = (decoded.permute(2, 0, 1).float() / 255).unsqueeze(0).contiguous()
    np.save(os.path.join(folder, "png_output.npy"), reference_output(net, png_input, multiple).numpy())


def main():
    import check_expert_reference_keys
    if check_expert_reference_keys.main() != 0:
        raise SystemExit("reference modules do not match the published key lists")
    cases = [
        ("dehazeformer-tiny", lambda: dehazeformer.DehazeFormer(**DEHAZE_TINY),
         {**{k: list(v) if isinstance(v, tuple) else v for k, v in DEHAZE_TINY.items()},
          "conv_type": "Conv", "norm_layer": "RLN"}, [(29, 34)], 1),
        ("retinexformer-tiny", lambda: retinexformer.RetinexFormer(**RETINEX_TINY),
         {"n_feat": 8, "stage": 1, "num_blocks": [1, 2, 2]}, [(24, 32), (21, 30)], 4),
    ]
    for index, (name, make, config, sizes, multiple) in enumerate(cases):
        torch.manual_seed(3000 + index)
        gen = torch.Generator().manual_seed(4000 + index)
        net = make()
        randomise(net, gen)
        net.eval()
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        torch.save({"params": net.state_dict()}, os.path.join(folder, "model.pth"))
        info = {"parameters": sum(p.numel() for p in net.parameters()), "state_dict_keys": len(net.state_dict()),
                "container": "BasicSR {'params': state_dict}", "inputs": {}}
        for j, (h, w) in enumerate(sizes):
            suffix = "" if j == 0 else "_odd"
            image = torch.rand(1, 3, h, w, generator=gen)
            out = reference_output(net, image, multiple)
            np.save(os.path.join(folder, f"input{suffix}.npy"), image.numpy())
            np.save(os.path.join(folder, f"output{suffix}.npy"), out.numpy())
            info["inputs"][f"input{suffix}.npy"] = {"hw": [h, w], "output_abs_max": float(out.abs().max()),
                                                    "output_minus_input_abs_max": float((out - image).abs().max())}
            if name.startswith("dehazeformer") and j == 0:
                save_png_case(folder, net, image, multiple)
        write_json(os.path.join(folder, "config.json"), config)
        write_json(os.path.join(folder, "reference.json"), info)
        size = sum(os.path.getsize(os.path.join(folder, x)) for x in os.listdir(folder))
        print(f"{name}: {info['parameters']:,} params, {info['state_dict_keys']} keys, {info['inputs']}, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
