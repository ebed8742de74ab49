"""Golden fixtures for the SDXL VAE: a tiny diffusers 0.42 AutoencoderKL (the reference here is
diffusers itself), every parameter randomised, saved in both layouts irzoo imports.

Writes Tests/Fixtures/models/sdxl-vae-tiny/:
  diffusers.safetensors  the diffusers state_dict (Linear attention projections)
  ldm.safetensors        the same weights under the original LDM single-file names
                         (`first_stage_model.` prefix, 1x1-conv attention kernels), written by
                         inverting diffusers' converter (Tools/sdxl_layouts.py) and checked by
                         running diffusers' convert_ldm_vae_checkpoint on it
  image.npy              an image [1, 3, 32, 40] in [-1, 1]
  moments.npy            quant_conv(encoder(image)): mean | logvar
  mean.npy               latent_dist.mean
  latent.npy             a latent [1, 4, 4, 5]
  decoded.npy            decode(latent).sample
  rgb.npy                an RGB image [1, 3, 32, 40] in [0, 1] (irzoo run's input)
  roundtrip.npy          (decode(mean(encode(rgb*2-1))) / 2 + 0.5).clamp(0, 1)
  rgb_latent.npy         mean(encode(rgb*2-1)) * scaling_factor (irzoo run --vae-mode encode)
  rgb_latent_decoded.npy (decode(rgb_latent / scaling_factor) / 2 + 0.5).clamp(0, 1) (--vae-mode decode)
  config.json            the sdxl-vae config the shapes follow

Usage: /opt/irzoo-venv/bin/python Tools/gen_sdxl_vae_goldens.py  (deterministic: fixed seeds)
"""
import json
import os
import sys

import numpy as np
import torch
from diffusers import AutoencoderKL
from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sdxl_layouts import vae_diffusers_to_ldm  # noqa: E402

OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models", "sdxl-vae-tiny")

CONFIG = dict(in_channels=3, out_channels=3, block_out_channels=[8, 16, 16, 16], layers_per_block=2,
              latent_channels=4, norm_num_groups=2, scaling_factor=0.13025)


def randomise(net, gen):
    """Norm weights near 1, biases and everything else uniform: no zero or identity left."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.8 + 0.6)
            elif name.endswith("bias"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.4 - 0.2)
            else:
                fan_in = p[0].numel()
                bound = 1.7 / fan_in ** 0.5
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(8)
    vae = AutoencoderKL(down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        **CONFIG).eval()
    randomise(vae, gen)
    os.makedirs(OUT, exist_ok=True)
    sd = {k: v.contiguous() for k, v in vae.state_dict().items()}
    save_file(sd, os.path.join(OUT, "diffusers.safetensors"))

    ldm = vae_diffusers_to_ldm(sd, levels=len(CONFIG["block_out_channels"]))
    back = convert_ldm_vae_checkpoint(ldm, dict(vae.config))
    assert set(back) == set(sd), sorted(set(back) ^ set(sd))
    for k in sd:
        assert torch.equal(back[k].reshape(sd[k].shape), sd[k]) and back[k].shape == sd[k].shape, k
    save_file({"first_stage_model." + k: v.contiguous() for k, v in ldm.items()}, os.path.join(OUT, "ldm.safetensors"))

    image = torch.rand(1, 3, 32, 40, generator=gen) * 2 - 1
    latent = torch.randn(1, 4, 4, 5, generator=gen)
    rgb = torch.rand(1, 3, 32, 40, generator=gen)
    with torch.no_grad():
        moments = vae.quant_conv(vae.encoder(image))
        mean = vae.encode(image).latent_dist.mean
        decoded = vae.decode(latent).sample
        roundtrip = (vae.decode(vae.encode(rgb * 2 - 1).latent_dist.mean).sample / 2 + 0.5).clamp(0, 1)
        rgb_latent = vae.encode(rgb * 2 - 1).latent_dist.mean * CONFIG["scaling_factor"]
        rgb_latent_decoded = (vae.decode(rgb_latent / CONFIG["scaling_factor"]).sample / 2 + 0.5).clamp(0, 1)
    for name, t in [("image", image), ("moments", moments), ("mean", mean), ("latent", latent),
                    ("decoded", decoded), ("rgb", rgb), ("roundtrip", roundtrip),
                    ("rgb_latent", rgb_latent), ("rgb_latent_decoded", rgb_latent_decoded)]:
        np.save(os.path.join(OUT, name + ".npy"), t.numpy().astype(np.float32))
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2, sort_keys=True)
        f.write("\n")
    n = sum(v.numel() for v in sd.values())
    print(f"sdxl-vae-tiny: {len(sd)} tensors, {n} parameters -> {OUT}")


if __name__ == "__main__":
    main()
