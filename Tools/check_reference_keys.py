"""Checks that our reference modules in Tools/reference produce exactly the upstream
state_dict keys, shapes and order listed in Tests/Fixtures/keys (copies of
shared/architectures/*keys*), and the published parameter counts.

Builds the published configs on the meta device (no memory, no weights).
Usage: python Tools/check_reference_keys.py   (exit 1 on any difference)
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
KEYS = os.path.join(HERE, "..", "Tests", "Fixtures", "keys")

import clip_vision  # noqa: E402
import symunet  # noqa: E402


def read_key_list(name):
    rows = []
    with open(os.path.join(KEYS, name)) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            rows.append((parts[0], [int(d) for d in parts[1].strip("[]").split(",") if d.strip()]))
    return rows


def actual(module):
    return [(k, list(v.shape)) for k, v in module.state_dict().items()]


def compare(label, got, want, ordered=True):
    ok = True
    if ordered and [k for k, _ in got] != [k for k, _ in want]:
        gk, wk = [k for k, _ in got], [k for k, _ in want]
        missing = [k for k in wk if k not in set(gk)]
        extra = [k for k in gk if k not in set(wk)]
        first = next((i for i, (a, b) in enumerate(zip(gk, wk)) if a != b), None)
        print(f"{label}: key order/set differs; missing {missing[:5]} extra {extra[:5]} first diff at {first}")
        ok = False
    g, w = dict(got), dict(want)
    if set(g) != set(w):
        print(f"{label}: missing {sorted(set(w) - set(g))[:5]} unexpected {sorted(set(g) - set(w))[:5]}")
        ok = False
    bad = [(k, g[k], w[k]) for k in g.keys() & w.keys() if g[k] != w[k]]
    if bad:
        print(f"{label}: {len(bad)} shapes differ, e.g. {bad[:3]}")
        ok = False
    print(f"{label}: {'OK' if ok else 'FAILED'} ({len(got)} keys)")
    return ok


def main():
    ok = True
    with torch.device("meta"):
        net = symunet.SymUNet(**symunet.PUBLISHED)
        ok &= compare("SymUNet w48", actual(net), read_key_list("symunet_w48_state_dict_keys.tsv"))
        n = symunet.parameter_count(net)
        print(f"  parameters {n:,} (want 22,288,827)")
        ok &= n == 22_288_827

        clip = clip_vision.HFCLIPModel(clip_vision.VIT_L_14)
        se = symunet.SESymUNet(clip, **symunet.PUBLISHED_SE)
        ok &= compare("SE-SymUNet w48", actual(se), read_key_list("se_symunet_w48_state_dict_keys.tsv"))
        own = sum(p.numel() for name, p in se.named_parameters() if not name.startswith("clip_model."))
        print(f"  own parameters {own:,} (want 67,432,643)")
        ok &= own == 67_432_643

        want = read_key_list("clip_hf_vitl14_vision_keys.txt")
        got = [(k, s) for k, s in actual(clip) if k.startswith("vision_model.") or k == "visual_projection.weight"]
        ok &= compare("CLIP ViT-L/14 HF vision", got, want, ordered=False)
        vision = sum(v.numel() for k, v in clip.state_dict().items()
                     if k.startswith("vision_model.") or k == "visual_projection.weight")
        print(f"  vision parameters {vision:,} (want 303,966,208)")
        ok &= vision == 303_966_208

        openai = clip_vision.OpenAICLIP(clip_vision.VIT_L_14)
        want = read_key_list("clip_openai_vitl14_keys.txt")
        got = [(k, s) for k, s in actual(openai)
               if k not in ("input_resolution", "context_length", "vocab_size")]
        ok &= compare("CLIP ViT-L/14 OpenAI", got, want, ordered=False)
    print("ALL OK" if ok else "DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
