#!/usr/bin/env python3
"""The PyTorch baseline: torch.load, then safetensors.torch.save_file. Prints one JSON line with
the in-process time (after `import torch`, which is not counted).

    torch_convert.py IN.pth OUT.safetensors
"""
import json
import sys
import time

import torch
from safetensors.torch import save_file

torch.set_num_threads(2)
t0 = time.perf_counter()
obj = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
sd = obj.get("params", obj)
t1 = time.perf_counter()
save_file({k: v.contiguous() for k, v in sd.items()}, sys.argv[2], metadata={"format": "pt"})
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "save_s": t2 - t1, "seconds": t2 - t0}))
