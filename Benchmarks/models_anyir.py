"""The Python side of the AnyIR part of `make bench-models` (Benchmarks/anyir.sh): the published
AnyIR-T and AnyIR-S at 256², with seeded random weights (BatchNorm statistics, blend scalars and
temperatures randomised as in the goldens), timed in PyTorch eager and in ONNX Runtime; irzoo's
side is `irzoo run` on the same Lightning checkpoint and input.

PyTorch runs upstream's forward, FFT branch included. ONNX Runtime runs the same module exported
with the frequency branch as the sum it equals (the legacy exporter has no rfft2; the sum is also
what irzoo computes), so it does strictly less work than upstream.

Subcommands (each timing runs in a process of its own, so peak RSS is its own):
  prepare DIR [SIDE]          writes <model>.ckpt (Lightning container), <model>_input.npy,
                              <model>_torch_output.npy and <model>.onnx for anyir-t and anyir-s
  torch MODEL DIR THREADS N   PyTorch eager, best of N after a warm-up, contiguous and
                              channels_last; prints one JSON line
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
sys.path.insert(0, os.path.join(HERE, "..", "Tools"))

MODELS = ["anyir-t", "anyir-s"]


def build(name):
    import torch
    import anyir
    from gen_anyir_goldens import randomise
    torch.manual_seed(0)
    net = anyir.AnyIR(**(anyir.TINY if name == "anyir-t" else anyir.SMALL))
    randomise(net, torch.Generator().manual_seed(1))
    return net.eval()


def load(name, out):
    import torch
    net = build(name)
    state = torch.load(os.path.join(out, f"{name}.ckpt"), weights_only=False)["state_dict"]
    net.load_state_dict({k[len("net."):]: v for k, v in state.items()})
    return net


def prepare(out, side):
    import torch
    from gen_anyir_goldens import lightning_checkpoint
    for name in MODELS:
        net = build(name)
        torch.save(lightning_checkpoint(net, None, {}, weights_only=False), os.path.join(out, f"{name}.ckpt"))
        x = np.random.default_rng(1).random((1, 3, side, side), dtype=np.float32)
        np.save(os.path.join(out, f"{name}_input.npy"), x)
        with torch.no_grad():
            np.save(os.path.join(out, f"{name}_torch_output.npy"), net(torch.from_numpy(x)).numpy())
        net.set_frequency_as_sum(True)
        torch.onnx.export(net, (torch.from_numpy(x),), os.path.join(out, f"{name}.onnx"), input_names=["x"],
                          output_names=["y"], opset_version=17, dynamo=False)
        print(f"prepared {name}: {name}.ckpt, input {list(x.shape)}, onnx", file=sys.stderr)


def time_torch(name, out, threads, repeats):
    import torch
    torch.set_num_threads(threads)
    net = load(name, out)
    x = torch.from_numpy(np.load(os.path.join(out, f"{name}_input.npy")))
    result = {"model": name, "contender": "torch", "threads": threads}
    with torch.no_grad():
        for layout in ("contiguous", "channels_last"):
            m, xx = net, x
            if layout == "channels_last":
                m = net.to(memory_format=torch.channels_last)
                xx = x.contiguous(memory_format=torch.channels_last)
            m(xx)  # warm-up
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                m(xx)
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
    x = np.load(os.path.join(out, f"{name}_input.npy"))
    y = sess.run(None, {"x": x})[0]  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, {"x": x})
        best = min(best, time.perf_counter() - t)
    ref = np.load(os.path.join(out, f"{name}_torch_output.npy"))
    print(json.dumps({"model": name, "contender": "onnxruntime", "threads": threads, "seconds": best,
                      "max_abs_vs_torch": float(np.abs(y - ref).max())}))


def json_objects(path):
    """Every JSON object in a file (one per line, or pretty-printed one after another)."""
    if not os.path.exists(path):
        return []
    text, dec, objects, i = open(path).read(), json.JSONDecoder(), [], 0
    while True:
        rest = text[i:].lstrip()
        if not rest:
            return objects
        obj, n = dec.raw_decode(rest)
        objects.append(obj)
        i = len(text) - len(rest) + n


def report(out):
    def rss_mib(tag):
        path = os.path.join(out, f"time.{tag}")
        vals = [int(line.split()[1]) for line in open(path) if line.strip()] if os.path.exists(path) else []
        return max(vals) / 1024 if vals else float("nan")

    print(f"{'model':24} {'contender':34} {'seconds':>8} {'peak RSS':>10} {'vs irzoo':>9}")
    for name in MODELS:
        irzoo = json_objects(os.path.join(out, f"irzoo.{name}.jsonl"))
        torch_rows = json_objects(os.path.join(out, f"torch.{name}.jsonl"))
        ort_rows = json_objects(os.path.join(out, f"ort.{name}.jsonl"))
        if not irzoo:
            continue
        ours = min(r["seconds"] for r in irzoo)
        side = np.load(os.path.join(out, f"{name}_input.npy"), mmap_mode="r").shape[-1]
        label = f"{name} {side}x{side}"
        print(f"{label:24} {'irzoo run (' + str(irzoo[0]['threads']) + ' threads)':34} {ours:8.3f} "
              f"{rss_mib('irzoo.' + name):7.0f} MiB {1:8.2f}x")
        for layout in ("contiguous", "channels_last"):
            if torch_rows:
                t = min(r[layout] for r in torch_rows)
                print(f"{'':24} {'torch eager, ' + layout:34} {t:8.3f} {rss_mib('torch.' + name):7.0f} MiB {t / ours:8.2f}x")
        if ort_rows:
            t = min(r["seconds"] for r in ort_rows)
            print(f"{'':24} {'onnxruntime (' + str(ort_rows[0]['threads']) + ' intra-op threads)':34} {t:8.3f} "
                  f"{rss_mib('ort.' + name):7.0f} MiB {t / ours:8.2f}x")
        ref = np.load(os.path.join(out, f"{name}_torch_output.npy"))
        got = np.load(os.path.join(out, f"{name}_irzoo_output.npy"))
        print(f"{'':24} irzoo vs torch output: max abs diff {np.abs(got - ref).max():.2e}"
              + (f"; onnxruntime vs torch {ort_rows[0]['max_abs_vs_torch']:.2e}" if ort_rows else ""))
    print("vs irzoo = contender seconds / irzoo seconds (> 1: irzoo is faster); seconds are the best forward pass "
          "over the rounds, in-process (irzoo: `run --json` seconds); peak RSS of the whole process (/usr/bin/time); "
          "torch runs upstream's FFT branch, onnxruntime and irzoo the sum it equals")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "prepare":
        prepare(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 256)
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
