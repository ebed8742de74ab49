#!/usr/bin/env python3
"""Writes the PyTorch checkpoint fixtures under Tests/Fixtures/torch/ with the real writers
(torch.save zip and legacy, torch.jit.save), plus the expected tensors of each in
expected.json: names, dtypes, shapes and the sha256 of each tensor's C-contiguous
little-endian bytes, the wrapper irzoo must report and the lines it must list as ignored.

Also writes plain pickles of protocols 0-5 (pickles/values_pN.pkl) with their canonical
rendering (torch_fixture_lib.render), which the pickle machine tests compare exactly.

Every archive is re-loaded with torch.load and compared with what was saved, so the
fixtures (including the hand-built big-endian, ZIP64 and deflated ones) are known-good.
Fixed seeds: running this twice gives identical tensors.
"""
import argparse
import collections
import io
import json
import os
import pathlib
import struct
import sys
import types
import warnings
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fixture_lib import (STORAGE_ELEMENT_SIZES, ZipMember, ZipWriter, bint, glob, pickled_dict,  # noqa: E402
                               rebuild_tensor, render, storage_types, tensor_entry, tup, uni, zip_members)

warnings.filterwarnings("ignore")
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "torch"


def install_fake_lightning():
    """Lightning is not installed: register its AttributeDict under its real module path, so
    the pickle names `lightning_fabric.utilities.data.AttributeDict` as a real checkpoint does."""
    mod = types.ModuleType("lightning_fabric.utilities.data")

    class AttributeDict(dict):
        def __getattr__(self, key):
            return self[key]

    AttributeDict.__module__ = "lightning_fabric.utilities.data"
    AttributeDict.__qualname__ = "AttributeDict"
    mod.AttributeDict = AttributeDict
    for name in ["lightning_fabric", "lightning_fabric.utilities"]:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["lightning_fabric.utilities.data"] = mod
    return AttributeDict


def dtype_state_dict():
    """Every dtype, 0-dim, empty, storage offsets, non-contiguous views, shared storages."""
    g = torch.Generator().manual_seed(1234)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 4, generator=g)
    sd["f16"] = torch.randn(2, 3, generator=g).half()
    sd["bf16"] = torch.randn(5, generator=g).bfloat16()
    sd["f64"] = torch.randn(2, 2, generator=g).double()
    sd["i64"] = torch.randint(-2**40, 2**40, (3,), generator=g)
    sd["i32"] = torch.randint(-2**31, 2**31 - 1, (2, 2), generator=g, dtype=torch.int32)
    sd["i16"] = torch.randint(-2**15, 2**15 - 1, (4,), generator=g, dtype=torch.int16)
    sd["i8"] = torch.randint(-128, 127, (2, 3), generator=g, dtype=torch.int8)
    sd["u8"] = torch.randint(0, 255, (3, 2), generator=g, dtype=torch.uint8)
    sd["bool"] = torch.rand(5, generator=g) > 0.5
    sd["scalar"] = torch.tensor(3.5)
    sd["num_batches_tracked"] = torch.tensor(7)
    sd["empty"] = torch.zeros(0, 3)
    base = torch.arange(24, dtype=torch.float32)
    sd["base"] = base
    sd["slice"] = base[5:11]                         # storage offset 5, shares base's storage
    sd["view2d"] = base.view(4, 6)                   # same storage, contiguous
    sd["transposed"] = base.view(4, 6).t()           # non-contiguous
    sd["strided"] = base.view(4, 6)[1:, ::2]         # offset and strides
    sd["expanded"] = torch.randn(3, 1, generator=g).expand(3, 4)  # stride 0
    sd["bf16_t"] = torch.randn(3, 5, generator=g).bfloat16().t()
    sd["i64_t"] = torch.arange(12).view(3, 4).t()
    sd["channels_last"] = torch.randn(1, 3, 2, 2, generator=g).to(memory_format=torch.channels_last)
    sd["tied"] = sd["f32"]                           # the same tensor twice
    return sd


def expected_tensors(sd, prefix=""):
    return [tensor_entry(prefix + k, v) for k, v in sd.items()]


def check_loads(path, want):
    """torch.load (trusted: our own file) must give back exactly `want`."""
    got = torch.load(path, weights_only=False)
    def walk(a, b, where):
        if isinstance(a, torch.Tensor):
            assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
            assert torch.equal(a, b), where
        elif isinstance(a, dict):
            for k in a:  # `want` may name only part of what was saved
                walk(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, (list, tuple)):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{where}.{i}")
    walk(want, got, str(path))


def rewrite_zip(src, dst, transform, zip64=False, method=0):
    """Copies a torch zip member by member through `transform(name, data) -> data`."""
    w = ZipWriter(zip64=zip64)
    for name, data in zip_members(src):
        w.add(ZipMember(name, transform(name, data), method=method))
    dst.write_bytes(w.build())


def big_endian_copy(src, dst):
    members = dict(zip_members(src))
    root = next(iter(members)).split("/")[0]
    types_ = storage_types(members[f"{root}/data.pkl"])

    def swap(name, data):
        if name == f"{root}/byteorder":
            return b"big"
        if name.startswith(f"{root}/data/"):
            size = STORAGE_ELEMENT_SIZES[types_[name.rsplit("/", 1)[1]]]
            if size > 1:
                return np.frombuffer(data, dtype=f"<u{size}").byteswap().tobytes()
        return data
    rewrite_zip(src, dst, swap)


def tiny_scripted_module():
    torch.manual_seed(7)

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.norm = torch.nn.BatchNorm2d(4)
            self.register_buffer("scale", torch.full((4,), 0.5))
            self.gain = torch.nn.Parameter(torch.ones(4))

        def forward(self, x):
            return self.norm(self.conv(x)) * self.scale.view(1, -1, 1, 1) * self.gain.view(1, -1, 1, 1)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 2), torch.nn.ReLU(),
                                            torch.nn.Linear(2, 2, bias=False))
            self.pos = torch.nn.Parameter(torch.randn(1, 4, 1, 1))

        def forward(self, x):
            y = self.block(x) + self.pos + torch.ones(1)  # torch.ones(1): a trace constant
            return self.head(y)

    net = Net().eval()
    with torch.no_grad():
        net.block.norm.running_mean.uniform_(-1, 1)
        net.block.norm.running_var.uniform_(0.5, 2)
    return torch.jit.trace(net, torch.randn(1, 3, 4, 4))


def write_legacy_views(path):
    """A legacy file whose tensors sit on views of one root storage of 8 floats:
    view 'v1' = elements 2..5, view 'v2' = all 8."""
    def pid(view_key, offset, size):
        return tup([uni("storage"), glob("torch", "FloatStorage"), uni("100"), uni("cpu"), bint(8),
                    tup([uni(view_key), bint(offset), bint(size)])]) + b"Q"
    obj = pickled_dict([
        ("a", rebuild_tensor(pid("v1", 2, 4), 1, (3,), (1,))),
        ("b", rebuild_tensor(pid("v2", 0, 8), 0, (2, 4), (4, 1))),
        ("c", rebuild_tensor(pid("v1", 2, 4), 0, (2, 2), (1, 2))),
    ])
    magic = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
    header = magic + b"\x80\x02M\xe9\x03." + b"\x80\x02}(" + uni("little_endian") + b"\x88u."
    keys = b"\x80\x02(" + uni("100") + b"l."
    raw = struct.pack("<q", 8) + (np.arange(8, dtype=np.float32) * 1.5).tobytes()
    path.write_bytes(header + obj + keys + raw)


def small_model_state_dict(seed):
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 2, 1))
    return m, m.state_dict()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pickles").mkdir(exist_ok=True)
    AttributeDict = install_fake_lightning()
    expected = {"files": {}, "pickles": {}}

    def record(name, fmt, sd, wrapper=None, ignored=None, prefix="", **extra):
        expected["files"][name] = dict(format=fmt, wrapper=wrapper, tensors=expected_tensors(sd, prefix),
                                       ignored=ignored or [], **extra)

    # --- every dtype and layout, in each container ---------------------------------------
    sd = dtype_state_dict()
    torch.save(sd, OUT / "dtypes.pt")
    check_loads(OUT / "dtypes.pt", sd)
    record("dtypes.pt", "torch-zip", sd)

    torch.save(sd, OUT / "dtypes_legacy.pt", _use_new_zipfile_serialization=False)
    check_loads(OUT / "dtypes_legacy.pt", sd)
    record("dtypes_legacy.pt", "torch-legacy", sd)

    for proto in (1, 4, 5):
        torch.save(sd, OUT / f"dtypes_proto{proto}.pt", pickle_protocol=proto)
        check_loads(OUT / f"dtypes_proto{proto}.pt", sd)
        record(f"dtypes_proto{proto}.pt", "torch-zip", sd)
    torch.save(sd, OUT / "dtypes_legacy_proto1.pt", pickle_protocol=1, _use_new_zipfile_serialization=False)
    check_loads(OUT / "dtypes_legacy_proto1.pt", sd)
    record("dtypes_legacy_proto1.pt", "torch-legacy", sd)

    big_endian_copy(OUT / "dtypes.pt", OUT / "dtypes_bigendian.pt")
    check_loads(OUT / "dtypes_bigendian.pt", sd)
    record("dtypes_bigendian.pt", "torch-zip", sd)

    rewrite_zip(OUT / "dtypes.pt", OUT / "dtypes_zip64.pt", lambda n, d: d, zip64=True)
    check_loads(OUT / "dtypes_zip64.pt", sd)
    record("dtypes_zip64.pt", "torch-zip", sd)

    rewrite_zip(OUT / "dtypes.pt", OUT / "dtypes_deflated.pt", lambda n, d: d, method=8)
    check_loads(OUT / "dtypes_deflated.pt", sd)
    record("dtypes_deflated.pt", "torch-zip", sd)

    # Legacy storage views (view_metadata), as torch < 1.0 wrote them: torch no longer writes
    # them, so the file is assembled by hand and torch.load checks it.
    write_legacy_views(OUT / "legacy_views.pt")
    lv = torch.load(OUT / "legacy_views.pt", weights_only=False)
    root = torch.arange(8, dtype=torch.float32) * 1.5
    want = collections.OrderedDict([("a", root[3:6]), ("b", root.view(2, 4)), ("c", root[2:6].as_strided((2, 2), (1, 2)))])
    for k in want:
        assert torch.equal(lv[k], want[k]), k
    record("legacy_views.pt", "torch-legacy", want)

    # A bare tensor.
    t = torch.arange(6, dtype=torch.float16).view(2, 3)
    torch.save(t, OUT / "single_tensor.pt")
    check_loads(OUT / "single_tensor.pt", t)
    record("single_tensor.pt", "torch-zip", {"tensor": t}, wrapper="single tensor")

    # --- TorchScript --------------------------------------------------------------------------
    scripted = tiny_scripted_module()
    torch.jit.save(scripted, OUT / "torchscript.pt")
    loaded = torch.jit.load(OUT / "torchscript.pt")
    ts_sd = loaded.state_dict()
    n_constants = sum(1 for n, _ in zip_members(OUT / "torchscript.pt") if "/constants/" in n)
    record("torchscript.pt", "torchscript", ts_sd, wrapper="TorchScript module __torch__.Net",
           notes=[f"TorchScript archive: weights read from the module tree in data.pkl; constants.pkl "
                  f"({n_constants} trace constant{'' if n_constants == 1 else 's'}) skipped"],
           select={"block": {"wrapper": "TorchScript module __torch__.Net, submodule 'block' (selected)",
                             "names": [k[len("block."):] for k in ts_sd if k.startswith("block.")]}})

    # --- wrappers -----------------------------------------------------------------------------
    _, sd_a = small_model_state_dict(1)
    _, sd_b = small_model_state_dict(2)
    basicsr = {"params": sd_a, "params_ema": sd_b}
    torch.save(basicsr, OUT / "basicsr.pth")
    check_loads(OUT / "basicsr.pth", basicsr)
    record("basicsr.pth", "torch-zip", sd_b, wrapper="params_ema", ignored=[f"params (OrderedDict of {len(sd_a)}, ignored)"],
           select={"params": {"wrapper": "params (selected)", "names": list(sd_a.keys()),
                              "ignored": [f"params_ema (OrderedDict of {len(sd_b)}, ignored)"]}})

    dp = collections.OrderedDict(("module." + k, v) for k, v in sd_a.items())
    torch.save(dp, OUT / "dataparallel.pth")
    check_loads(OUT / "dataparallel.pth", dp)
    record("dataparallel.pth", "torch-zip", sd_a, wrapper="prefix 'module.' stripped")

    model, sd_l = small_model_state_dict(3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 6, 6)).sum().backward()
    opt.step()
    sd_l = model.state_dict()
    hparams = AttributeDict(
        args=argparse.Namespace(lr=1e-3, patch_size=128, name="anyir"),
        np_float=np.float64(0.25), np_int=np.int64(7), np_array=np.arange(4, dtype=np.float32),
        np_dtype=np.dtype("float16"), degradations=["noise", "rain"],
    )
    ckpt = {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "2.4.0",
        "torch_version": torch.__version__,  # a TorchVersion, pickled with NEWOBJ
        "state_dict": collections.OrderedDict(("net." + k, v) for k, v in sd_l.items()),
        "callbacks": {"ModelCheckpoint{'monitor': 'psnr'}": {"best_model_score": torch.tensor(31.5)}},
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [{"last_epoch": 3, "base_lrs": [1e-3]}],
        "hparams_name": "kwargs",
        "hyper_parameters": hparams,
    }
    torch.save(ckpt, OUT / "lightning.ckpt")
    check_loads(OUT / "lightning.ckpt", {k: v for k, v in ckpt.items() if k == "state_dict"})
    record("lightning.ckpt", "torch-zip", sd_l, wrapper="state_dict (prefix 'net.' stripped)", ignored=[
        "epoch (int, ignored)", "global_step (int, ignored)", "pytorch-lightning_version (str, ignored)",
        "torch_version (str, ignored)",
        "callbacks (dict of 1, ignored)", "optimizer_states (list of 1, ignored)", "lr_schedulers (list of 1, ignored)",
        "hparams_name (str, ignored)", "hyper_parameters (AttributeDict of 6, ignored)"],
        select={"optimizer_states.0.state": {
            "wrapper": "optimizer_states.0.state (selected)",
            "names": [f"{i}.{k}" for i, s in opt.state_dict()["state"].items() for k in s]}})

    # Lightning checkpoint whose hyper-parameters hold a global outside the allow-list.
    ckpt_p = dict(ckpt, hyper_parameters=dict(data_dir=pathlib.PurePosixPath("/data/train"), lr=1e-3))
    torch.save(ckpt_p, OUT / "lightning_pathlib.ckpt")
    record("lightning_pathlib.ckpt", "torch-zip", sd_l, wrapper="state_dict (prefix 'net.' stripped)",
           refused="pathlib.PurePosixPath", ignored=[
               "epoch (int, ignored)", "global_step (int, ignored)", "pytorch-lightning_version (str, ignored)",
               "torch_version (str, ignored)",
               "callbacks (dict of 1, ignored)", "optimizer_states (list of 1, ignored)",
               "lr_schedulers (list of 1, ignored)", "hparams_name (str, ignored)",
               "hyper_parameters (dict of 2, ignored)"],
           permissive_only=True)

    nested = {
        "encoder": {"w": sd_a["0.weight"], "b": sd_a["0.bias"]},
        "blocks": [{"w": sd_b["0.weight"]}, {"w": sd_b["2.weight"], "scale": 0.5}],
        "step": 11,
    }
    torch.save(nested, OUT / "nested.pth")
    check_loads(OUT / "nested.pth", nested)
    record("nested.pth", "torch-zip", collections.OrderedDict([
        ("encoder.w", sd_a["0.weight"]), ("encoder.b", sd_a["0.bias"]),
        ("blocks.0.w", sd_b["0.weight"]), ("blocks.1.w", sd_b["2.weight"])]),
        ignored=["blocks.1.scale (float, ignored)", "step (int, ignored)"])

    # --- plain pickles, protocols 0 to 5 -------------------------------------------------------
    value = collections.OrderedDict([
        ("none", None), ("true", True), ("false", False),
        ("ints", [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, 2**63 - 1, -2**63, 2**64, -2**100 - 7]),
        ("floats", [0.0, -0.0, 0.1, 1e300, -2.5e-310, float("inf")]),
        ("text", ["", "plain", "quote\"back\\slash", "naïve ☃ 𝄞", "line\nbreak"]),
        ("bytes", [b"", b"\x00\x01\xff", bytes(range(256))]),
        ("tuple", (1, (2,), ())), ("list", [[], [1, [2, [3]]]]),
        ("dict", {"a": 1, 2: "b", (1, 2): None}),
        ("set", {1, 2, 3}), ("frozenset", frozenset(["x"])),
        ("bytearray", bytearray(b"xy")),
        ("complex", complex(1.5, -2.0)),
        ("namespace", argparse.Namespace(lr=0.1, tags=["a"])),
        ("shared", None),
    ])
    shared = [1, 2]
    value["shared"] = [shared, shared]
    import pickle
    for proto in range(6):
        data = pickle.dumps(value, protocol=proto)
        (OUT / "pickles" / f"values_p{proto}.pkl").write_bytes(data)  # noqa: E501
        expected["pickles"][f"values_p{proto}.pkl"] = render(pickle.loads(data))

    # The data.pkl of a few archives, as seeds for the pickle-machine fuzz target.
    for archive in ("dtypes.pt", "dtypes_proto4.pt", "lightning.ckpt", "torchscript.pt"):
        for name, data in zip_members(OUT / archive):
            if name.endswith("/data.pkl"):
                (OUT / "pickles" / f"data_{archive.split('.')[0]}.pkl").write_bytes(data)

    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {len(expected['files'])} checkpoints and {len(expected['pickles'])} pickles to {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
