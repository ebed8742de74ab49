"""irzoo's `seeded-normal` pos_embed default for SE-SymUNet (the Swift twin is
Sources/IRModels/SymUNet/PosEmbedDefault.swift): SplitMix64 seeded with
seed ^ FNV-1a-64(module path), Box-Muller in double precision, row-major [1, N, P]."""
import math

import numpy as np

MASK = (1 << 64) - 1


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def seeded_normal(seed, count):
    state = seed & MASK
    out = []

    def nxt():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform():
        return ((nxt() >> 11) + 1) * 2.0 ** -53

    while len(out) < count:
        r = math.sqrt(-2.0 * math.log(uniform()))
        theta = 2.0 * math.pi * uniform()
        out.append(r * math.cos(theta))
        if len(out) < count:
            out.append(r * math.sin(theta))
    return np.asarray(out, dtype=np.float32)


def default_pos_embed(module_path, tokens, patch_dim, seed=0):
    return seeded_normal(seed ^ fnv1a64(module_path), tokens * patch_dim).reshape(1, tokens, patch_dim)
