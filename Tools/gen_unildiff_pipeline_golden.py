"""End-to-end golden for `irzoo run unildiff`: a tiny UniLDiff (tiny SDXL VAE, LQ encoder, UNet,
both CLIP text encoders, DAFF) built with diffusers, transformers and our reference DAFF module,
run through the whole pipeline in PyTorch with the noise fed in (Swift's RNG is not torch's).

Pipeline (pipeline_FaithDiff_tlc.py without tiling; the choices marked * are irzoo's, see
docs/UNILDIFF.md):
  x = 2·LQ − 1                                         (* the observed double normalisation is not applied)
  lq = denoise_encoder(x)                              (VAE encoder copy, mid-block output)
  z = vae.encode(x).mean · scaling                     (* the mean, not a sample)
  start = DDPM.add_noise(z, noise · init_noise_sigma, 999)
  text: both encoders, penultimate hidden states concatenated; pooled bigG (projected); the
        negative prompt "" encoded the same way (* not zeroed); time ids (H, W, 0, 0, H, W)
  N Euler steps, CFG 5, DAFF after conv_in; y = vae.decode(x / scaling); out = (y + 1) / 2 (unclamped)

Writes Tests/Fixtures/models/unildiff-e2e/:
  unildiff.safetensors  one file, fp16, irzoo's native unildiff layout: unet.* (with
                        unet.denoise_encoder.*, unet.condition_embedding.*,
                        unet.information_transformer_layers.*, unet.spatial_ch_projs.*), vae.*,
                        text_encoder.* (CLIP-L style), text_encoder_2.* (bigG style)
  config.json           the unildiff config as the registry spells it
  io.npz                lq (input image [1,3,H,W]), noise, token ids, intermediates, output
  aux.npz               {"noise": ...} for `irzoo run --aux`
  lq.png                the input image as an 8-bit PNG (io.npz's lq holds exactly its values)
The reference runs in fp32 on the fp16-rounded weights.

Usage: python Tools/gen_unildiff_pipeline_golden.py  (deterministic: fixed seeds)
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, HERE)
import unildiff_daff  # noqa: E402
from gen_clip_tokenizer_fixtures import hf_tokenizer  # noqa: E402
from gen_unildiff_goldens import SDXL_SCHEDULER, ConvInWithDAFF, randomise  # noqa: E402

OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models", "unildiff-e2e")
PROMPT = "a sharp, clean photo"
STEPS = 3
H, W = 16, 24

VAE = dict(in_channels=3, out_channels=3, block_out_channels=[8, 32], layers_per_block=1, latent_channels=4,
           norm_num_groups=4, scaling_factor=0.13025)
UNET = dict(in_channels=4, out_channels=4, block_out_channels=[8, 16],
            down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
            up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], layers_per_block=1,
            transformer_layers_per_block=[1, 1], attention_head_dim=[2, 2], cross_attention_dim=8,
            addition_embed_type="text_time", addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=4 + 6 * 8, norm_num_groups=4, norm_eps=1e-5)
UNET_EXTRA = dict(mid_block_type="UNetMidBlock2DCrossAttn", use_linear_projection=True, flip_sin_to_cos=True,
                  freq_shift=0, act_fn="silu", sample_size=16)
TEXT_L = dict(hidden_size=4, intermediate_size=8, num_hidden_layers=2, num_attention_heads=2, hidden_act="quick_gelu",
              eos_token_id=2, pad_token="<|endoftext|>")
TEXT_G = dict(hidden_size=4, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2, hidden_act="gelu",
              eos_token_id=49407, pad_token="!", projection_dim=4)
DAFF = dict(hidden_size=16, num_heads=2, mlp_ratio=4.0, depth=1, depth_single_blocks=1)


def registry_text(c):
    out = dict(c, layer_norm_eps=1e-5, max_position_embeddings=77, vocab_size=49408)
    return out


def text_encoder(c, gen):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
    kw = {k: v for k, v in c.items() if k != "pad_token"}
    config = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, layer_norm_eps=1e-5, **kw)
    m = (CLIPTextModelWithProjection if "projection_dim" in c else CLIPTextModel)(config).eval()
    randomise(m, gen)
    return m


def round_fp16(module):
    with torch.no_grad():
        for p in module.state_dict().values():
            if p.is_floating_point():
                p.copy_(p.half().float())


def encode_text(enc, tok, prompt):
    ids = torch.tensor(tok([prompt], padding="max_length", max_length=77, truncation=True)["input_ids"])
    with torch.no_grad():
        out = enc(ids, output_hidden_states=True)
    return ids, out


def main():
    from diffusers import AutoencoderKL, DDPMScheduler, EulerDiscreteScheduler, UNet2DConditionModel
    from safetensors.torch import save_file
    gen = torch.Generator().manual_seed(8)
    vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=VAE["block_out_channels"],
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        layers_per_block=1, latent_channels=4, norm_num_groups=4, scaling_factor=0.13025).eval()
    randomise(vae, gen)
    lq_vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=VAE["block_out_channels"],
                           down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                           layers_per_block=1, latent_channels=4, norm_num_groups=4).eval()
    randomise(lq_vae, gen)
    denoise_encoder = lq_vae.encoder
    unet = UNet2DConditionModel(**UNET, **UNET_EXTRA).eval()
    randomise(unet, gen)
    top = VAE["block_out_channels"][-1]
    daff = unildiff_daff.DAFFInjection(in_channels=UNET["block_out_channels"][0], context_in_dim=UNET["block_out_channels"][0],
                                       conditioning_channels=top, **DAFF).eval()
    randomise(daff, gen)
    te1, te2 = text_encoder(TEXT_L, gen), text_encoder(TEXT_G, gen)
    for m in (vae, denoise_encoder, unet, daff, te1, te2):
        round_fp16(m)

    tensors = {}
    for k, v in unet.state_dict().items():
        tensors["unet." + k] = v
    for k, v in denoise_encoder.state_dict().items():
        if not k.startswith(("conv_norm_out.", "conv_out.")):
            tensors["unet.denoise_encoder." + k] = v
    for k, v in daff.state_dict().items():
        tensors["unet." + k] = v
    for k, v in vae.state_dict().items():
        tensors["vae." + k] = v
    for k, v in te1.state_dict().items():  # transformers 5 saves CLIPTextModel without text_model.; the published files have it
        tensors["text_encoder." + (k if k.startswith("text_model.") else "text_model." + k)] = v
    for k, v in te2.state_dict().items():
        tensors["text_encoder_2." + k] = v
    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.contiguous().half() for k, v in tensors.items()}, os.path.join(OUT, "unildiff.safetensors"))

    # --- the pipeline ---
    # An 8-bit image, so the PNG the CLI test reads holds exactly these values.
    lq = torch.round(torch.rand(1, 3, H, W, generator=gen) * 255) / 255
    from PIL import Image
    Image.fromarray((lq[0].permute(1, 2, 0) * 255).round().byte().numpy(), "RGB").save(os.path.join(OUT, "lq.png"))
    x = lq * 2 - 1
    with torch.no_grad():
        h = denoise_encoder.conv_in(x)
        for block in denoise_encoder.down_blocks:
            h = block(h)
        lq_feature = denoise_encoder.mid_block(h)
        z = vae.encode(x).latent_dist.mean * VAE["scaling_factor"]
    euler = EulerDiscreteScheduler(**SDXL_SCHEDULER)
    euler.set_timesteps(STEPS)
    ddpm = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    noise = torch.randn(z.shape, generator=gen)
    start = ddpm.add_noise(z, noise * euler.init_noise_sigma, torch.tensor([999]))

    tok1, tok2 = hf_tokenizer(TEXT_L["pad_token"]), hf_tokenizer(TEXT_G["pad_token"])
    hidden, pooled, ids_all = [], [], []
    for prompt in ("", PROMPT):  # [negative; positive]
        ids1, o1 = encode_text(te1, tok1, prompt)
        ids2, o2 = encode_text(te2, tok2, prompt)
        hidden.append(torch.cat([o1.hidden_states[-2], o2.hidden_states[-2]], dim=-1))
        pooled.append(o2.text_embeds)
        ids_all += [ids1, ids2]
    ehs, text_embeds = torch.cat(hidden), torch.cat(pooled)
    time_ids = torch.tensor([[H, W, 0, 0, H, W]], dtype=torch.float32).repeat(2, 1)

    hook = ConvInWithDAFF(unet.conv_in, daff)
    unet.conv_in = hook
    lat = start
    saved = dict(lq=lq, noise=noise, lq_feature=lq_feature, lq_latent=z, start=start, encoder_hidden_states=ehs,
                 text_embeds=text_embeds, token_ids=torch.cat(ids_all).float())
    for i, t in enumerate(euler.timesteps):
        xin = euler.scale_model_input(torch.cat([lat, lat]), t)
        hook.t, hook.lq = t, torch.cat([lq_feature, lq_feature])
        with torch.no_grad():
            e = unet(xin, t, encoder_hidden_states=ehs, added_cond_kwargs=dict(text_embeds=text_embeds, time_ids=time_ids)).sample
        eu, ec = e.chunk(2)
        lat = euler.step(eu + 5.0 * (ec - eu), t, lat, return_dict=False)[0]
        saved[f"latent_{i + 1}"] = lat
    with torch.no_grad():
        y = vae.decode(lat / VAE["scaling_factor"]).sample
    saved["output"] = (y + 1) / 2
    np.savez_compressed(os.path.join(OUT, "io.npz"), **{k: v.float().numpy() for k, v in saved.items()})
    np.savez(os.path.join(OUT, "aux.npz"), noise=noise.float().numpy())

    config = dict(vae=VAE, unet=UNET, text_encoder=registry_text(TEXT_L), text_encoder_2=registry_text(TEXT_G),
                  daff=DAFF)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(dict(prompt=PROMPT, steps=STEPS, size=[H, W], timesteps=[float(t) for t in euler.timesteps],
                       output_range=[float(saved["output"].min()), float(saved["output"].max())]), f, indent=2)
        f.write("\n")
    print(f"unildiff-e2e: {len(tensors)} tensors, output range {saved['output'].min():.3f}..{saved['output'].max():.3f},"
          f" latent max {lat.abs().max():.3f} -> {OUT}")


if __name__ == "__main__":
    main()
