"""The Python side of Benchmarks/sdxl.sh: the published SDXL VAE and UNet configs with seeded
random weights (diffusers' own initialisation), timed in diffusers eager float32; irzoo's side is
`irzoo run` on the same safetensors files and inputs.

Subcommands (each timing runs in a process of its own, so peak RSS is its own):
  prepare DIR PART LATENT   writes PART's diffusers safetensors, input and (unet) aux.npz, and
                            diffusers' output, for a LATENTxLATENT latent. PART: vae | unet
  torch DIR PART THREADS N  diffusers eager, best of N after a warm-up; prints one JSON line
  compare DIR PART          max |irzoo - diffusers| of the outputs; prints one JSON line
  half DIR PART             DIR/PART_fp16.safetensors from DIR/PART.safetensors, one tensor at a time
  report DIR PART RUNS LATENT THREADS   the interleaved rounds' best, ranges, ratio and peak RSS
"""
import json
import os
import sys
import time

import numpy as np

VAE = dict(down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
           block_out_channels=[128, 256, 512, 512], layers_per_block=2, latent_channels=4, norm_num_groups=32,
           scaling_factor=0.13025, sample_size=1024)
UNET = dict(block_out_channels=[320, 640, 1280], down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
            up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], layers_per_block=2,
            transformer_layers_per_block=[1, 2, 10], attention_head_dim=[5, 10, 20], cross_attention_dim=2048,
            use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816, sample_size=128)


def build(part, device="cpu"):
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    torch.manual_seed(0)
    with torch.device(device):
        return (AutoencoderKL(**VAE) if part == "vae" else UNet2DConditionModel(**UNET)).eval()


def inputs(out, part):
    import torch
    x = torch.from_numpy(np.load(os.path.join(out, f"{part}_input.npy")))
    if part == "vae":
        return (x / VAE["scaling_factor"],)
    aux = np.load(os.path.join(out, "unet_aux.npz"))
    return x, torch.from_numpy(aux["timestep"]), torch.from_numpy(aux["encoder_hidden_states"]), \
        dict(text_embeds=torch.from_numpy(aux["text_embeds"]), time_ids=torch.from_numpy(aux["time_ids"]))


def forward(net, part, args):
    if part == "vae":
        return (net.decode(args[0]).sample / 2 + 0.5).clamp(0, 1)
    return net(args[0], args[1], encoder_hidden_states=args[2], added_cond_kwargs=args[3]).sample


def prepare(out, part, latent):
    import torch
    from safetensors.torch import save_file
    net = build(part)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, os.path.join(out, f"{part}.safetensors"))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 4, latent, latent), dtype=np.float32)
    if part == "vae":
        x *= VAE["scaling_factor"]  # a diffusion latent, as --vae-mode decode takes it
    np.save(os.path.join(out, f"{part}_input.npy"), x)
    if part == "unet":
        side = latent * 8
        np.savez(os.path.join(out, "unet_aux.npz"), timestep=np.array([999.0], dtype=np.float32),
                 encoder_hidden_states=rng.standard_normal((1, 77, 2048), dtype=np.float32),
                 text_embeds=rng.standard_normal((1, 1280), dtype=np.float32),
                 time_ids=np.array([[side, side, 0, 0, side, side]], dtype=np.float32))
    with torch.no_grad():
        np.save(os.path.join(out, f"{part}_torch_output.npy"), forward(net, part, inputs(out, part)).numpy())


def run_torch(out, part, threads, n):
    import torch
    torch.set_num_threads(threads)
    # Built on the meta device and given the file's tensors: no time spent on a random init
    # that the file replaces (the UNet's takes minutes on 2 cores).
    net = build(part, "meta")
    from safetensors.torch import load_file
    net.load_state_dict(load_file(os.path.join(out, f"{part}.safetensors")), assign=True)
    args = inputs(out, part)
    times = []
    with torch.no_grad():
        forward(net, part, args)
        for _ in range(n):
            t = time.perf_counter()
            forward(net, part, args)
            times.append(time.perf_counter() - t)
    print(json.dumps({"part": part, "seconds": min(times), "threads": threads}))


def compare(out, part):
    a = np.load(os.path.join(out, f"{part}_irzoo_output.npy"))
    b = np.load(os.path.join(out, f"{part}_torch_output.npy"))
    print(json.dumps({"part": part, "max_abs_error": float(np.abs(a - b).max()), "shape": list(a.shape)}))


def half(out, part):
    """Writes the safetensors layout by hand (8-byte header size, JSON header, data), one tensor at a
    time, so the 2.57 B-parameter UNet never needs both copies, or a serialised one, in memory."""
    import struct
    import torch
    from safetensors import safe_open
    with safe_open(os.path.join(out, f"{part}.safetensors"), "pt") as f:
        keys = sorted(f.keys())
        header, offset = {}, 0
        for k in keys:
            shape = list(f.get_slice(k).get_shape())
            size = 2 * int(np.prod(shape, dtype=np.int64))
            header[k] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        with open(os.path.join(out, f"{part}_fp16.safetensors"), "wb") as g:
            g.write(struct.pack("<Q", len(text)) + text)
            for k in keys:
                g.write(f.get_tensor(k).to(torch.float16).contiguous().numpy().tobytes())


def report(out, part, runs, latent, threads):
    def rounds(who):
        times = [json.load(open(os.path.join(out, f"{who}.{part}.{i}.json")))["seconds"] for i in range(1, runs + 1)]
        rss = [int(line.split()[1]) for line in open(os.path.join(out, f"time.{who}.{part}"))]
        return times, rss
    (it, ir), (tt, tr) = rounds("irzoo"), rounds("torch")
    rng = lambda xs: f"{min(xs):.2f}-{max(xs):.2f} s"
    gib = lambda kib: f"{kib / 2**20:.2f} GiB"
    what = f"decode of a {latent}x{latent}x4 latent to {latent * 8}x{latent * 8}" if part == "vae" else f"one step at {latent}x{latent}x4 latent"
    print(f"sdxl-{part} {what}, {threads} threads, best of {runs} interleaved rounds: irzoo {min(it):.2f} s ({rng(it)}), "
          f"peak RSS {gib(max(ir))}; diffusers eager float32 {min(tt):.2f} s ({rng(tt)}), peak RSS {gib(max(tr))}; "
          f"irzoo / diffusers {min(it) / min(tt):.2f} (diffusers / irzoo {min(tt) / min(it):.2f}x)")
    compare(out, part)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "prepare":
        prepare(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "torch":
        run_torch(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3])
    elif cmd == "half":
        half(sys.argv[2], sys.argv[3])
    elif cmd == "report":
        report(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        sys.exit(__doc__)
