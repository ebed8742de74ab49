"""The Python side of `make bench-models` (Benchmarks/models.sh): the published SymUNet at 256² and
the CLIP ViT-L/14 vision tower at 224², with random weights (seeded), timed in PyTorch eager and
in ONNX Runtime; irzoo's side is `irzoo run` on the same checkpoint and input.

Subcommands (each timing runs in a process of its own, so peak RSS is its own):
  prepare DIR                 writes the checkpoints in the upstream containers, the inputs, and
                              each reference module exported to ONNX
  torch MODEL DIR THREADS N   PyTorch eager, best of N after a warm-up, for contiguous and for
                              channels_last memory; prints one JSON line
  ort MODEL DIR THREADS N     ONNX Runtime (intra-op threads = THREADS), best of N; one JSON line
  report DIR                  the table, from DIR/*.jsonl and the /usr/bin/time records
"""
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tools", "reference"))

MODELS = {
    # name: (irzoo arch id, checkpoint file, input side)
    "symunet": ("symunet", "symunet.pth", 256),
    "clip": ("clip-vit-l-14", "clip.safetensors", 224),
}


def build(name):
    import torch
    torch.manual_seed(0)
    if name == "symunet":
        from symunet import PUBLISHED, SymUNet
        return SymUNet(**PUBLISHED).eval()
    from clip_vision import VIT_L_14, HFVisionTransformer

    class Tower(torch.nn.Module):
        """HF CLIPVisionModelWithProjection's weights; forward = last_hidden_state (what irzoo returns)."""

        def __init__(self):
            super().__init__()
            self.vision_model = HFVisionTransformer(VIT_L_14)
            self.visual_projection = torch.nn.Linear(VIT_L_14.hidden, VIT_L_14.projection, bias=False)

        def forward(self, pixels):
            return self.vision_model(pixels).last_hidden_state

    return Tower().eval()


def model_input(name, side):
    rng = np.random.default_rng(1)
    return rng.random((1, 3, side, side), dtype=np.float32)


def prepare(out):
    import torch
    from safetensors.torch import save_file
    for name, (_, ckpt, side) in MODELS.items():
        m = build(name)
        sd = {k: v.contiguous() for k, v in m.state_dict().items()}
        if ckpt.endswith(".pth"):
            torch.save({"params": sd}, os.path.join(out, ckpt))  # BasicSR's container
        else:
            save_file(sd, os.path.join(out, ckpt))
        x = model_input(name, side)
        np.save(os.path.join(out, f"{name}_input.npy"), x)
        pixels = torch.from_numpy(x)
        if name == "clip":
            from clip_vision import clip_preprocess
            pixels = clip_preprocess(pixels, side)  # 224 in: crop and normalise only
            np.save(os.path.join(out, "clip_pixels.npy"), pixels.numpy())
        with torch.no_grad():
            y = m(pixels)
        np.save(os.path.join(out, f"{name}_torch_output.npy"), y.numpy())
        torch.onnx.export(m, (pixels,), os.path.join(out, f"{name}.onnx"), input_names=["x"], output_names=["y"],
                          opset_version=17, dynamo=False)
        print(f"prepared {name}: {ckpt}, input {list(x.shape)}, onnx", file=sys.stderr)


def net_input(name, out):
    """What the network itself takes: the image for SymUNet, preprocessed pixels for the tower."""
    return np.load(os.path.join(out, "clip_pixels.npy" if name == "clip" else f"{name}_input.npy"))


def time_torch(name, out, threads, repeats):
    import torch
    torch.set_num_threads(threads)
    m = build(name)
    # The checkpoint's weights, so every contender runs the same network.
    if name == "symunet":
        m.load_state_dict(torch.load(os.path.join(out, MODELS[name][1]))["params"])
    else:
        from safetensors.torch import load_file
        m.load_state_dict(load_file(os.path.join(out, MODELS[name][1])))
    x = torch.from_numpy(net_input(name, out))
    result = {"model": name, "contender": "torch", "threads": threads}
    with torch.no_grad():
        for layout in ("contiguous", "channels_last"):
            mm, xx = m, x
            if layout == "channels_last":
                mm = m.to(memory_format=torch.channels_last)
                xx = x.contiguous(memory_format=torch.channels_last)
            mm(xx)  # warm-up
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                mm(xx)
                best = min(best, time.perf_counter() - t)
            result[layout] = best
    result["seconds"] = min(result["contiguous"], result["channels_last"])
    print(json.dumps(result))


def time_ort(name, out, threads, repeats):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(out, f"{name}.onnx"), opts, providers=["CPUExecutionProvider"])
    x = net_input(name, out)
    y = sess.run(None, {"x": x})[0]  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, {"x": x})
        best = min(best, time.perf_counter() - t)
    ref = np.load(os.path.join(out, f"{name}_torch_output.npy"))
    print(json.dumps({"model": name, "contender": "onnxruntime", "threads": threads, "seconds": best,
                      "max_abs_vs_torch": float(np.abs(y - ref).max())}))


def report(out):
    def rows(path):
        return [json.loads(line) for line in open(path) if line.strip()] if os.path.exists(path) else []

    def rss_kib(tag):
        path = os.path.join(out, f"time.{tag}")
        vals = [int(line.split()[1]) for line in open(path) if line.strip()] if os.path.exists(path) else []
        return max(vals) if vals else float("nan")

    print(f"{'model':24} {'contender':34} {'seconds':>8} {'peak RSS':>10} {'vs irzoo':>9}")
    for name, (arch, _, side) in MODELS.items():
        irzoo = rows(os.path.join(out, f"irzoo.{name}.jsonl"))
        torch_rows = rows(os.path.join(out, f"torch.{name}.jsonl"))
        ort_rows = rows(os.path.join(out, f"ort.{name}.jsonl"))
        if not irzoo:
            continue
        ours = min(r["seconds"] for r in irzoo)
        label = f"{arch} {side}x{side}"
        ref = np.load(os.path.join(out, f"{name}_torch_output.npy"))
        got = np.load(os.path.join(out, f"{name}_irzoo_output.npy"))
        first = min(r.get("first_seconds", r["seconds"]) for r in irzoo)
        print(f"{label:24} {'irzoo run (' + str(irzoo[0]['threads']) + ' threads)':34} {ours:8.3f} "
              f"{rss_kib('irzoo.' + name) / 1024:7.0f} MiB {1:8.2f}x")
        print(f"{'':24} {'irzoo run, first pass (cold mmap)':34} {first:8.3f} {'':10} {first / ours:8.2f}x")
        if torch_rows:
            for layout in ("contiguous", "channels_last"):
                t = min(r[layout] for r in torch_rows)
                print(f"{'':24} {'torch eager, ' + layout:34} {t:8.3f} {rss_kib('torch.' + name) / 1024:7.0f} MiB {t / ours:8.2f}x")
        if ort_rows:
            t = min(r["seconds"] for r in ort_rows)
            print(f"{'':24} {'onnxruntime (' + str(ort_rows[0]['threads']) + ' intra-op threads)':34} {t:8.3f} "
                  f"{rss_kib('ort.' + name) / 1024:7.0f} MiB {t / ours:8.2f}x")
        print(f"{'':24} irzoo vs torch output: max abs diff {np.abs(got - ref).max():.2e}"
              + (f"; onnxruntime vs torch {ort_rows[0]['max_abs_vs_torch']:.2e}" if ort_rows else ""))
    print("vs irzoo = contender seconds / irzoo seconds (> 1: irzoo is faster); seconds are the best forward pass "
          "over the rounds, in-process (irzoo: `run --json` seconds); peak RSS of the whole process (/usr/bin/time)")


def main():
    cmd = sys.argv[1]
    if cmd == "prepare":
        prepare(sys.argv[2])
    elif cmd == "torch":
        time_torch(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "ort":
        time_ort(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "report":
        report(sys.argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
