"""irzoo's `seeded-normal` pos_embed default for SE-SymUNet, in Python, from its specification
(docs/ARCHITECTURES.md; Sources/IRModels/Core/SeededNormal.swift). Writes the first values of a
few streams to Tests/Fixtures/irmodels/seeded_normal.json so the Swift test proves that code and
specification agree, and so users can rebuild the default pos_embeds outside irzoo:

    from gen_seeded_normal_fixture import pos_embed_default
    pe = pos_embed_default("middle_guide_attention", seed=0, tokens=N, width=C * p * p)
"""
import json
import math
import os

import numpy as np

MASK = (1 << 64) - 1


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


class SeededNormal:
    def __init__(self, seed, stream):
        self.state = (seed ^ fnv1a64(stream)) & MASK
        self.spare = None

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def next(self):
        if self.spare is not None:
            s, self.spare = self.spare, None
            return s
        u1 = ((self.next_u64() >> 11) + 1) * 2.0 ** -53
        u2 = (self.next_u64() >> 11) * 2.0 ** -53
        r = math.sqrt(-2.0 * math.log(u1))
        angle = 2.0 * math.pi * u2
        self.spare = r * math.sin(angle)
        return r * math.cos(angle)


def pos_embed_default(module_path, seed, tokens, width):
    """The [1, tokens, width] float32 tensor irzoo uses when --aux gives none for `module_path`."""
    g = SeededNormal(seed, module_path)
    return np.array([g.next() for _ in range(tokens * width)], dtype=np.float32).reshape(1, tokens, width)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "irmodels")
    os.makedirs(out, exist_ok=True)
    cases = []
    for seed, stream in [(0, "middle_guide_attention"), (0, "decoder_refine_attentions.2"), (12345, "middle_guide_attention"),
                         (2 ** 64 - 1, "")]:
        g = SeededNormal(seed, stream)
        cases.append(dict(seed=str(seed), stream=stream, fnv1a64=str(fnv1a64(stream)),
                          values=[float(np.float32(g.next())) for _ in range(33)]))
    with open(os.path.join(out, "seeded_normal.json"), "w") as f:
        json.dump(dict(cases=cases), f, indent=1)
        f.write("\n")
    print("wrote", os.path.join(out, "seeded_normal.json"))


if __name__ == "__main__":
    main()
