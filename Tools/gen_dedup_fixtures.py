"""Writes Tests/Fixtures/dedup/: the SAME small tensors in every container irzoo reads, so a test
can check that they all land on one store blob (issue 19), plus a different model.

  same-zip.pth         torch.save(sd)                                   (zip, PyTorch >= 1.6 default)
  same-legacy.pth      torch.save(sd, _use_new_zipfile_serialization=False)
  same.safetensors     safetensors.torch.save_file(sd)
  same-basicsr.pth     torch.save({'params_ema': sd, 'params': sd})     (BasicSR's EMA wrapper)
  other.pth            torch.save(other): same names and shapes, other values
  expected.json        per-tensor SHA-256 of the little-endian bytes, as PyTorch holds them

Usage: python Tools/gen_dedup_fixtures.py   (fixed seeds: the files are reproducible)
"""
import hashlib
import json
import os

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "dedup")


def tensors(seed):
    g = torch.Generator().manual_seed(seed)
    return {
        "body.0.weight": torch.randn(8, 3, 3, 3, generator=g),
        "body.0.bias": torch.randn(8, generator=g).half(),
        "body.2.weight": torch.randn(3, 8, 1, 1, generator=g).to(torch.bfloat16),
        "steps": torch.tensor([seed, 7], dtype=torch.int64),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = tensors(19)
    torch.save(sd, os.path.join(OUT, "same-zip.pth"))
    torch.save(sd, os.path.join(OUT, "same-legacy.pth"), _use_new_zipfile_serialization=False)
    save_file(sd, os.path.join(OUT, "same.safetensors"))
    torch.save({"params_ema": sd, "params": sd}, os.path.join(OUT, "same-basicsr.pth"))
    torch.save(tensors(20), os.path.join(OUT, "other.pth"))
    expected = {name: {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                       "sha256": hashlib.sha256(t.contiguous().view(torch.uint8).numpy().tobytes()).hexdigest()}
                for name, t in sd.items()}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"tensors": expected}, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
