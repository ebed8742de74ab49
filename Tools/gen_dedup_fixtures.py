"""Issue 19 fixtures: the same tensors (the symunet-tiny golden's weights) saved four ways, so a
test can check that irzoo stores them as ONE blob whatever the container or wrapper:

  zip.pth          torch.save, zip container, plain state_dict
  legacy.pth       torch.save(_use_new_zipfile_serialization=False), plain state_dict
  model.safetensors safetensors.torch.save_file (its own key order: by dtype size, then name)
  basicsr.pth      torch.save({"params": state_dict}), BasicSR's wrapper, keys in reverse order

Usage: python Tools/gen_dedup_fixtures.py   (writes Tests/Fixtures/dedup/)
"""
import os
from collections import OrderedDict

import torch
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "dedup")


def main():
    os.makedirs(OUT, exist_ok=True)
    src = torch.load(os.path.join(ROOT, "Tests", "Fixtures", "models", "symunet-tiny", "checkpoint.pth"),
                     map_location="cpu", weights_only=True)["params"]
    sd = OrderedDict((k, v.contiguous().clone()) for k, v in src.items())
    torch.save(sd, os.path.join(OUT, "zip.pth"))
    torch.save(sd, os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)
    save_file(dict(sd), os.path.join(OUT, "model.safetensors"))
    reversed_sd = OrderedDict(reversed(list(sd.items())))
    torch.save({"params": reversed_sd}, os.path.join(OUT, "basicsr.pth"))
    print(f"{len(sd)} tensors written four ways to {OUT}")


if __name__ == "__main__":
    main()
