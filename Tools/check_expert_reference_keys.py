"""Checks that Tools/reference/dehazeformer.py and retinexformer.py produce exactly the upstream
state_dict keys, shapes and order of the UniRestorer experts (Tests/Fixtures/keys, the
`l1_experts.4.` / `l1_experts.5.` keys of shared/architectures/unirestorer_state_dict_keys.txt)
and the published parameter counts.

Builds the published configs on the meta device (no memory, no weights).
Usage: python Tools/check_expert_reference_keys.py   (exit 1 on any difference)
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, HERE)

import dehazeformer  # noqa: E402
import retinexformer  # noqa: E402
from check_anyir_reference_keys import check  # noqa: E402

CASES = [
    # label, constructor, key list, keys, parameters (buffers not counted)
    ("DehazeFormer-L", dehazeformer.dehazeformer_l, "dehazeformer_l_state_dict_keys.txt", 1004, 25_451_652),
    ("RetinexFormer", lambda: retinexformer.RetinexFormer(**retinexformer.UNIRESTORER),
     "retinexformer_state_dict_keys.txt", 122, 1_605_701),
]


def main():
    ok = True
    for label, make, key_file, keys, params in CASES:
        with torch.device("meta"):
            net = make()
        ok = check(label, net, key_file, keys, params) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
