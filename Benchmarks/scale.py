"""The Python side of `make bench-scale` (Benchmarks/scale.sh).

  inputs DIR SIDE...         writes DIR/in<SIDE>.npy, seeded [1, 3, SIDE, SIDE] float32 in [0, 1)
  report DIR "LEVELS" SIDE...  the table: seconds and peak RSS, each per megapixel, from the
                             `irzoo run --json` records and the /usr/bin/time lines
"""
import os
import sys

import numpy as np

from models_anyir import json_objects  # `run --json` prints one pretty-printed object per run


def inputs(out, sides):
    rng = np.random.default_rng(1)
    for s in sides:
        np.save(os.path.join(out, f"in{s}.npy"), rng.random((1, 3, s, s), dtype=np.float32))


def report(out, levels, sides):
    print("| level | side | MP | seconds (first pass) | s / MP | vs smallest | CPU s / pass / MP | vs smallest | peak RSS | RSS / MP |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for level in levels:
        base = cpu_base = None
        for s in sides:
            runs = json_objects(os.path.join(out, f"irzoo.{level}.{s}.jsonl"))
            times = [list(map(float, l.split())) for l in open(os.path.join(out, f"time.{level}.{s}"))]
            rss = [t[1] for t in times]
            cpu = min((t[2] + t[3]) / r["repeat"] for t, r in zip(times, runs))
            best = min(r["seconds"] for r in runs)
            first = min(r["first_seconds"] for r in runs)
            mp = s * s / 1e6
            per = best / mp
            cpu_per = cpu / mp
            base = base or per
            cpu_base = cpu_base or cpu_per
            gib = max(rss) / 1048576
            print(f"| {level} | {s} | {mp:.3f} | {best:.2f} ({first:.2f}) | {per:.2f} | {per / base:.2f}x | "
                  f"{cpu_per:.2f} | {cpu_per / cpu_base:.2f}x | {gib:.2f} GiB | {gib / mp:.2f} GiB |")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "inputs":
        inputs(sys.argv[2], [int(s) for s in sys.argv[3:]])
    elif cmd == "report":
        report(sys.argv[2], sys.argv[3].split(), [int(s) for s in sys.argv[4:]])
    else:
        sys.exit(__doc__)
