"""Golden fixtures for UniRestorer's Restormer, LoRA-Restormer and NAFNetLocal experts: tiny
configs of our reference modules (Tools/reference/restormer.py, nafnet.py), saved as BasicSR
saves them (`torch.save({'params': state_dict})`), with fixed inputs and PyTorch's outputs.

Writes Tests/Fixtures/models/<case>/:
  model.pth        {'params': state_dict} (the LoRA case unmerged: lora_A, lora_B, conv.weight)
  input.npy        [1, 3, H, W] float32 in [0, 1]; sides not multiples of the pad multiple
  output.npy       the reference's answer (upstream pads and crops inside forward)
  input-small.npy, output-small.npy   (nafnet-local only) a size where every TLSC pool is global
  config.json      the family config as the registry spells it (the LoRA case: the merged Restormer's)
  reference.json   sizes, counts, TLSC kernels

Every parameter is random, including the ones a default init leaves degenerate: LayerNorm
weights/biases, MDTA temperatures, NAFBlock beta/gamma (zero-init upstream) and lora_B (zero-init).

Usage: python Tools/gen_unirestorer_expert_goldens.py  (deterministic: fixed seeds)
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, HERE)
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models")

import nafnet  # noqa: E402
import restormer  # noqa: E402

RESTORMER_WB = dict(dim=4, num_blocks=(1, 1, 1, 2), num_refinement_blocks=1, heads=(1, 2, 2, 4),
                    ffn_expansion_factor=2.66, bias=False, LayerNorm_type="WithBias")
RESTORMER_BF = dict(dim=6, num_blocks=(1, 2, 1, 1), num_refinement_blocks=2, heads=(1, 2, 4, 4),
                    ffn_expansion_factor=2.66, bias=False, LayerNorm_type="BiasFree")
LORA = dict(dim=4, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, heads=(1, 2, 2, 4),
            ffn_expansion_factor=2.66, bias=False, LayerNorm_type="WithBias")
# train 16 x 24 (padded to 16 x 32 in the construction pass): kernels h 24/12/6/3/1, w 48/24/12/6/3,
# so a 50 x 37 input (padded 64 x 48) pools locally at every level, a 16 x 16 one globally everywhere.
NAF = dict(width=4, enc_blk_nums=(1, 1, 1, 2), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1), train_size=(1, 3, 16, 24))

CASES = [
    # name, builder, family config, input (H, W)
    ("restormer-withbias", lambda: restormer.Restormer(**RESTORMER_WB), ("restormer", RESTORMER_WB), (19, 27)),
    ("restormer-biasfree", lambda: restormer.Restormer(**RESTORMER_BF), ("restormer", RESTORMER_BF), (21, 30)),
    ("restormer-lora", lambda: restormer.LoRARestormer(r=8, lora_alpha=16, **LORA), ("restormer", LORA), (17, 22)),
    ("nafnet-local", lambda: nafnet.NAFNetLocal(**NAF), ("nafnet", NAF), (50, 37)),
]


def randomise(net, gen):
    def uniform(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)

    with torch.no_grad():
        for name, p in net.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "temperature":
                uniform(p, 0.4, 2.0)
            elif "norm" in name and leaf == "weight":
                uniform(p, 0.6, 1.4)
            elif "norm" in name and leaf == "bias":
                uniform(p, -0.3, 0.3)
            elif leaf in ("beta", "gamma"):
                uniform(p, -0.8, 0.8)
            elif leaf == "lora_B":
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
            elif leaf == "lora_A":
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
            elif leaf == "bias":
                uniform(p, -0.2, 0.2)


def registry_config(family, kwargs):
    if family == "restormer":
        config = {"inp_channels": 3, "out_channels": 3}
    else:
        config = {"img_channel": 3}
    config.update({k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()})
    return config


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    import check_unirestorer_expert_keys
    if check_unirestorer_expert_keys.main() != 0:
        raise SystemExit("reference modules do not match the published key lists")
    for index, (name, make, (family, kwargs), (h, w)) in enumerate(CASES):
        torch.manual_seed(3000 + index)
        gen = torch.Generator().manual_seed(4000 + index)
        net = make()
        randomise(net, gen)
        net.eval()
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        image = torch.rand(1, 3, h, w, generator=gen)
        with torch.no_grad():
            out = net(image)
        state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        torch.save({"params": state}, os.path.join(folder, "model.pth"))
        np.save(os.path.join(folder, "input.npy"), image.numpy())
        np.save(os.path.join(folder, "output.npy"), out.numpy())
        write_json(os.path.join(folder, "config.json"), registry_config(family, kwargs))
        info = {"input_hw": [h, w], "parameters": restormer.parameter_count(net), "state_dict_keys": len(state),
                "output_abs_max": float(out.abs().max()), "output_minus_input_abs_max": float((out - image).abs().max())}
        if name == "restormer-lora":
            plain = restormer.Restormer(**LORA)
            plain.load_state_dict(restormer.merged_state_dict(net))
            with torch.no_grad():
                info["merged_plain_vs_lora_max_abs"] = float((plain.eval()(image) - out).abs().max())
                info["lora_delta_abs_max"] = max(float((m.effective_weight() - m.conv.weight).abs().max())
                                                 for m in net.modules() if isinstance(m, restormer.ConvLoRA))
        if family == "nafnet":
            small = torch.rand(1, 3, 16, 16, generator=gen)
            with torch.no_grad():
                np.save(os.path.join(folder, "output-small.npy"), net(small).numpy())
            np.save(os.path.join(folder, "input-small.npy"), small.numpy())
            info["tlsc_kernels"] = net.kernel_sizes()
            # How far the local pooling moves the answer from the global one (the test must see it).
            glob = nafnet.NAFNet(**{k: v for k, v in NAF.items() if k != "train_size"})
            glob.load_state_dict(net.state_dict())
            with torch.no_grad():
                info["local_vs_global_max_abs"] = float((glob.eval()(image) - out).abs().max())
        write_json(os.path.join(folder, "reference.json"), info)
        size = sum(os.path.getsize(os.path.join(folder, x)) for x in os.listdir(folder))
        print(f"{name}: {info['parameters']:,} params, {len(state)} keys, input {h}x{w}, "
              f"|out - in| <= {info['output_minus_input_abs_max']:.3f}, {size / 1024:.0f} KiB")
        print("   ", {k: v for k, v in info.items() if k.endswith("max_abs") or k == "tlsc_kernels" or k == "lora_delta_abs_max"})


if __name__ == "__main__":
    main()
