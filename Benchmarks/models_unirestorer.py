"""The Python side of Benchmarks/unirestorer.sh: the released-size UniRestorer (DA-CLIP ViT-B/32
router, 1 + 7 + 23 experts in init_experts_three_layers' order) with seeded random weights, saved
as upstream saves it ({'params': state_dict}, about 4.5 GB), and PyTorch eager on a SIDE x SIDE
image: the router (DA-CLIP preprocessing by the tensor path, visual_control, heads, gates) and the
routed expert, timed apart.

Subcommands (each in a process of its own, so peak RSS is its own):
  prepare DIR SIDE          DIR/model.pth, DIR/input.npy
  torch DIR THREADS         one routed run after a warm-up of the router; prints one JSON line
"""
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tools", "reference"))
sys.path.insert(0, os.path.join(HERE, "..", "Tools"))


def build():
    import torch
    import unirestorer
    from check_unirestorer_reference_keys import TEXT, VISION, released_tree
    torch.manual_seed(0)
    daclip = unirestorer.DaCLIP(unirestorer.CLIP(512, VISION, TEXT))
    model = unirestorer.UniRestorer(daclip, *released_tree(), 512)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("lf_gate.0.weight", "layer_gate.0.weight")) or "lora_B" in name:
                p.normal_(0, 0.02)
    return model.eval()


def prepare(out, side):
    import torch
    model = build()
    torch.save({"params": model.state_dict()}, os.path.join(out, "model.pth"))
    x = np.random.default_rng(1).random((1, 3, side, side), dtype=np.float32)
    np.save(os.path.join(out, "input.npy"), x)


def run_torch(out, threads):
    import torch
    import clip_vision
    torch.set_num_threads(threads)
    model = build()
    model.load_state_dict(torch.load(os.path.join(out, "model.pth"), weights_only=True, mmap=True)["params"])
    x = torch.from_numpy(np.load(os.path.join(out, "input.npy")))
    with torch.no_grad():
        model.route(clip_vision.clip_preprocess(x, 224))  # warm-up
        t0 = time.perf_counter()
        r = model.route(clip_vision.clip_preprocess(x, 224))
        t1 = time.perf_counter()
        model.expert_pool[int(r["pool"][0])](x)
        t2 = time.perf_counter()
    print(json.dumps(dict(router_seconds=t1 - t0, expert_seconds=t2 - t1, seconds=t2 - t0,
                          leaf=int(r["leaf"][0]), level=int(r["level"][0]), pool=int(r["pool"][0]))))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "prepare":
        prepare(sys.argv[2], int(sys.argv[3]))
    elif cmd == "torch":
        run_torch(sys.argv[2], int(sys.argv[3]))
