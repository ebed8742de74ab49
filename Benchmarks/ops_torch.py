#!/usr/bin/env python3
"""The PyTorch side of `make bench-ops`: the same ops as irzoo-bench, on 2 threads, best of N.
Prints one JSON object per op (same names and FLOP counts as the Swift side)."""
import json
import sys
import time

import torch
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 10
torch.set_num_threads(threads)
torch.manual_seed(0)


def best(fn):
    """Best wall time and best process CPU time (steadier on a loaded machine) of `repeats` runs."""
    with torch.inference_mode():
        fn()
        t = c = float("inf")
        for _ in range(repeats):
            s, cs = time.perf_counter(), time.process_time()
            fn()
            t = min(t, time.perf_counter() - s)
            c = min(c, time.process_time() - cs)
    return t, c


def report(name, flops, nbytes, fn):
    wall, cpu = best(fn)
    print(json.dumps({"op": name, "seconds": wall, "cpu_seconds": cpu, "flops": flops, "bytes": nbytes}), flush=True)


x64, w64 = torch.randn(1, 64, 256, 256), torch.randn(64, 64, 3, 3) * 0.05
report("conv3x3_64_256", 2.0 * 64 * 64 * 9 * 256 * 256, 2.0 * 64 * 256 * 256 * 4, lambda: F.conv2d(x64, w64, padding=1))
# The 3x3 convolutions of an SDXL UNet at a 64x64 latent (one per level).
for c, side in ((320, 64), (640, 32), (1280, 16)):
    xs, ws_ = torch.randn(1, c, side, side), torch.randn(c, c, 3, 3) * 0.02
    report(f"conv3x3_{c}_{side}", 2.0 * c * c * 9 * side * side, 2.0 * c * side * side * 4,
           lambda: F.conv2d(xs, ws_, padding=1))
x256, w256 = torch.randn(1, 256, 128, 128), torch.randn(256, 256, 1, 1) * 0.05
report("conv1x1_256_128", 2.0 * 256 * 256 * 128 * 128, 2.0 * 256 * 128 * 128 * 4, lambda: F.conv2d(x256, w256))
wdw = torch.randn(256, 1, 3, 3)
report("depthwise3x3_256_128", 2.0 * 9 * 256 * 128 * 128, 2.0 * 256 * 128 * 128 * 4, lambda: F.conv2d(x256, wdw, padding=1, groups=256))
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
report("matmul_1024", 2.0 * 1024 ** 3, 3.0 * 1024 * 1024 * 4, lambda: a @ b)

q, k, v = (torch.randn(1, 48, 256, 256) for _ in range(3))
temperature = torch.full((1, 1, 1), 1.3)


def mdta():
    # Restormer Attention.forward after the qkv convs (heads 1).
    qh, kh, vh = (t.reshape(1, 1, 48, 256 * 256) for t in (q, k, v))
    qh = F.normalize(qh, dim=-1)
    kh = F.normalize(kh, dim=-1)
    attn = (qh @ kh.transpose(-2, -1)) * temperature
    attn = attn.softmax(dim=-1)
    return (attn @ vh).reshape(1, 48, 256, 256)


report("channel_attention_48_256", 4.0 * 48 * 48 * 256 * 256, 4.0 * 48 * 256 * 256 * 4, mdta)

C, heads, ws, H = 96, 3, 8, 128
wq, wk, wv = (torch.randn(1, H, H, C) for _ in range(3))
bias = torch.randn(heads, ws * ws, ws * ws)
img = torch.zeros(1, H, H, 1)
cnt = 0
for hs in (slice(0, -ws), slice(-ws, -ws // 2), slice(-ws // 2, None)):
    for wsl in (slice(0, -ws), slice(-ws, -ws // 2), slice(-ws // 2, None)):
        img[:, hs, wsl, :] = cnt
        cnt += 1
mw = img.reshape(1, H // ws, ws, H // ws, ws, 1).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws)
mask = (mw.unsqueeze(1) - mw.unsqueeze(2))
mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


def swin():
    # Swin shifted-window attention on projected q, k, v (roll, partition, biased masked attention, merge, roll back).
    s = ws // 2
    def part(t):
        t = torch.roll(t, shifts=(-s, -s), dims=(1, 2))
        t = t.reshape(1, H // ws, ws, H // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
        return t.reshape(-1, ws * ws, heads, C // heads).permute(0, 2, 1, 3)
    qw, kw, vw = part(wq), part(wk), part(wv)
    attn = (qw * (C // heads) ** -0.5) @ kw.transpose(-2, -1)
    attn = attn + bias.unsqueeze(0) + mask.unsqueeze(1)
    attn = attn.softmax(-1)
    o = (attn @ vw).permute(0, 2, 1, 3).reshape(1, H // ws, H // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5).reshape(1, H, H, C)
    return torch.roll(o, shifts=(s, s), dims=(1, 2))


windows, n = (H // ws) ** 2, ws * ws
report("window_attention_96_128", windows * 4.0 * n * n * C, 4.0 * H * H * C * 4, swin)
