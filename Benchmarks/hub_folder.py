"""The Python side of Benchmarks/hub_folder.sh (issue 14): the SDXL UNet's 1,680 tensors (diffusers
names and shapes, read off a meta-device UNet2DConditionModel of the published config, so no
memory is spent on it), as float16 with seeded random bytes, written twice with the same bytes:
OUT/single/diffusion_pytorch_model.fp16.safetensors, and OUT/sharded/ in 5 shards of <= 1 GiB with
the diffusion_pytorch_model.safetensors.index.fp16.json diffusers writes, plus config.json in both.
Streamed: one tensor in memory at a time. Usage: hub_folder.py OUT
"""
import json
import os
import struct
import sys

import numpy as np
import torch
from diffusers import UNet2DConditionModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sdxl_torch import UNET  # noqa: E402

SHARD_BYTES = 1 << 30


def tensors():
    with torch.device("meta"):
        net = UNet2DConditionModel(**UNET)
    return [(k, list(v.shape)) for k, v in net.state_dict().items()], dict(net.config)


def write(path, items, block):
    """A safetensors file of `items` (name, shape) in F16, data from the repeating random `block`."""
    header, at = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in items:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [at, at + n]}
        at += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, shape in items:
            n = int(np.prod(shape)) * 2
            while n > 0:
                k = min(n, len(block))
                f.write(block[:k])
                n -= k
    return at


def main(out):
    items, config = tensors()
    block = np.random.default_rng(0).standard_normal(8 << 20).astype(np.float16).tobytes()  # 16 MiB
    config = {k: v for k, v in config.items() if not k.startswith("_")} | {"_class_name": "UNet2DConditionModel"}
    for sub in ("single", "sharded"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        json.dump(config, open(os.path.join(out, sub, "config.json"), "w"), indent=2, default=list)
    total = write(os.path.join(out, "single", "diffusion_pytorch_model.fp16.safetensors"), items, block)
    shards, current, size = [], [], 0
    for name, shape in items:
        n = int(np.prod(shape)) * 2
        if current and size + n > SHARD_BYTES:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += n
    shards.append(current)
    weight_map = {}
    for i, shard in enumerate(shards):
        file = f"diffusion_pytorch_model.fp16-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write(os.path.join(out, "sharded", file), shard, block)
        weight_map |= {name: file for name, _ in shard}
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
              open(os.path.join(out, "sharded", "diffusion_pytorch_model.safetensors.index.fp16.json"), "w"), indent=2)
    print(f"{len(items)} tensors, {total / 2**30:.2f} GiB, {len(shards)} shards")


if __name__ == "__main__":
    main(sys.argv[1])
