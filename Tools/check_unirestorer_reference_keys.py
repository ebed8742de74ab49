"""Checks that Tools/reference/unirestorer.py, built at the released size with the released
expert tree (init_experts_three_layers: 1 + 7 + 23 modules; DA-CLIP ViT-B/32 with its text tower),
produces exactly the published state_dict keys, shapes and order
(Tests/Fixtures/keys/unirestorer_state_dict_keys.txt, 18,471 keys) and 1,130,961,248 parameters.

Builds on the meta device (no memory, no weights).
Usage: python Tools/check_unirestorer_reference_keys.py   (exit 1 on any difference)
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, HERE)

import dehazeformer  # noqa: E402
import nafnet  # noqa: E402
import restormer  # noqa: E402
import retinexformer  # noqa: E402
import unirestorer  # noqa: E402
from check_anyir_reference_keys import read_key_list  # noqa: E402

VISION = dict(width=768, layers=12, heads=12, patch=32, image_size=224)
TEXT = dict(width=512, layers=12, heads=8, vocab=49408, context=77)


def released_tree():
    def wb():
        return restormer.Restormer(LayerNorm_type="WithBias", **restormer.PUBLISHED)

    def bf():
        return restormer.Restormer(LayerNorm_type="BiasFree", **restormer.PUBLISHED)

    def lora():
        return restormer.LoRARestormer(r=8, lora_alpha=16, LayerNorm_type="WithBias", **restormer.PUBLISHED)

    def retinex():
        return retinexformer.RetinexFormer(**retinexformer.UNIRESTORER)

    def naf():
        return nafnet.NAFNetLocal(**nafnet.PUBLISHED)

    dehaze = dehazeformer.dehazeformer_l
    l0 = [wb()]
    l1 = [bf() for _ in range(4)] + [dehaze(), retinex(), naf()]
    l2 = ([bf() for _ in range(3)] + [lora() for _ in range(4)] + [wb() for _ in range(10)]
          + [dehaze() for _ in range(2)] + [retinex() for _ in range(2)] + [naf() for _ in range(2)])
    return l0, l1, l2


def main():
    with torch.device("meta"):
        daclip = unirestorer.DaCLIP(unirestorer.CLIP(512, VISION, TEXT))
        model = unirestorer.UniRestorer(daclip, *released_tree(), 512)
    got = [(k, list(v.shape)) for k, v in model.state_dict(keep_vars=True).items()]
    want = read_key_list("unirestorer_state_dict_keys.txt")
    problems = []
    gk, wk = [k for k, _ in got], [k for k, _ in want]
    if gk != wk:
        first = next((i for i, (a, b) in enumerate(zip(gk, wk)) if a != b), min(len(gk), len(wk)))
        problems.append(f"key order/set differs at index {first} ({gk[first:first + 1]} vs {wk[first:first + 1]}): "
                        f"missing {sorted(set(wk) - set(gk))[:5]} extra {sorted(set(gk) - set(wk))[:5]}")
    shapes = dict(want)
    bad = [(k, s, shapes[k]) for k, s in got if k in shapes and s != shapes[k]]
    if bad:
        problems.append(f"{len(bad)} shapes differ, e.g. {bad[:3]}")
    # Unique parameters: the visual tower is registered twice (clip.visual and visual).
    params = sum(p.numel() for p in model.parameters())
    if params != 1_130_961_248:
        problems.append(f"{params} parameters, expected 1,130,961,248")
    print(f"UniRestorer: {len(got)} keys, {params} parameters: " + ("OK" if not problems else "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
