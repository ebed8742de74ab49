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


# The tiled run (irzoo's UniLDiffModel with latentTile 4, imageTile 8, overlap 2 on this tiny
# model, whose VAE downsamples by 2): upstream's latent tiling (FaithDiff LocalAttention.grids /
# grids_inverse, per-tile time ids) and irzoo's image tiles with linear ramps for the VAE and the LQ
# encoder (TilePlan / TiledInference.blend in Sources/IRModels/Core/TiledInference.swift).
LATENT_TILE, IMAGE_TILE, IMAGE_OVERLAP, VAE_FACTOR = 4, 8, 2, 2


def tile_starts(length, tile, overlap):
    """TilePlan.starts: tiles of `tile` (min with length), the last moved back to end at the edge."""
    if length <= tile:
        return [0]
    out, s = [], 0
    while s + tile < length:
        out.append(s)
        s += tile - overlap
    return out + [length - tile]


def ramp(size, start, length, overlap):
    """TilePlan.weight for each pixel of a tile: linear ramps over the overlap where a neighbour is."""
    r = np.float32(overlap + 1)
    w = np.ones(size, dtype=np.float32)
    for i in range(size):
        if start > 0:
            w[i] = min(w[i], np.float32(i + 1) / r)
        if start + size < length:
            w[i] = min(w[i], np.float32(size - i) / r)
    return w


def blend_tiles(x, tile, overlap, up, down, fn):
    """TiledInference.blend: fn on each tile, outputs (up/down times the tile) blended with ramps."""
    _, _, h, w = x.shape
    rows, cols = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    if len(rows) * len(cols) == 1:
        return fn(x)
    th, tw = min(tile, h), min(tile, w)
    H, W, oth, otw, oov = h * up // down, w * up // down, th * up // down, tw * up // down, overlap * up // down
    out, wsum = None, torch.zeros(H, W)
    for y0 in rows:
        oy = y0 * up // down
        rw = torch.from_numpy(ramp(oth, oy, H, oov))
        for x0 in cols:
            ox = x0 * up // down
            cw = torch.from_numpy(ramp(otw, ox, W, oov))
            y = fn(x[:, :, y0:y0 + th, x0:x0 + tw])
            if out is None:
                out = torch.zeros(y.shape[0], y.shape[1], H, W)
            out[:, :, oy:oy + oth, ox:ox + otw] += rw[:, None] * cw[None, :] * y
            wsum[oy:oy + oth, ox:ox + otw] += rw[:, None] * cw[None, :]
    return out / wsum


def latent_grid(h, w, k):
    """Upstream LocalAttention.grids: tile origins and the Gaussian tile weights (float64)."""
    import math
    k1, k2 = min(k, h), min(k, w)

    def starts(n, kk):
        count = (n - 1) // kk + 1
        step = kk if count == 1 else math.ceil(kk * 0.5)
        out, i = [], 0
        while i < n:
            if i + kk >= n:
                out.append(n - kk)
                break
            out.append(i)
            i += step
        return out
    var = 0.01
    mx, my = (k2 - 1) / 2, k1 / 2
    xp = [np.exp(-(x - mx) * (x - mx) / (k2 * k2) / (2 * var)) / np.sqrt(2 * np.pi * var) for x in range(k2)]
    yp = [np.exp(-(y - my) * (y - my) / (k1 * k1) / (2 * var)) / np.sqrt(2 * np.pi * var) for y in range(k1)]
    weights = torch.tensor(np.outer(yp, xp))  # float64, as upstream
    return k1, k2, [(i, j) for i in starts(h, k1) for j in starts(w, k2)], weights


def tiled_run(lq, noise, vae, denoise_encoder, unet, hook, ehs, text_embeds, euler, ddpm):
    def lq_encode(t):
        h = denoise_encoder.conv_in(t)
        for block in denoise_encoder.down_blocks:
            h = block(h)
        return denoise_encoder.mid_block(h)
    x = lq * 2 - 1
    out = {}
    with torch.no_grad():
        lq_feature = blend_tiles(x, IMAGE_TILE, IMAGE_OVERLAP, 1, VAE_FACTOR, lq_encode)
        z = blend_tiles(x, IMAGE_TILE, IMAGE_OVERLAP, 1, VAE_FACTOR, lambda t: vae.encode(t).latent_dist.mean) * VAE["scaling_factor"]
    out["tiled_lq_feature"], out["tiled_lq_latent"] = lq_feature, z
    euler.set_timesteps(STEPS)
    lat = ddpm.add_noise(z, noise * euler.init_noise_sigma, torch.tensor([999]))
    k1, k2, origins, weights = latent_grid(lat.shape[2], lat.shape[3], LATENT_TILE)
    target = LATENT_TILE * VAE_FACTOR
    assert len(origins) > 1
    for step, t in enumerate(euler.timesteps):
        preds, count = torch.zeros(lat.shape), torch.zeros(lat.shape)
        for (i, j) in origins:
            # Upstream keeps one scheduler state per tile; Euler's scale and step are elementwise,
            # so one scheduler rewound to this step gives the same numbers.
            euler._step_index = step
            sub = lat[:, :, i:i + k1, j:j + k2]
            xin = euler.scale_model_input(torch.cat([sub, sub]), t)
            feat = lq_feature[:, :, i:i + k1, j:j + k2]
            hook.t, hook.lq = t, torch.cat([feat, feat])
            time_ids = torch.tensor([[H, W, i, j, target, target]], dtype=torch.float32).repeat(2, 1)
            with torch.no_grad():
                e = unet(xin, t, encoder_hidden_states=ehs, added_cond_kwargs=dict(text_embeds=text_embeds, time_ids=time_ids)).sample
            eu, ec = e.chunk(2)
            stepped = euler.step(eu + 5.0 * (ec - eu), t, sub, return_dict=False)[0]
            preds[0, :, i:i + k1, j:j + k2] += stepped[0] * weights
            count[0, :, i:i + k1, j:j + k2] += weights
        lat = preds / count
        out[f"tiled_latent_{step + 1}"] = lat
    with torch.no_grad():
        y = blend_tiles(lat / VAE["scaling_factor"], IMAGE_TILE // VAE_FACTOR, IMAGE_OVERLAP // VAE_FACTOR, VAE_FACTOR, 1,
                        lambda t: vae.decode(t).sample)
    out["tiled_output"] = (y + 1) / 2
    return out


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
    saved.update(tiled_run(lq, noise, vae, denoise_encoder, unet, hook, ehs, text_embeds, euler, ddpm))
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
