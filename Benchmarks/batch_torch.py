"""The Python side of `make bench-batch` (Benchmarks/batch.sh).

Subcommands:
  prepare DIR N SIDE_W SIDE_H   N noisy JPEGs (quality 90, seeded noise on skimage's chelsea, resized)
                                in DIR/in, and one 6000x4000 (24 MP) JPEG in DIR/big when SIDE_W is 0
  torch DIR THREADS             the PyTorch loop over DIR/in: PIL decode (exif_transpose), the demo
                                SymUNet forward, PIL encode (JPEG 95, 4:4:4) into DIR/out-torch;
                                prints one JSON line (images, seconds)
  w48 DIR                       writes a SymUNet w48 checkpoint (seeded random weights, BasicSR container)
  report DIR                    the table, from DIR/*.jsonl and the /usr/bin/time records
"""
import glob
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tools", "reference"))


def prepare(out, n, w, h):
    from PIL import Image
    from skimage import data
    base = Image.fromarray(data.chelsea())
    rng = np.random.default_rng(0)
    if w == 0:
        os.makedirs(os.path.join(out, "big"), exist_ok=True)
        img = np.asarray(base.resize((6000, 4000), Image.BICUBIC)).astype(np.float32)
        img = np.clip(img + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(os.path.join(out, "big", "photo-24mp.jpg"), quality=90)
        return
    os.makedirs(os.path.join(out, "in"), exist_ok=True)
    clean = np.asarray(base.resize((w, h), Image.BICUBIC)).astype(np.float32)
    for i in range(n):
        noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(os.path.join(out, "in", f"photo-{i:03d}.jpg"), quality=90)


def torch_loop(out, threads):
    import torch
    from PIL import Image, ImageOps
    from symunet import SymUNet
    torch.set_num_threads(threads)
    demo = json.load(open(os.path.join(HERE, "..", "Zoo", "demo", "metrics.json")))
    net = SymUNet(**demo["config"]).eval()
    state = torch.load(os.path.join(HERE, "..", "Zoo", "demo", "symunet-demo.pth"), map_location="cpu", weights_only=True)
    net.load_state_dict(state["params"])
    dst = os.path.join(out, "out-torch")
    os.makedirs(dst, exist_ok=True)
    files = sorted(glob.glob(os.path.join(out, "in", "*.jpg")))
    start = time.time()
    with torch.inference_mode():
        for f in files:
            with Image.open(f) as im:
                rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"), dtype=np.float32) / 255.0
            x = torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous()
            y = net(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
            Image.fromarray(np.round(y * 255).astype(np.uint8)).save(os.path.join(dst, os.path.basename(f)), quality=95, subsampling=0)
    print(json.dumps({"images": len(files), "seconds": time.time() - start}))


def w48(out):
    import torch
    from symunet import PUBLISHED, SymUNet
    torch.manual_seed(0)
    torch.save({"params": SymUNet(**PUBLISHED).state_dict()}, os.path.join(out, "symunet-w48.pth"))


def report(out):
    def records(name):
        p = os.path.join(out, name)
        return [tuple(map(float, l.split())) for l in open(p)] if os.path.exists(p) else []

    def best(name):
        r = records(name)
        return min(r) if r else None

    n = len(glob.glob(os.path.join(out, "in", "*.jpg")))
    rows = []
    for label, rec in [("irzoo run (folder, 2 threads)", "time.irzoo"), ("PyTorch loop + PIL (2 threads)", "time.torch")]:
        b = best(rec)
        if b:
            rows.append((label, b[0], n / b[0], b[1] / 1024))
    print(f"\n{n} JPEGs of about 1 megapixel through symunet-demo (best of the rounds; whole process: load, decode, forward, encode):")
    print(f"{'':34} {'seconds':>9} {'images/s':>9} {'peak RSS MiB':>13}")
    for label, s, ips, rss in rows:
        print(f"{label:34} {s:9.1f} {ips:9.3f} {rss:13.0f}")
    if len(rows) == 2:
        print(f"irzoo / PyTorch images per second: {rows[0][2] / rows[1][2]:.2f}x (target >= 2x)")
    small = best("time.irzoo.few")
    if small and rows:
        print(f"irzoo peak RSS on {min(10, n)} images: {small[1] / 1024:.0f} MiB, on {n}: {rows[0][3]:.0f} MiB "
              f"(flat in the number of images when these agree)")
    big = best("time.irzoo.big")
    if big:
        line = open(os.path.join(out, "irzoo.big.jsonl")).read().splitlines()
        info = next((json.loads(l) for l in line if '"restored"' in l and '"index"' in l), {})
        print(f"\n24-megapixel JPEG through SymUNet w48 (automatic tiling: {info.get('tiling', '?')}): "
              f"{big[0]:.0f} s, peak RSS {big[1] / 1024:.0f} MiB")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "prepare":
        prepare(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "torch":
        torch_loop(sys.argv[2], int(sys.argv[3]))
    elif cmd == "w48":
        w48(sys.argv[2])
    elif cmd == "report":
        report(sys.argv[2])
