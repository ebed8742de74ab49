"""Golden fixtures for AnyIR and PromptIR: tiny configs of our reference modules
(Tools/reference/anyir.py, promptir.py), saved the way the upstream Lightning training code
saves them, with a fixed input and PyTorch's output.

Writes Tests/Fixtures/models/<case>/:
  model.ckpt       a Lightning checkpoint: {'state_dict': {'net.' + key: tensor}, 'epoch',
                   'global_step', 'pytorch-lightning_version', 'optimizer_states' (AdamW state for
                   every parameter) and 'lr_schedulers' (left out for save_weights_only), 'loops',
                   'callbacks', and 'hyper_parameters' as an argparse.Namespace, a plain dict, or
                   absent (AnyIR's and PromptIR's own code save none)
  input.npy        the input image [1, 3, H, W], float32 in [0, 1]
  output.npy       the reference's answer, float32
  input.png        (anyir-s only) the input rounded to 8-bit RGB, for the CLI test
  png_output.npy   (anyir-s only) the reference's answer to the PNG's pixels (value / 255)
  config.json      the family config the shapes follow (as the registry spells it)
  reference.json   how the case was made: sizes, counts, the FFT-vs-sum gap of the reference

Every value a default initialisation would leave degenerate is randomised, so a wrong formula
cannot hide behind an identity: BatchNorm weight/bias/running statistics, LayerNorm weights,
the per-block blend scalar `lam` (also outside [0, 1]: upstream does not clamp it), `tau`,
`temperature`, prompt banks. Inputs whose sides are not multiples of 8 are answered the way
irzoo documents (docs/ARCHITECTURES.md): reflect-pad right and bottom to a multiple of 8, run,
crop back; upstream itself refuses such sizes.

Usage: python Tools/gen_anyir_goldens.py  (deterministic: fixed seeds)
"""
import argparse
import collections
import json
import os
import sys

import torch
import torch.nn.functional as F
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, HERE)
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models")

import anyir  # noqa: E402
import promptir  # noqa: E402

CASES = [
    # name, family, constructor kwargs, input (H, W), hyper_parameters style, weights_only
    # (sizes keep each folder under 1 MB; the optimizer state alone is twice the weights)
    ("anyir-t", "anyir", dict(dim=4, num_blocks=(1, 1, 2, 2), num_refinement_blocks=1, heads=(1, 2, 4, 8),
                               ffn_expansion_factor=2), (24, 32), "namespace", False),
    # Sides 21 x 30 are not multiples of 8: padded to 24 x 32 and cropped back.
    ("anyir-s", "anyir", dict(dim=6, num_blocks=(2, 1, 1, 1), num_refinement_blocks=2, heads=(1, 2, 4, 4),
                               ffn_expansion_factor=2), (21, 30), "dict", True),
    # Prompt sizes chosen so the bilinear resize both enlarges (8 -> 20x12, 4 -> 10x6) and shrinks (6 -> 5x3).
    # The unused chnl_reduce*/reduce_noise_channel_* convs keep upstream's literal sizes (114k values).
    ("promptir", "promptir", dict(dim=4, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, heads=(1, 2, 4, 8),
                                   ffn_expansion_factor=2.66, decoder=True, prompt_dims=(4, 8, 12), prompt_len=5,
                                   prompt_sizes=(8, 4, 6)), (40, 24), None, True),
]


def randomise(net, gen):
    """Moves every parameter and buffer away from its default so that no path is an identity."""
    def uniform(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)

    with torch.no_grad():
        for name, p in net.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "lam":
                uniform(p, -0.4, 1.4)
            elif leaf in ("tau", "temperature"):
                uniform(p, 0.4, 2.0)
            elif ".norm" in name and leaf == "weight" or "body.weight" in name:
                uniform(p, 0.6, 1.4)
            elif ".norm" in name and leaf == "bias" or "body.bias" in name:
                uniform(p, -0.3, 0.3)
            elif leaf == "prompt_param":
                uniform(p, 0.0, 1.0)
            elif leaf == "bias":
                uniform(p, -0.2, 0.2)
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.3)
            elif name.endswith("running_var"):
                uniform(b, 0.5, 2.0)
            elif name.endswith("num_batches_tracked"):
                b.fill_(563940)


def reference_output(net, image):
    """The network's answer; sides that are not multiples of 8 are reflect-padded right/bottom and cropped."""
    h, w = image.shape[-2:]
    ph, pw = (-h) % 8, (-w) % 8
    x = F.pad(image, (0, pw, 0, ph), mode="reflect") if ph or pw else image
    with torch.no_grad():
        return net(x)[..., :h, :w].contiguous()


def lightning_checkpoint(net, hparams_style, hparams, weights_only):
    """What Lightning's ModelCheckpoint writes for a LightningModule holding `self.net`
    (`save_weights_only=True` leaves out the optimizer and scheduler state)."""
    state = collections.OrderedDict(("net." + k, v.detach().clone()) for k, v in net.state_dict().items())
    params = list(net.parameters())
    gen = torch.Generator().manual_seed(7)
    # AdamW state: per parameter index, step + two moments (what makes real .ckpt files ~3x the weights).
    opt_state = {i: {"step": torch.tensor(563940.0), "exp_avg": torch.randn(p.shape, generator=gen) * 1e-3,
                     "exp_avg_sq": torch.rand(p.shape, generator=gen) * 1e-6} for i, p in enumerate(params)}
    ckpt = {
        "epoch": 129,
        "global_step": 563940,
        "pytorch-lightning_version": "2.1.2",
        "state_dict": state,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 130, "completed": 129}}}},
        "callbacks": {"ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 0, "
                      "'every_n_epochs': 1, 'train_time_interval': None}": {"best_model_score": None}},
        "optimizer_states": [{"state": opt_state, "param_groups": [{
            "lr": 1.9e-6, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False,
            "maximize": False, "foreach": None, "capturable": False, "differentiable": False, "fused": None,
            "initial_lr": 2e-4, "params": list(range(len(params)))}]}],
        "lr_schedulers": [{"warmup_epochs": 15, "max_epochs": 150, "warmup_start_lr": 0.0, "eta_min": 0.0,
                           "base_lrs": [2e-4], "last_epoch": 129, "_step_count": 130, "verbose": False,
                           "_get_lr_called_within_step": False, "_last_lr": [1.9e-6]}],
    }
    if weights_only:
        del ckpt["optimizer_states"], ckpt["lr_schedulers"]
    if hparams_style == "namespace":
        ckpt["hyper_parameters"] = argparse.Namespace(**hparams)
    elif hparams_style == "dict":
        ckpt["hyper_parameters"] = dict(hparams)
    return ckpt


def registry_config(family, kwargs):
    """The constructor arguments as the registry's config JSON spells them (every field)."""
    config = {"inp_channels": 3, "out_channels": 3, "bias": False, "LayerNorm_type": "WithBias"}
    config.update({k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()})
    return config


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def build(family, kwargs):
    if family == "anyir":
        return anyir.AnyIR(**kwargs)
    return promptir.PromptIR(**kwargs)


def main():
    # The reference modules must first reproduce the published key lists exactly.
    import check_anyir_reference_keys
    if check_anyir_reference_keys.main() != 0:
        raise SystemExit("reference modules do not match the published key lists")
    for index, (name, family, kwargs, (h, w), hp_style, weights_only) in enumerate(CASES):
        torch.manual_seed(1000 + index)
        gen = torch.Generator().manual_seed(2000 + index)
        net = build(family, kwargs)
        randomise(net, gen)
        net.eval()
        image = torch.rand(1, 3, h, w, generator=gen)
        out = reference_output(net, image)
        extra = {}
        if family == "anyir":
            net.set_frequency_as_sum(True)
            extra["fft_vs_sum_max_abs"] = float((reference_output(net, image) - out).abs().max())
            net.set_frequency_as_sum(False)
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        hparams = {"epochs": 150, "batch_size": 32, "lr": 2e-4, "de_type": ["denoise_15", "derain", "dehaze"],
                   "patch_size": 128, "num_gpus": 4}
        torch.save(lightning_checkpoint(net, hp_style, hparams, weights_only), os.path.join(folder, "model.ckpt"))
        np.save(os.path.join(folder, "input.npy"), image.numpy())
        np.save(os.path.join(folder, "output.npy"), out.numpy())
        write_json(os.path.join(folder, "config.json"), registry_config(family, kwargs))
        if name == "anyir-s":
            pixels = np.rint(image[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
            Image.fromarray(pixels).save(os.path.join(folder, "input.png"))
            decoded = torch.from_numpy(np.array(Image.open(os.path.join(folder, "input.png")).convert("RGB")))
            png_input = (decoded.permute(2, 0, 1).float() / 255).unsqueeze(0).contiguous()
            np.save(os.path.join(folder, "png_output.npy"), reference_output(net, png_input).numpy())
        info = {"input_hw": [h, w], "parameters": promptir.parameter_count(net),
                "state_dict_keys": len(net.state_dict()), "hyper_parameters": hp_style,
                "optimizer_state": not weights_only, "output_abs_max": float(out.abs().max()),
                "output_minus_input_abs_max": float((out - image).abs().max()), **extra}
        write_json(os.path.join(folder, "reference.json"), info)
        size = sum(os.path.getsize(os.path.join(folder, x)) for x in os.listdir(folder))
        print(f"{name}: {info['parameters']:,} params, {info['state_dict_keys']} keys, input {h}x{w}, "
              f"|out| <= {info['output_abs_max']:.3f}, |out - in| <= {info['output_minus_input_abs_max']:.3f}, "
              f"{size / 1024:.0f} KiB" + (f", fft vs sum {extra['fft_vs_sum_max_abs']:.2e}" if extra else ""))


if __name__ == "__main__":
    main()
