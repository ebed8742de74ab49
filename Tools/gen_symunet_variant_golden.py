"""Writes Tests/Fixtures/models/symunet-variant/: a SymUNet config no registered manifest has
(BiasFree LayerNorm, convolution biases, other heads and expansion factor), in BasicSR's
container, with a fixed input and PyTorch's output, so the Swift model's BiasFree and bias paths
are golden-tested and `irzoo import` detects a user's own variant from shapes.

Usage: python Tools/gen_symunet_variant_golden.py
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
import symunet  # noqa: E402

OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models", "symunet-variant")
CONFIG = dict(img_channel=3, width=6, enc_blk_nums=[1, 2], middle_blk_num=1, dec_blk_nums=[2, 1],
              restormer_heads=[2, 3], restormer_middle_heads=4, ffn_expansion_factor=2.0, bias=True,
              LayerNorm_type="BiasFree")


def main():
    torch.set_num_threads(1)
    torch.manual_seed(11)
    gen = torch.Generator().manual_seed(11)
    net = symunet.SymUNet(**CONFIG).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("temperature"):
                p.copy_(0.5 + torch.rand(p.shape, generator=gen))
            elif name.endswith("body.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
    os.makedirs(OUT, exist_ok=True)
    torch.save({"params": net.state_dict()}, os.path.join(OUT, "checkpoint.pth"))
    x = torch.rand(1, 3, 19, 30, generator=gen)  # two levels: padded to a multiple of 2**2 * 4 = 16, 32x32
    with torch.no_grad():
        y = net(x)
    np.save(os.path.join(OUT, "input.npy"), x.numpy())
    np.save(os.path.join(OUT, "output.npy"), y.numpy())
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    print(f"symunet-variant: {symunet.parameter_count(net)} parameters, {len(net.state_dict())} tensors")


if __name__ == "__main__":
    main()
