#!/usr/bin/env python3
"""PyTorch's answers for published-size networks on a degenerate case: every parameter (and float
buffer) 0.01 and a fixed ramp input, what the Swift tests build with `constantWeights(fill: 0.01)`:
UniRestorer's Restormer experts and NAFNetLocal on (i mod 13)/13 of shape [1, 3, 20, 18]
(UniRestorerExpertGoldenTests.swift), PromptIR on (i mod 13)/13 and AnyIR-T/S on (i mod 17)/17 of
shape [1, 3, 16, 16] (PromptIRTests.swift, AnyIRInventoryTests.swift).

Why the published size: the degenerate behaviour needs the full depth. With every weight equal,
every channel of a pixel is equal, so a LayerNorm sees zero variance and scales by 1/sqrt(eps)
(about 316); through the 44 blocks of the published Restormer the activations grow past the
float range. In the BiasFree Restormer the GDFN of decoder_level3.3 overflows to inf and the next
LayerNorm turns that into NaN: **every output is NaN, in float32 and in float64 alike**. The
WithBias Restormer re-centres each pixel, stays finite and large (about 1e5), and NAFNetLocal stays
finite. A tiny config does not grow that far, so only the outputs are stored (no weights: the test
makes the same constant tensors from the published key lists).

Writes Tests/Fixtures/models/published-degenerate/:
  restormer-withbias.npy, restormer-biasfree.npy, nafnet-local.npy   float32 [1, 3, 20, 18]
  promptir.npy, anyir-t.npy, anyir-s.npy                             float32 [1, 3, 16, 16]
  reference.json   per case: NaN/inf counts in float32 and float64, where float32 first went
                   non-finite, and the float32-vs-float64 agreement

Usage: python Tools/gen_published_degenerate_goldens.py [CASE ...]   (deterministic: no random numbers)
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models", "published-degenerate")

import anyir  # noqa: E402
import nafnet  # noqa: E402
import promptir  # noqa: E402
import restormer  # noqa: E402

FILL = 0.01

CASES = [
    # name, builder, input shape, ramp period
    ("restormer-withbias", lambda: restormer.Restormer(**restormer.PUBLISHED, LayerNorm_type="WithBias"), (1, 3, 20, 18), 13),
    ("restormer-biasfree", lambda: restormer.Restormer(**restormer.PUBLISHED, LayerNorm_type="BiasFree"), (1, 3, 20, 18), 13),
    ("nafnet-local", lambda: nafnet.NAFNetLocal(**nafnet.PUBLISHED, train_size=(1, 3, 256, 256)), (1, 3, 20, 18), 13),
    ("promptir", lambda: promptir.PromptIR(**promptir.PUBLISHED), (1, 3, 16, 16), 13),
    ("anyir-t", lambda: anyir.AnyIR(**anyir.TINY), (1, 3, 16, 16), 17),
    ("anyir-s", lambda: anyir.AnyIR(**anyir.SMALL), (1, 3, 16, 16), 17),
]


def degenerate_input(shape, period, dtype):
    n = int(np.prod(shape))
    return (torch.arange(n) % period).to(dtype).div(period).reshape(shape)


def first_non_finite(net, x):
    """The first module (in call order) whose output is not finite while its input is."""
    found = []

    def hook(name):
        def h(module, inputs, output):
            if found or not isinstance(output, torch.Tensor):
                return
            if not torch.isfinite(output).all() and all(torch.isfinite(t).all() for t in inputs if isinstance(t, torch.Tensor)):
                found.append(f"{name} ({type(module).__name__})")
        return h

    handles = [m.register_forward_hook(hook(n)) for n, m in net.named_modules() if n]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return found[0] if found else None


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    only = set(sys.argv[1:])
    path = os.path.join(OUT, "reference.json")
    info = json.load(open(path)) if os.path.exists(path) else {}
    info["fill"] = FILL
    for name, make, shape, period in CASES:
        if only and name not in only:
            continue
        outs = {}
        for dtype in (torch.float32, torch.float64):
            net = make().to(dtype).eval()
            with torch.no_grad():
                for p in net.parameters():
                    p.fill_(FILL)
                for b in net.buffers():  # BatchNorm running statistics, as the key lists carry them
                    if b.is_floating_point():
                        b.fill_(FILL)
                outs[dtype] = net(degenerate_input(shape, period, dtype))
            if dtype == torch.float32:
                where = first_non_finite(net, degenerate_input(shape, period, dtype))
        y32, y64 = outs[torch.float32], outs[torch.float64]
        same_nan = bool(torch.equal(torch.isnan(y32), torch.isnan(y64)))
        same_inf = bool(torch.equal(torch.isinf(y32), torch.isinf(y64)))
        assert same_nan and same_inf, f"{name}: float32 and float64 disagree on NaN/inf positions"
        finite = torch.isfinite(y64)
        rel = float(((y32.double() - y64).abs()[finite] / y64.abs()[finite].clamp_min(1)).max()) if finite.any() else 0.0
        np.save(os.path.join(OUT, f"{name}.npy"), y32.numpy().astype(np.float32))
        info[name] = {"input": f"(i mod {period})/{period}, shape {list(shape)}", "nan": int(torch.isnan(y32).sum()), "inf": int(torch.isinf(y32).sum()), "values": y32.numel(),
                      "first_non_finite_float32": where, "float32_vs_float64_max_rel": rel,
                      "abs_max": float(y32[torch.isfinite(y32)].abs().max()) if torch.isfinite(y32).any() else None}
        print(name, info[name])
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
