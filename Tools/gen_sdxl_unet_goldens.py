"""Golden fixtures for the SDXL UNet: a tiny diffusers 0.42 UNet2DConditionModel with SDXL's
structure (DownBlock2D then CrossAttnDownBlock2D, text_time added conditioning, linear
projections, GEGLU), every parameter randomised (the zero-initialised conv_out and proj_out
included), saved in both layouts irzoo imports.

Writes Tests/Fixtures/models/sdxl-unet-tiny/:
  diffusers.safetensors  the diffusers state_dict
  sgm.safetensors        the same weights under the original SGM single-file names
                         (`model.diffusion_model.` prefix, input_blocks/middle_block/output_blocks),
                         written by inverting diffusers' converter (Tools/sdxl_layouts.py) and checked
                         by running diffusers' convert_ldm_unet_checkpoint on it
  sample.npy, timestep.npy, encoder_hidden_states.npy, text_embeds.npy, time_ids.npy   the inputs
  output.npy             unet(...).sample
  sample_odd.npy, output_odd.npy   the same for a 7x10 latent, batch 1 (sides not multiples of 2:
                         upsample to the skip size)
  diffusers_f16.safetensors, output_f16.npy   the weights rounded to fp16, and the output of the
                         float32 model with those rounded weights
  aux_odd.npz            batch 1's conditioning under irzoo run's aux names (for the CLI test)
  config.json            the sdxl-unet config the shapes follow

Usage: /opt/irzoo-venv/bin/python Tools/gen_sdxl_unet_goldens.py  (deterministic: fixed seeds)
"""
import json
import os
import sys

import numpy as np
import torch
from diffusers import UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sdxl_layouts import unet_diffusers_to_sgm  # noqa: E402

OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models", "sdxl-unet-tiny")

TEXT_EMBEDS = 16
CONFIG = dict(in_channels=4, out_channels=4, block_out_channels=[8, 16],
              down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
              up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], layers_per_block=2,
              transformer_layers_per_block=[1, 2], attention_head_dim=[2, 2], cross_attention_dim=24,
              addition_embed_type="text_time", addition_time_embed_dim=8,
              projection_class_embeddings_input_dim=TEXT_EMBEDS + 6 * 8, norm_num_groups=4, norm_eps=1e-5)
EXTRA = dict(mid_block_type="UNetMidBlock2DCrossAttn", use_linear_projection=True, flip_sin_to_cos=True, freq_shift=0,
             act_fn="silu", sample_size=16)


def randomise(net, gen):
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.8 + 0.6)
            elif name.endswith("bias"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.4 - 0.2)
            else:
                fan_in = p[0].numel()
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * 1.7 / fan_in ** 0.5)


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(9)
    unet = UNet2DConditionModel(**CONFIG, **EXTRA).eval()
    randomise(unet, gen)
    os.makedirs(OUT, exist_ok=True)
    sd = {k: v.contiguous() for k, v in unet.state_dict().items()}
    save_file(sd, os.path.join(OUT, "diffusers.safetensors"))

    sgm = unet_diffusers_to_sgm(sd, CONFIG["layers_per_block"], len(CONFIG["block_out_channels"]))
    back = convert_ldm_unet_checkpoint(dict(sgm), dict(unet.config))
    assert set(back) == set(sd), sorted(set(back) ^ set(sd))
    for k in sd:
        assert torch.equal(back[k], sd[k]), k
    save_file(sgm, os.path.join(OUT, "sgm.safetensors"))

    b = 2
    sample = torch.randn(b, 4, 8, 12, generator=gen)
    timestep = torch.tensor([999.0, 421.0])
    ehs = torch.randn(b, 5, 24, generator=gen)
    text = torch.randn(b, TEXT_EMBEDS, generator=gen)
    time_ids = torch.tensor([[1024.0, 768.0, 0.0, 64.0, 1024.0, 768.0], [512.0, 512.0, 16.0, 0.0, 512.0, 512.0]])
    odd = torch.randn(1, 4, 7, 10, generator=gen)
    with torch.no_grad():
        cond = dict(text_embeds=text, time_ids=time_ids)
        out = unet(sample, timestep, encoder_hidden_states=ehs, added_cond_kwargs=cond).sample
        out_odd = unet(odd, timestep[:1], encoder_hidden_states=ehs[:1],
                       added_cond_kwargs=dict(text_embeds=text[:1], time_ids=time_ids[:1])).sample
    for name, t in [("sample", sample), ("timestep", timestep), ("encoder_hidden_states", ehs), ("text_embeds", text),
                    ("time_ids", time_ids), ("output", out), ("sample_odd", odd), ("output_odd", out_odd)]:
        np.save(os.path.join(OUT, name + ".npy"), t.numpy().astype(np.float32))
    # The same weights in fp16 (as published SDXL files are): irzoo widens them per layer run.
    sd16 = {k: v.half() for k, v in sd.items()}
    save_file(sd16, os.path.join(OUT, "diffusers_f16.safetensors"))
    unet.load_state_dict({k: v.float() for k, v in sd16.items()})
    with torch.no_grad():
        out_f16 = unet(sample, timestep, encoder_hidden_states=ehs, added_cond_kwargs=cond).sample
    np.save(os.path.join(OUT, "output_f16.npy"), out_f16.numpy().astype(np.float32))
    np.savez(os.path.join(OUT, "aux_odd.npz"), timestep=timestep[:1].numpy(), encoder_hidden_states=ehs[:1].numpy(),
             text_embeds=text[:1].numpy(), time_ids=time_ids[:1].numpy())
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2, sort_keys=True)
        f.write("\n")
    n = sum(v.numel() for v in sd.values())
    print(f"sdxl-unet-tiny: {len(sd)} tensors, {n} parameters, output max {out.abs().max():.3f} -> {OUT}")


if __name__ == "__main__":
    main()
