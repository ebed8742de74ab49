"""Writes random weights of a published shape into a directory (NOT the repo: they are large), for
measuring the store with pipeline-sized models (issue 19's note in docs/BENCHMARKS.md).

  python Tools/gen_pipeline_sized_weights.py KEYS.txt OUT.safetensors [--torch OUT.pth]

KEYS.txt is one of Tests/Fixtures/keys/*.txt ("name<TAB>[shape]" lines, '#' comments), e.g.
vae_diffusers_keys.txt (the SDXL VAE in diffusers layout, 83.7 M parameters, 335 MB in f32).
Values are seeded normal * 0.02 (f32): only the shapes and names matter for the store.
"""
import argparse
import json

import torch
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("keys")
    ap.add_argument("out")
    ap.add_argument("--torch", help="also write the same tensors with torch.save (zip)")
    args = ap.parse_args()
    g = torch.Generator().manual_seed(19)
    sd = {}
    for line in open(args.keys):
        if not line.strip() or line.startswith("#"):
            continue
        name, shape = line.rstrip("\n").split("\t")[:2]
        sd[name] = (torch.randn(*json.loads(shape), generator=g) * 0.02) if json.loads(shape) else torch.zeros(())
    save_file(sd, args.out)
    if args.torch:
        torch.save(sd, args.torch)
    print(f"{len(sd)} tensors, {sum(t.numel() for t in sd.values()):,} parameters")


if __name__ == "__main__":
    main()
