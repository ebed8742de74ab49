"""Golden fixtures for UniLDiff's own modules and its sampler (issue 8), from tiny configs of our
reference modules (Tools/reference/unildiff_daff.py, unildiff_daem.py) and from diffusers 0.42's
EulerDiscreteScheduler / DDPMScheduler with the SDXL scheduler config.

Writes Tests/Fixtures/models/unildiff/:
  daff_weights.npz   upstream keys (condition_embedding.*, information_transformer_layers.*,
                     spatial_ch_projs.*), every value randomised (also the zero-initialised
                     conv_out / spatial_ch_projs, the RMSNorm scales)
  daff_io.npz        sample [2, C, h, w] (conv_in output), lq [2, 64, h, w], t, and outputs:
                     contexts (condition_embedding), tokens (DAFF transformer), out (sample + proj)
  daem_weights.npz   DecoderBlock keys (+ freq_embed.* for the FrequencyEmbedding)
  daem_io.npz        x [B, dim, H, W], freq_feature [B, freq_dim, h, w], freq_emb, choice (the
                     expert each sample was routed to), shared and adapter (the two branches), out
  sampler.npz        timesteps, sigmas (20 and 7 steps), alphas_cumprod, init_noise_sigma, the
                     DDPM start (lq latent + seeded noise fed in), and an Euler + CFG trajectory
                     driven by a fixed fake model (eps = A·x + B·c + per-step constant)
  config.json        the tiny configs (DAFF, DAEM) and the scheduler config, as the tests build them
  reference.json     sizes, seeds, tolerances

and Tests/Fixtures/models/unildiff-step/: two full UniLDiff denoising steps on a tiny SDXL UNet
(Tools/gen_sdxl_unet_goldens.py's config) with the DAFF above injected after conv_in, as upstream's
UNet forward does, CFG 5 over [negative; positive] text, Euler (7-step schedule):
  unet.safetensors   the UNet (diffusers layout, randomised)
  config.json        its sdxl-unet config
  step.npz           start latent, lq feature, text conditioning, eps and latent after each step

Usage: /opt/irzoo-venv/bin/python Tools/gen_unildiff_goldens.py  (deterministic)
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "models", "unildiff")

import unildiff_daff  # noqa: E402
import unildiff_daem  # noqa: E402

DAFF_TINY = dict(in_channels=8, context_in_dim=8, hidden_size=32, num_heads=4, mlp_ratio=4.0,
                 depth=2, depth_single_blocks=2, conditioning_channels=64)
DAEM_TINY = dict(dim=8, num_heads=2, ffn_expansion_factor=4, rank=2, num_experts=4, freq_dim=16)

# SDXL base scheduler_config.json (also RealVisXL_V4.0's): EulerDiscreteScheduler.
SDXL_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                      prediction_type="epsilon", timestep_spacing="leading", steps_offset=1,
                      interpolation_type="linear", use_karras_sigmas=False)


def randomise(net, gen):
    with torch.no_grad():
        for name, p in net.state_dict().items():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "complexity":
                continue
            if leaf in ("scale", "temperature") or name.endswith("norm_in.weight") or "norm" in name and leaf == "weight":
                p.copy_(torch.rand(p.shape, generator=gen) * 0.8 + 0.6)
            elif leaf in ("beta", "gamma"):
                p.copy_(torch.rand(p.shape, generator=gen) * 1.6 - 0.8)
            else:
                fan = p[0].numel() if p.dim() > 1 else 4
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * (1.5 / fan ** 0.5))


def save(name, tensors):
    np.savez_compressed(os.path.join(OUT, name), **{k: v.detach().contiguous().float().numpy() for k, v in tensors.items()})


# shared/architectures/clip-sdxl-unildiff.md section 1.7: prefix -> (tensors, parameters), and
# some shapes. The reference modules must give exactly these at full size.
SPEC_PREFIXES = {"information_transformer_layers.": (48, 117_900_800), "condition_embedding.": (6, 3_835_712),
                 "spatial_ch_projs.": (2, 328_000)}
SPEC_SHAPES = {
    "information_transformer_layers.latent_in.weight": (1024, 320),
    "information_transformer_layers.cond_in.weight": (1024, 320),
    "information_transformer_layers.time_in.in_layer.weight": (1024, 256),
    "information_transformer_layers.time_in2.out_layer.weight": (2048, 2048),
    "information_transformer_layers.double_blocks.0.img_mod.lin.weight": (6144, 1024),
    "information_transformer_layers.double_blocks.0.txt_attn.qkv.bias": (3072,),
    "information_transformer_layers.double_blocks.0.img_attn.norm.query_norm.scale": (64,),
    "information_transformer_layers.double_blocks.0.txt_mlp.2.weight": (1024, 4096),
    "information_transformer_layers.single_blocks.0.linear1.weight": (14336, 2048),
    "information_transformer_layers.single_blocks.0.linear2.weight": (2048, 10240),
    "information_transformer_layers.single_blocks.0.norm.key_norm.scale": (128,),
    "information_transformer_layers.single_blocks.0.modulation.lin.weight": (6144, 2048),
    "information_transformer_layers.final_layer.linear.weight": (1024, 2048),
    "information_transformer_layers.final_layer.adaLN_modulation.1.weight": (4096, 2048),
    "condition_embedding.conv_in.weight": (512, 512, 3, 3),
    "condition_embedding.norm_in.weight": (512,),
    "condition_embedding.conv_out.weight": (320, 512, 3, 3),
    "spatial_ch_projs.weight": (320, 1024),
}
# Section 1.3: DecoderBlock parameters + the 4-value complexity buffer, per width.
SPEC_DAEM = {320: 2_438_020, 640: 9_580_420, 1280: 37_996_420}


def check_full_layouts():
    with torch.device("meta"):
        m = unildiff_daff.DAFFInjection(**unildiff_daff.FULL)
    sd = m.state_dict()
    for prefix, (count, params) in SPEC_PREFIXES.items():
        keys = [k for k in sd if k.startswith(prefix)]
        got = (len(keys), sum(sd[k].numel() for k in keys))
        assert got == (count, params), f"{prefix}: {got} != {(count, params)}"
    for k, shape in SPEC_SHAPES.items():
        assert tuple(sd[k].shape) == shape, f"{k}: {tuple(sd[k].shape)} != {shape}"
    for dim, total in SPEC_DAEM.items():
        with torch.device("meta"):
            b = unildiff_daem.DecoderBlock(dim)
        got = sum(v.numel() for v in b.state_dict().values())
        assert got == total, f"DAEM dim {dim}: {got} != {total}"


def daff(gen):
    global DAFF_MODULE
    m = unildiff_daff.DAFFInjection(**DAFF_TINY).eval()
    DAFF_MODULE = m
    randomise(m, gen)
    b, c, h, w = 2, DAFF_TINY["in_channels"], 4, 6
    sample = torch.randn(b, c, h, w, generator=gen)
    lq = torch.randn(b, DAFF_TINY["conditioning_channels"], h, w, generator=gen) * 2 + 0.5
    t = torch.tensor(951.0)  # the first SDXL "leading" timestep of a 20-step schedule
    with torch.no_grad():
        contexts = m.condition_embedding(lq)
        tokens = m.information_transformer_layers(sample, t, contexts)
        out = m(sample, t, lq)
        out_t1 = m(sample, torch.tensor(1.0), lq)
    save("daff_weights.npz", m.state_dict())
    save("daff_io.npz", dict(sample=sample, lq=lq, t=t.reshape(1), contexts=contexts, tokens=tokens, out=out,
                             out_t1=out_t1))
    return dict(config=DAFF_TINY, latent=[b, c, h, w], timesteps=[951.0, 1.0], keys=len(m.state_dict()))


def daem(gen):
    m = unildiff_daem.DecoderBlock(**DAEM_TINY).eval()
    fe = unildiff_daem.FrequencyEmbedding(DAEM_TINY["freq_dim"]).eval()
    randomise(m, gen)
    randomise(fe, gen)
    b, d, h, w = 6, DAEM_TINY["dim"], 10, 12
    # Inputs drawn until every expert is picked by some sample: each kernel size gets checked.
    for attempt in range(200):
        # Per-sample channel offsets move the pooled routing inputs apart.
        x = torch.randn(b, d, h, w, generator=gen) + torch.randn(b, d, 1, 1, generator=gen) * 2
        feat = (torch.randn(b, DAEM_TINY["freq_dim"], 5, 7, generator=gen)
                * (torch.rand(b, DAEM_TINY["freq_dim"], 1, 1, generator=gen) * 4))
        with torch.no_grad():
            femb = fe(feat)
            out = m(x, femb)
        if len(set(m.adapter.last_choice)) == DAEM_TINY["num_experts"]:
            break
    else:
        raise SystemExit("no input covered every expert")
    sd = dict(m.state_dict())
    sd.update({"freq_embed." + k: v for k, v in fe.state_dict().items()})
    save("daem_weights.npz", sd)
    save("daem_io.npz", dict(x=x, freq_feature=feat, freq_emb=femb, out=out, shared=m.last_branches[0],
                             adapter=m.last_branches[1],
                             choice=torch.tensor(m.adapter.last_choice, dtype=torch.float32)))
    return dict(config=DAEM_TINY, input=[b, d, h, w], choices=m.adapter.last_choice, attempts=attempt + 1,
                keys=len(sd))


def sampler(gen):
    from diffusers import DDPMScheduler, EulerDiscreteScheduler
    out = {}
    for steps in (20, 7):
        s = EulerDiscreteScheduler(**SDXL_SCHEDULER)
        s.set_timesteps(steps)
        out[f"timesteps_{steps}"] = s.timesteps.float()
        out[f"sigmas_{steps}"] = s.sigmas.float()
        out[f"init_noise_sigma_{steps}"] = torch.tensor([float(s.init_noise_sigma)])
    # The other spacings a checkpoint's scheduler_config may name (16 steps: trailing hits .5 ties).
    for spacing in ("trailing", "linspace"):
        for steps in (16, 7):
            s = EulerDiscreteScheduler(**dict(SDXL_SCHEDULER, timestep_spacing=spacing))
            s.set_timesteps(steps)
            out[f"timesteps_{spacing}_{steps}"] = s.timesteps.float()
            out[f"sigmas_{spacing}_{steps}"] = s.sigmas.float()
            out[f"init_noise_sigma_{spacing}_{steps}"] = torch.tensor([float(s.init_noise_sigma)])
    ddpm = DDPMScheduler(**{k: v for k, v in SDXL_SCHEDULER.items() if k not in ("interpolation_type", "use_karras_sigmas")})
    out["alphas_cumprod"] = ddpm.alphas_cumprod.float()

    # The start point of the pipeline: noise·init_noise_sigma, DDPM-noised LQ latent at t = 999.
    steps = 7
    s = EulerDiscreteScheduler(**SDXL_SCHEDULER)
    s.set_timesteps(steps)
    shape = (1, 4, 3, 5)
    lq_latent = torch.randn(shape, generator=gen)
    noise = torch.randn(shape, generator=gen)
    start = ddpm.add_noise(lq_latent, noise * s.init_noise_sigma, torch.tensor([999]))
    out.update(lq_latent=lq_latent, noise=noise, start=start)

    # A fixed fake model: eps(x, cond) = A·x (channel mix) + B·cond + k_i, on the scaled input,
    # with CFG 5 combining an unconditional (cond = 0) and a conditional call.
    a = torch.randn(4, 4, generator=gen) * 0.05
    bmat = torch.randn(4, 4, generator=gen) * 0.05
    cond = torch.randn(shape, generator=gen)
    ks = torch.randn(steps, generator=gen) * 0.1
    guidance = 5.0
    x = start.clone()
    traj, scaled_inputs, eps_all = [], [], []
    for i, t in enumerate(s.timesteps):
        xin = s.scale_model_input(torch.cat([x, x]), t)
        scaled_inputs.append(xin[:1])
        mix = torch.einsum("oc,bchw->bohw", a, xin)
        e_u = mix[:1] + ks[i]
        e_c = mix[1:] + torch.einsum("oc,bchw->bohw", bmat, cond) + ks[i]
        eps = e_u + guidance * (e_c - e_u)
        eps_all.append(eps)
        x = s.step(eps, t, x, return_dict=False)[0]
        traj.append(x)
    out.update(fake_a=a, fake_b=bmat, fake_cond=cond, fake_k=ks, guidance=torch.tensor([guidance]),
               scaled_inputs=torch.cat(scaled_inputs), eps=torch.cat(eps_all), trajectory=torch.cat(traj))
    save("sampler.npz", out)
    return dict(config=SDXL_SCHEDULER, steps=[20, 7], trajectory_steps=steps, guidance=guidance,
                timesteps_20=[float(v) for v in out["timesteps_20"]])


class ConvInWithDAFF(torch.nn.Module):
    """conv_in followed by the DAFF injection, the way upstream's UNet forward runs them."""

    def __init__(self, conv, daff):
        super().__init__()
        self.conv, self.daff = conv, daff
        self.t = self.lq = None

    def forward(self, x):
        return self.daff(self.conv(x), self.t, self.lq)


def full_step(gen):
    from diffusers import EulerDiscreteScheduler, UNet2DConditionModel
    from safetensors.torch import save_file
    import gen_sdxl_unet_goldens as sdxl
    out_dir = os.path.join(OUT, "..", "unildiff-step")
    os.makedirs(out_dir, exist_ok=True)
    unet = UNet2DConditionModel(**sdxl.CONFIG, **sdxl.EXTRA).eval()
    sdxl.randomise(unet, gen)
    save_file({k: v.contiguous() for k, v in unet.state_dict().items()}, os.path.join(out_dir, "unet.safetensors"))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(sdxl.CONFIG, f, indent=2, sort_keys=True)
        f.write("\n")
    hook = ConvInWithDAFF(unet.conv_in, DAFF_MODULE)
    unet.conv_in = hook

    s = EulerDiscreteScheduler(**SDXL_SCHEDULER)
    s.set_timesteps(7)
    h, w = 4, 6
    x = torch.randn(1, 4, h, w, generator=gen) * float(s.init_noise_sigma)
    lq = torch.randn(1, DAFF_TINY["conditioning_channels"], h, w, generator=gen) * 2 + 0.5
    ehs = torch.randn(2, 5, 24, generator=gen)  # [negative; positive]
    text = torch.randn(2, sdxl.TEXT_EMBEDS, generator=gen)
    time_ids = torch.tensor([[32.0, 48.0, 0.0, 0.0, 32.0, 48.0]]).repeat(2, 1)
    saved = dict(start=x, lq=lq, encoder_hidden_states=ehs, text_embeds=text, time_ids=time_ids)
    for i, t in enumerate(s.timesteps[:2]):
        xin = s.scale_model_input(torch.cat([x, x]), t)
        hook.t, hook.lq = t, torch.cat([lq, lq])
        with torch.no_grad():
            e = unet(xin, t, encoder_hidden_states=ehs, added_cond_kwargs=dict(text_embeds=text, time_ids=time_ids)).sample
        eu, ec = e.chunk(2)
        eps = eu + 5.0 * (ec - eu)
        x = s.step(eps, t, x, return_dict=False)[0]
        saved[f"eps_{i}"] = eps
        saved[f"latent_{i + 1}"] = x
    np.savez_compressed(os.path.join(out_dir, "step.npz"), **{k: v.float().numpy() for k, v in saved.items()})
    return dict(unet=sdxl.CONFIG, latent=[1, 4, h, w], steps=7, run=2, guidance=5.0,
                timesteps=[float(v) for v in s.timesteps[:2]], eps_max=float(saved["eps_0"].abs().max()))


def main():
    check_full_layouts()
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    info = dict(tolerance=1e-4, torch=torch.__version__)
    info["daff"] = daff(torch.Generator().manual_seed(801))
    info["daem"] = daem(torch.Generator().manual_seed(802))
    import diffusers
    info["diffusers"] = diffusers.__version__
    info["sampler"] = sampler(torch.Generator().manual_seed(803))
    info["full_step"] = full_step(torch.Generator().manual_seed(804))
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(dict(daff=DAFF_TINY, daem=DAEM_TINY, scheduler=SDXL_SCHEDULER), f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print(json.dumps({k: info[k] for k in ("daff", "daem")}, indent=1)[:800])


if __name__ == "__main__":
    main()
