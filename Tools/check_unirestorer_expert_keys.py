"""Checks that Tools/reference/restormer.py and nafnet.py build exactly the state_dict keys, shapes
and order of UniRestorer's experts (Tests/Fixtures/keys/unirestorer_*_keys.txt: the prefixes
l0_experts.0, l1_experts.0, l2_experts.3 and l1_experts.6 of
shared/architectures/unirestorer_state_dict_keys.txt) and their parameter counts.

Usage: python Tools/check_unirestorer_expert_keys.py   (exit 1 on any difference)
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, HERE)

import nafnet  # noqa: E402
import restormer  # noqa: E402
from check_anyir_reference_keys import check  # noqa: E402

CASES = [
    ("Restormer WithBias", lambda: restormer.Restormer(**restormer.PUBLISHED, LayerNorm_type="WithBias"),
     "unirestorer_restormer_withbias_keys.txt", 494, 26_126_644),
    ("Restormer BiasFree", lambda: restormer.Restormer(**restormer.PUBLISHED, LayerNorm_type="BiasFree"),
     "unirestorer_restormer_biasfree_keys.txt", 406, 26_111_668),
    ("LoRARestormer", lambda: restormer.LoRARestormer(r=8, lora_alpha=16, **restormer.PUBLISHED),
     "unirestorer_lora_restormer_keys.txt", 1042, 31_771_300),
    ("NAFNetLocal", lambda: nafnet.NAFNetLocal(**nafnet.PUBLISHED), "unirestorer_nafnet_local_keys.txt",
     664, 67_888_835),
]


def main():
    ok = True
    with torch.device("meta"):
        for label, make, key_file, keys, params in CASES:
            ok &= check(label, make(), key_file, keys, params)
    # The TLSC kernels of the published config (a real construction-time pass at 256x256).
    torch.manual_seed(0)
    tiny_width = nafnet.NAFNetLocal(width=2, enc_blk_nums=(1, 1, 1, 1), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))
    kernels = [k[0] for k in tiny_width.kernel_sizes()]
    want = [384, 192, 96, 48, 48, 96, 192, 384, 24]  # encoders, decoders, middle (module order)
    print(f"NAFNetLocal TLSC kernels at train 256: {kernels} {'OK' if kernels == want else 'FAILED, want ' + str(want)}")
    ok &= kernels == want
    print("ALL OK" if ok else "DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
