#!/usr/bin/env python3
"""Writes a synthetic f32 state dict with torch.save, for the convert and store benchmarks.

    make_torch_checkpoint.py OUT.pth GIB [TENSOR_MIB]

GIB of f32 weights in tensors of TENSOR_MIB (default 64) each, BasicSR-wrapped ({'params': sd})
as restoration checkpoints are. Values are uniform random with a fixed seed.
"""
import sys

import torch

out, gib = sys.argv[1], float(sys.argv[2])
tensor_mib = int(sys.argv[3]) if len(sys.argv) > 3 else 64
torch.manual_seed(0)
n = int(gib * 1024 // tensor_mib)
elements = tensor_mib << 18
sd = {f"body.{i}.conv.weight": torch.empty(elements // 1024, 1024).uniform_(-1, 1) for i in range(n)}
sd["body.0.conv.bias"] = torch.zeros(1024)
torch.save({"params": sd}, out)
print(f"{out}: {n} tensors of {tensor_mib} MiB", file=sys.stderr)
