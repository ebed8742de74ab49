#!/usr/bin/env python3
"""Fixtures for the safetensors, HDF5 and .npy/.npz readers (and the safetensors writer).

Every valid file is written by the real writer (safetensors.torch / safetensors.numpy, h5py,
numpy); the Keras files are laid out with h5py exactly as Keras' legacy HDF5 saver does
(keras is not installed). Beside each set, expected.json gives, per file, the tensors in the
order irzoo must report them with dtype, shape, the sha256 of their C-contiguous little-endian
bytes and, for small tensors, the values. Malformed inputs go under */malformed/ with the message
fragment irzoo must print; for safetensors the script also checks what the reference
implementation (the `safetensors` package) does with each one.

Usage:
  python Tools/gen_safetensors_hdf5_fixtures.py              # (re)write Tests/Fixtures/{safetensors,hdf5,npy}
  python Tools/gen_safetensors_hdf5_fixtures.py --verify-swift DIR
      loads every *.safetensors the Swift writer test left in DIR (IRZOO_ST_EXPORT_DIR) with the
      Python safetensors package and compares it with torch's own conversion of the source.
"""
import hashlib
import io
import json
import math
import os
import shutil
import struct
import sys
import zipfile

import h5py
import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load as st_load_bytes
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import save_file as torch_save_file

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIX = os.path.join(ROOT, "Tests", "Fixtures")

TORCH_DTYPE_NAMES = {
    torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16", torch.float64: "f64",
    torch.int64: "i64", torch.int32: "i32", torch.int16: "i16", torch.int8: "i8", torch.uint8: "u8",
    torch.bool: "bool",
}
NP_DTYPE_NAMES = {
    "float32": "f32", "float16": "f16", "float64": "f64", "int64": "i64", "int32": "i32",
    "int16": "i16", "int8": "i8", "uint8": "u8", "bool": "bool",
}


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def jsonable(v):
    """Floats as their shortest round-trip text (JSON parsers disagree on the last digit);
    integers as JSON integers."""
    if isinstance(v, float):
        return repr(v)
    return v


def torch_entry(name, t):
    """name, dtype, shape, sha256 of LE C-order bytes, and values when small."""
    t = t.contiguous()
    raw = t.reshape(-1).view(torch.uint8).numpy().tobytes()
    e = {"name": name, "dtype": TORCH_DTYPE_NAMES[t.dtype], "shape": list(t.shape), "sha256": sha256(raw)}
    if t.numel() <= 16:
        vals = t.float().flatten().tolist() if t.dtype in (torch.float16, torch.bfloat16) else t.flatten().tolist()
        e["values"] = [jsonable(float(v)) if isinstance(v, float) else (int(v) if not isinstance(v, bool) else int(v)) for v in vals]
    return e


def np_entry(name, a):
    a = np.require(a, requirements="C")  # (np.ascontiguousarray would make a 0-dim array 1-dim)
    le = a.astype(a.dtype.newbyteorder("<")) if a.dtype.byteorder == ">" else a
    e = {"name": name, "dtype": NP_DTYPE_NAMES[le.dtype.name], "shape": list(a.shape),
         "sha256": sha256(le.tobytes())}
    if a.size <= 16:
        e["values"] = [jsonable(float(v)) if le.dtype.kind == "f" else int(v) for v in le.flatten().tolist()]
    return e


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")


def fresh_dir(path, keep=()):
    """Empties `path` (creating it), except the entries named in `keep`."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name in keep:
            continue
        full = os.path.join(path, name)
        if os.path.isdir(full):
            shutil.rmtree(full)
        else:
            os.remove(full)


# ---------------------------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------------------------

def special_f32():
    # NaN, infinities, signed zero, the bf16 tie 1+2^-8 (rounds to even 1.0) and 1+3*2^-8
    # (rounds up), f16 overflow (65520 -> inf), an f16 subnormal and an f32 subnormal.
    return torch.tensor([float("nan"), float("inf"), float("-inf"), -0.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8,
                         65520.0, 6e-8, 1e-40, -2.5, 3.14159265, 1e30], dtype=torch.float32)


def special_f64():
    # Values where rounding f64 -> f16/bf16 directly differs from rounding through f32:
    # torch goes through f32, so must we.
    return torch.tensor([1 + 2 ** -11 + 2 ** -40, 1 + 2 ** -8 + 2 ** -40, -1.5, 1e-310, 123456.789], dtype=torch.float64)


def torch_table():
    g = torch.Generator().manual_seed(1234)
    return {
        "conv.weight": torch.randn(4, 3, 3, 3, generator=g),
        "conv.bias": torch.randn(4, generator=g),
        "special.f32": special_f32(),
        "special.f64": special_f64(),
        "half.weight": torch.randn(2, 5, generator=g).to(torch.float16),
        "bf16.weight": torch.randn(3, 4, generator=g).to(torch.bfloat16),
        "double.weight": torch.randn(2, 3, generator=g).to(torch.float64),
        "steps": torch.tensor([1, -2, 2 ** 40, -(2 ** 62)], dtype=torch.int64),
        "ids": torch.arange(-3, 3, dtype=torch.int32).reshape(2, 3),
        "shorts": torch.tensor([-32768, 0, 32767], dtype=torch.int16),
        "bytes_signed": torch.tensor([-128, -1, 0, 127], dtype=torch.int8),
        "bytes_unsigned": torch.tensor([0, 1, 200, 255], dtype=torch.uint8),
        "mask": torch.tensor([[True, False, True], [False, False, True]]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "odd.u8": torch.tensor([7, 8, 9], dtype=torch.uint8),  # 3 bytes: the next tensor may sit unaligned
    }


CANONICAL_NAN_BITS = {torch.float32: 0x7FC00000, torch.float16: 0x7E00, torch.bfloat16: 0x7FC0, torch.float64: 0x7FF8000000000000}
INT_VIEW = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float64: torch.int64}


def canonical_nan(t):
    bits = t.clone().view(INT_VIEW[t.dtype])
    nan_bits = CANONICAL_NAN_BITS[t.dtype]
    if nan_bits >= 1 << (8 * t.element_size() - 1):
        nan_bits -= 1 << (8 * t.element_size())
    bits[t.isnan()] = nan_bits
    return bits.view(t.dtype)


def same_values(a, b):
    """Equal bit for bit, except that any NaN equals any NaN."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.is_floating_point():
        if not torch.equal(a.isnan(), b.isnan()):
            return False
        a, b = a[~a.isnan()], b[~b.isnan()]
    return torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


def st_sorted_entries(path):
    """Tensors in file (offset) order, as irzoo must report them."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", None) or {}
    order = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    return [k for k, _ in order], meta


def gen_safetensors():
    out = os.path.join(FIX, "safetensors")
    fresh_dir(out)
    fresh_dir(os.path.join(out, "malformed"))
    expected = {"files": {}, "conversions": {}}

    # 1. The torch writer, every dtype, 0-dim, empty, metadata.
    table = torch_table()
    p = os.path.join(out, "torch_all_dtypes.safetensors")
    torch_save_file(table, p, metadata={"format": "pt", "source": "irzoo fixture", "unicode": "héllo ✓"})
    order, meta = st_sorted_entries(p)
    loaded = {}
    with safe_open(p, framework="pt") as f:
        for k in f.keys():
            loaded[k] = f.get_tensor(k)
    for k in table:
        assert same_values(loaded[k], table[k]), k
    expected["files"]["torch_all_dtypes.safetensors"] = {
        "metadata": meta, "tensors": [torch_entry(k, table[k]) for k in order]}

    # What `irzoo convert --dtype X` must produce for that file: torch's own `.to()`.
    # NaN payloads are not values: torch itself emits 0x7FC0 or 0xFFFF for a bf16 NaN depending on
    # whether its SIMD or scalar path converted the element, so converted NaNs are made canonical.
    conv = {}
    for mode, target in (("keep", None), ("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)):
        entries = []
        for k in order:
            t = table[k]
            if target is not None and t.is_floating_point():
                t = canonical_nan(t.to(target))
            entries.append(torch_entry(k, t))
        conv[mode] = entries
    expected["conversions"]["torch_all_dtypes.safetensors"] = conv

    # 2. The numpy writer.
    rng = np.random.default_rng(7)
    nptable = {
        "w": rng.standard_normal((3, 2)).astype(np.float32),
        "b": np.array([1.5, -2.25], dtype=np.float64),
        "h": rng.standard_normal((4,)).astype(np.float16),
        "i": np.array([[1, 2], [3, 4]], dtype=np.int32),
    }
    p = os.path.join(out, "numpy_writer.safetensors")
    np_save_file(nptable, p)
    order, meta = st_sorted_entries(p)
    expected["files"]["numpy_writer.safetensors"] = {
        "metadata": meta, "tensors": [np_entry(k, nptable[k]) for k in order]}

    # 3. An empty table (legal: header "{}" or metadata only, no data).
    p = os.path.join(out, "empty_table.safetensors")
    torch_save_file({}, p, metadata={"format": "pt"})
    expected["files"]["empty_table.safetensors"] = {"metadata": {"format": "pt"}, "tensors": []}

    # 4. Hand-built but valid: header order differs from offset order, whitespace inside the
    #    JSON, metadata null, two empty tensors at the same offset. The reference accepts it.
    a = np.array([1, 2, 3, 4], dtype=np.float32)
    b = np.array([[5, 6]], dtype=np.int16)
    header = ('{\n "b" : {"shape": [1, 2], "dtype": "I16", "data_offsets": [16, 20]},\n'
              ' "z2": {"dtype": "F32", "shape": [0], "data_offsets": [20, 20]},\n'
              ' "a" : {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},\n'
              ' "__metadata__": null,\n'
              ' "z1": {"dtype": "F32", "shape": [0, 5], "data_offsets": [20, 20]}\n}')
    hb = header.encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    blob = struct.pack("<Q", len(hb)) + hb + a.tobytes() + b.tobytes()
    st_load_bytes(blob)  # the reference accepts it
    with open(os.path.join(out, "hand_unsorted.safetensors"), "wb") as f:
        f.write(blob)
    expected["files"]["hand_unsorted.safetensors"] = {"metadata": {}, "tensors": [
        np_entry("a", a), np_entry("b", b), np_entry("z2", np.zeros((0,), np.float32)),
        np_entry("z1", np.zeros((0, 5), np.float32))]}

    write_json(os.path.join(out, "expected.json"), expected)
    gen_safetensors_malformed(os.path.join(out, "malformed"))


def st_blob(header, data=b"", length=None, pad=True):
    hb = header if isinstance(header, bytes) else header.encode()
    if pad:
        hb += b" " * ((8 - len(hb) % 8) % 8)
    n = len(hb) if length is None else length
    return struct.pack("<Q", n) + hb + data


def gen_safetensors_malformed(out):
    good_header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}'
    good = st_blob(good_header, b"\x00" * 12)
    cases = {}

    def case(name, blob, fragment, reference_rejects=True, entry=None):
        cases[name] = (blob, fragment, reference_rejects, entry)

    case("truncated_data", good[:-5], "truncated file?")
    case("truncated_header", good[:30], "runs past the end of the file")
    case("tiny", b"\x05\x00\x00", "too small")
    case("header_too_large", struct.pack("<Q", 200_000_000) + b"{" + b" " * 64, "exceeds the 100 MB limit")
    case("header_length_u64_max", struct.pack("<Q", 2 ** 64 - 1) + b"{}", "exceeds the 100 MB limit")
    case("overlap", st_blob('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\x00" * 8),
         "overlap the previous tensor", entry="b")
    case("gap", st_blob('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', b"\x00" * 12),
         "leave a gap", entry="b")
    case("not_from_zero", st_blob('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\x00" * 8), "leave a gap", entry="a")
    case("trailing_bytes", st_blob(good_header, b"\x00" * 16), "must be fully indexed")
    case("duplicate_key", st_blob('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4),
         'duplicate key "a"', reference_rejects=False)
    case("duplicate_metadata_key", st_blob('{"__metadata__":{"k":"1","k":"2"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4),
         'duplicate key "k"', reference_rejects=False)
    case("unknown_dtype", st_blob('{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4), 'unknown dtype "F33"', entry="a")
    case("lowercase_dtype", st_blob('{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4), 'unknown dtype "f32"', entry="a")
    case("unsupported_dtype_u16", st_blob('{"a":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}}', b"\x00" * 4),
         "irzoo does not support", reference_rejects=False, entry="a")
    case("shape_overflow", st_blob('{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}', b"\x00" * 4),
         "overflows", entry="a")
    case("shape_mismatch", st_blob('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"\x00" * 4),
         "needs 8 bytes but data_offsets span 4", entry="a")
    case("non_utf8", st_blob(b'{"a\xff":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4), "not valid UTF-8")
    case("overlong_utf8", st_blob(b'{"a\xc0\xafb":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4), "not valid UTF-8")
    case("not_an_object", st_blob('[1,2]'), "does not start with '{'")
    case("trailing_comma", st_blob('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},}', b"\x00" * 4), "not valid JSON")
    case("trailing_garbage", st_blob('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}x', b"\x00" * 4, pad=True), "not valid JSON")
    case("nul_padding", st_blob(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}\x00\x00', b"\x00" * 4, pad=False), "not valid JSON")
    case("metadata_not_string", st_blob('{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4),
         "must be a string", entry="__metadata__")
    case("metadata_not_map", st_blob('{"__metadata__":["x"],"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4),
         "map of string to string", entry="__metadata__")
    case("extra_field", st_blob('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"offset":0}}', b"\x00" * 4),
         'unexpected field "offset"', reference_rejects=False, entry="a")
    case("missing_field", st_blob('{"a":{"dtype":"F32","data_offsets":[0,4]}}', b"\x00" * 4), 'missing field "shape"', entry="a")
    case("negative_offset", st_blob('{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}', b"\x00" * 4), "not a non-negative integer", entry="a")
    case("float_shape", st_blob('{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', b"\x00" * 4), "not a non-negative integer", entry="a")
    case("huge_offset", st_blob('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}', b"\x00" * 4),
         "data offset 18446744073709551615 is out of range", entry="a")
    case("three_offsets", st_blob('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}}', b"\x00" * 4), "exactly 2 integers", entry="a")
    case("end_before_begin", st_blob('{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}', b"\x00" * 4), "end before they begin", entry="a")
    case("deep_nesting", st_blob('{"__metadata__":' + "[" * 5000 + "]" * 5000 + "}"), "nesting deeper than")
    case("lone_surrogate", st_blob('{"a\\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4), "unpaired surrogate")
    case("entry_not_object", st_blob('{"a":[0,4]}'), "must be an object", entry="a")
    case("sub_byte_misaligned", st_blob('{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}', b"\x00" * 2),
         "byte boundary", entry="a")
    case("empty_header", struct.pack("<Q", 0), "does not start with '{'")
    case("leading_space", st_blob(' {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4),
         "does not start with '{'", reference_rejects=False)

    table = {}
    for name, (blob, fragment, reference_rejects, entry) in sorted(cases.items()):
        fname = name + ".safetensors"
        with open(os.path.join(out, fname), "wb") as f:
            f.write(blob)
        try:
            st_load_bytes(blob)
            rejected = False
        except Exception:
            rejected = True
        assert rejected == reference_rejects, f"{name}: reference {'rejects' if rejected else 'accepts'} it"
        table[fname] = {"fragment": fragment, "reference_rejects": reference_rejects}
        if entry is not None:
            table[fname]["entry"] = entry
    write_json(os.path.join(out, "expected.json"), table)


# ---------------------------------------------------------------------------------------------
# HDF5
# ---------------------------------------------------------------------------------------------

def bf16_type():
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_fields(15, 7, 8, 0, 7)
    t.set_size(2)
    t.set_ebias(127)
    return t


def gen_hdf5():
    out = os.path.join(FIX, "hdf5")
    # hdf5/crashers/ holds inputs found by fuzzing that crash libhdf5 1.10 itself; they cannot
    # be regenerated, so they are kept.
    fresh_dir(out, keep=("crashers",))
    fresh_dir(os.path.join(out, "malformed"))
    expected = {}
    rng = np.random.default_rng(42)

    # --- generic tree: every dtype, big-endian, 0-dim, empty, compressed, links, non-numeric data.
    data = {
        "encoder/conv1/weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "encoder/conv1/bias": rng.standard_normal((4,)).astype(np.float32),
        "encoder/norm/scale": rng.standard_normal((4,)).astype(np.float16),
        "decoder/proj/weight": rng.standard_normal((2, 4)).astype(">f8"),
        "ints/i64": np.array([1, -2, 2 ** 40, -(2 ** 62)], dtype="<i8"),
        "ints/i32_be": np.array([[1, -2, 3], [2 ** 30, -(2 ** 31), 0]], dtype=">i4"),
        "ints/i16": np.array([-32768, 7, 32767], dtype="<i2"),
        "ints/i8": np.array([-128, 0, 127], dtype="i1"),
        "ints/u8": np.array([0, 128, 255], dtype="u1"),
        "ints/flag": np.array([True, False, True, True]),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "compressed": rng.standard_normal((64, 32)).astype(np.float32),
        "big_endian_f32": np.array([1.5, -2.0, 1e-3], dtype=">f4"),
    }
    p = os.path.join(out, "generic.h5")
    with h5py.File(p, "w") as f:
        f.attrs["description"] = "irzoo generic fixture"
        for k, v in data.items():
            if k == "compressed":
                f.create_dataset(k, data=v, chunks=(16, 16), compression="gzip", shuffle=True)
            else:
                f.create_dataset(k, data=v)
        bits = np.array([0x3F80, 0x4000, 0xC040, 0x7FC0], dtype="<u2")  # 1, 2, -3, NaN as bfloat16
        sp = h5py.h5s.create_simple((2, 2))
        d = h5py.h5d.create(f["decoder"].id, b"bf16_weight", bf16_type(), sp)
        d.write(h5py.h5s.ALL, h5py.h5s.ALL, bits.reshape(2, 2), mtype=bf16_type())
        f.create_dataset("notes", data=np.array([b"hello", b"world"]))
        f.create_dataset("table", data=np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")]))
        f["alias_soft"] = h5py.SoftLink("/encoder/conv1/weight")
        f["ints/hard_alias"] = f["ints/i16"]  # second hard link to the same dataset
    # Expected order: h5py's (and libhdf5's) name order, walking depth first.
    order = []
    with h5py.File(p, "r") as f:
        seen = set()

        def visit(group, prefix):
            for name in group:  # name order
                link = group.get(name, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    continue
                obj = group[name]
                if h5py.h5o.get_info(obj.id).addr in seen:
                    continue
                seen.add(h5py.h5o.get_info(obj.id).addr)
                path = prefix + [name]
                if isinstance(obj, h5py.Group):
                    visit(obj, path)
                elif obj.dtype.kind in "fiub":
                    order.append("/".join(path))

        visit(f, [])
    entries = []
    for path in order:
        if path == "decoder/bf16_weight":
            e = {"name": "decoder.bf16_weight", "dtype": "bf16", "shape": [2, 2], "sha256": sha256(bits.tobytes()),
                 "values": ["1.0", "2.0", "-3.0", "nan"]}
        else:
            # Both names link one dataset; the first in name order is read, the other ignored.
            source = {"ints/hard_alias": "ints/i16"}.get(path, path)
            e = np_entry(path.replace("/", "."), data[source])
        entries.append(e)
    expected["generic.h5"] = {"wrapper": None, "tensors": entries,
                              "ignored_fragments": ["/alias_soft (soft link, not followed)", "/notes (strings, not weights)",
                                                    "/table (a compound type, not weights)", "/ints/i16 (hard link to a dataset already read)"],
                              "notes_fragments": [], "metadata": {}}

    # --- Keras whole-model file, laid out as keras/src/legacy/saving/legacy_h5_format.py does.
    layers = [
        ("input_1", "InputLayer", []),
        ("conv2d", "Conv2D", [("kernel:0", (3, 3, 3, 8)), ("bias:0", (8,))]),
        ("batch_normalization", "BatchNormalization",
         [("gamma:0", (8,)), ("beta:0", (8,)), ("moving_mean:0", (8,)), ("moving_variance:0", (8,))]),
        ("lambda", "Lambda", []),
        ("depthwise_conv2d", "DepthwiseConv2D", [("depthwise_kernel:0", (3, 3, 8, 1)), ("bias:0", (8,))]),
        ("dense", "Dense", [("kernel:0", (8, 5)), ("bias:0", (5,))]),
    ]
    model_config = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": cls, "name": name, "config": ({"name": name, "function": ["4wEAAAAAAAAA...", None, None],
                                                      "function_type": "lambda"} if cls == "Lambda" else {"name": name})}
        for name, cls, _ in layers]}}
    p = os.path.join(out, "keras_model.h5")
    keras_values = {}
    with h5py.File(p, "w") as f:
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        f.attrs["training_config"] = json.dumps({"loss": "mse"}).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [name.encode("utf8") for name, _, _ in layers]
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = b"2.15.0"
        for name, _, weights in sorted(layers, key=lambda l: l[0]):  # Keras creates groups in sorted order
            lg = g.create_group(name)
            names = [f"{name}/{w}".encode("utf8") for w, _ in weights]
            lg.attrs["weight_names"] = names  # an empty list becomes an empty float64 attribute, as in Keras
            for (w, shape), wn in zip(weights, names):
                v = rng.standard_normal(shape).astype(np.float32)
                keras_values[wn.decode()] = v
                lg.create_dataset(wn.decode(), data=v)
        og = f.create_group("optimizer_weights")
        og.attrs["weight_names"] = [b"Adam/iter:0"]
        og.create_dataset("Adam/iter:0", data=np.array(10, dtype=np.int64))
    entries = []
    for name, _, weights in layers:
        for w, _ in weights:
            entries.append(np_entry(f"{name}.{w}", keras_values[f"{name}/{w}"]))
    expected["keras_model.h5"] = {
        "wrapper": "keras model_weights", "tensors": entries,
        "ignored_fragments": ["/optimizer_weights (optimizer state, ignored)"],
        "notes_fragments": ["kernels reported as stored", "2 conv kernel(s) HWIO", "1 dense kernel(s) [in,out]",
                            "1 Keras Lambda layer(s) (lambda)", "never run"],
        "metadata": {"keras_version": "2.15.0", "backend": "tensorflow"}}

    # --- Keras weights-only file at the root, with split layer_names/weight_names attributes and
    #     a nested model whose weight names do not start with the layer name.
    p = os.path.join(out, "keras_weights_split.h5")
    split_values = []
    with h5py.File(p, "w") as f:
        f.attrs["layer_names0"] = [b"zeta_dense", b"sequential"]
        f.attrs["layer_names1"] = [b"alpha_conv"]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.4.0"
        zg = f.create_group("zeta_dense")
        zg.attrs["weight_names0"] = [b"zeta_dense/kernel:0"]
        zg.attrs["weight_names1"] = [b"zeta_dense/bias:0"]
        sg = f.create_group("sequential")
        sg.attrs["weight_names"] = [b"dense_1/kernel:0", b"dense_1/bias:0"]
        ag = f.create_group("alpha_conv")
        ag.attrs["weight_names"] = [b"alpha_conv/kernel:0"]
        for grp, wn, shape, key in [(zg, "zeta_dense/kernel:0", (6, 2), "zeta_dense.kernel:0"),
                                    (zg, "zeta_dense/bias:0", (2,), "zeta_dense.bias:0"),
                                    (sg, "dense_1/kernel:0", (2, 3), "sequential.dense_1.kernel:0"),
                                    (sg, "dense_1/bias:0", (3,), "sequential.dense_1.bias:0"),
                                    (ag, "alpha_conv/kernel:0", (1, 1, 2, 2), "alpha_conv.kernel:0")]:
            v = rng.standard_normal(shape).astype(np.float32)
            grp.create_dataset(wn, data=v)
            split_values.append(np_entry(key, v))
    expected["keras_weights_split.h5"] = {
        "wrapper": "keras weights (root)", "tensors": split_values, "ignored_fragments": [],
        "notes_fragments": ["1 conv kernel(s) HWIO", "2 dense kernel(s)"],
        "metadata": {"keras_version": "2.4.0", "backend": "tensorflow"}}

    # --- A hard-link cycle (group linked into itself) and an external link: read, never looped or followed.
    p = os.path.join(out, "links.h5")
    w = rng.standard_normal((2, 2)).astype(np.float32)
    with h5py.File(p, "w") as f:
        a = f.create_group("a")
        a.create_dataset("w", data=w)
        a["loop"] = a  # hard link to its own group
        f["outside"] = h5py.ExternalLink("/etc/irzoo-never-read.h5", "/secret")
    expected["links.h5"] = {"wrapper": None, "tensors": [np_entry("a.w", w)],
                            "ignored_fragments": ["/a/loop (hard link to a group already read)",
                                                  "/outside (external link to another file, not followed)"],
                            "notes_fragments": [], "metadata": {}}
    write_json(os.path.join(out, "expected.json"), expected)
    gen_hdf5_malformed(os.path.join(out, "malformed"), os.path.join(out, "links.h5"))


def gen_hdf5_malformed(out, small_valid_path):
    cases = {}
    with h5py.File(os.path.join(out, "no_weights.h5"), "w") as f:
        f.attrs["description"] = "groups, attributes and strings only"
        f.create_group("a/b")
        f.create_dataset("a/readme", data=np.array([b"no weights here"]))
    cases["no_weights.h5"] = "holds no weights"
    with h5py.File(os.path.join(out, "empty_file.h5"), "w"):
        pass
    cases["empty_file.h5"] = "holds no weights"
    blob = open(small_valid_path, "rb").read()
    with open(os.path.join(out, "truncated.h5"), "wb") as f:
        f.write(blob[: len(blob) // 2])
    cases["truncated.h5"] = "cannot open as HDF5: truncated file"
    bad = bytearray(blob)
    bad[1] ^= 0xFF
    with open(os.path.join(out, "wrong_magic.h5"), "wb") as f:
        f.write(bad)
    cases["wrong_magic.h5"] = "cannot open as HDF5: file signature not found"

    def keras(name, weight_name, dataset=None, soft=False):
        with h5py.File(os.path.join(out, name), "w") as f:
            g = f.create_group("model_weights")
            g.attrs["layer_names"] = [b"dense"]
            lg = g.create_group("dense")
            lg.attrs["weight_names"] = [weight_name.encode()]
            if dataset is not None:
                lg.create_dataset(weight_name, data=dataset)
            if soft:
                lg.create_dataset("real/kernel:0", data=np.ones((2, 2), np.float32))
                lg[weight_name] = h5py.SoftLink("/model_weights/dense/real/kernel:0")

    keras("keras_missing_dataset.h5", "dense/kernel:0")
    cases["keras_missing_dataset.h5"] = "listed in weight_names, but /model_weights/dense/dense does not exist"
    keras("keras_u16_weight.h5", "dense/kernel:0", np.ones((2, 2), np.uint16))
    cases["keras_u16_weight.h5"] = "unsigned 16-bit integers"
    keras("keras_string_weight.h5", "dense/kernel:0", np.array([b"abc"]))
    cases["keras_string_weight.h5"] = "holds strings, not numbers"
    keras("keras_soft_link_weight.h5", "dense/kernel:0", soft=True)
    cases["keras_soft_link_weight.h5"] = "soft link"
    with h5py.File(os.path.join(out, "keras_no_weights.h5"), "w") as f:
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"input_1", b"flatten"]
        for n in ("input_1", "flatten"):
            g.create_group(n).attrs["weight_names"] = []
    cases["keras_no_weights.h5"] = "none with weights"
    with h5py.File(os.path.join(out, "keras_missing_layer.h5"), "w") as f:
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"ghost"]
    cases["keras_missing_layer.h5"] = "listed in layer_names, but it does not exist"
    with h5py.File(os.path.join(out, "generic_u32.h5"), "w") as f:
        f.create_dataset("w", data=np.ones((3,), np.uint32))
    cases["generic_u32.h5"] = "unsigned 32-bit integers"
    raw = np.arange(4, dtype=np.float32)
    with h5py.File(os.path.join(out, "external_storage.h5"), "w") as f:
        # The raw file is named, never created: irzoo must refuse before trying to open it.
        f.create_dataset("w", shape=(4,), dtype=np.float32, external=[("irzoo-never-read.bin", 0, raw.nbytes)])
    cases["external_storage.h5"] = "external files; refused"
    with h5py.File(os.path.join(out, "expansion_bomb.h5"), "w") as f:
        # Declares 16 GiB but stores nothing (chunks never written).
        f.create_dataset("w", shape=(1 << 16, 1 << 16), dtype=np.float32, chunks=(256, 256))
    cases["expansion_bomb.h5"] = "refusing to expand"
    write_json(os.path.join(out, "expected.json"), cases)


# ---------------------------------------------------------------------------------------------
# .npy / .npz
# ---------------------------------------------------------------------------------------------

def gen_npy():
    out = os.path.join(FIX, "npy")
    fresh_dir(out)
    fresh_dir(os.path.join(out, "malformed"))
    rng = np.random.default_rng(99)
    arrays = {
        "input_f32": rng.standard_normal((1, 3, 4, 5)).astype(np.float32),
        "f16": rng.standard_normal((2, 3)).astype(np.float16),
        "f64": rng.standard_normal((3,)).astype(np.float64),
        "i64": np.array([1, -2, 2 ** 40], dtype=np.int64),
        "i32": np.array([[1, -2], [3, 2 ** 31 - 1]], dtype=np.int32),
        "i16": np.array([-5, 5], dtype=np.int16),
        "i8": np.array([-128, 127], dtype=np.int8),
        "u8": np.array([0, 255, 7], dtype=np.uint8),
        "bool": np.array([[True, False], [False, True]]),
        "scalar": np.array(1.25, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "big_endian": np.array([[1.5, -2.0, 3.25], [4.0, 5.5, -6.0]], dtype=">f4"),
        "big_endian_i64": np.array([1, -1, 2 ** 50], dtype=">i8"),
    }
    expected = {"files": {}, "npz": {}}
    for name, a in arrays.items():
        np.save(os.path.join(out, name + ".npy"), a)
        expected["files"][name + ".npy"] = {**np_entry(name, a), "np_save_identical": a.dtype.byteorder != ">"}
    # Fortran order: np.save keeps it (fortran_order True); irzoo transposes to C order.
    fa = np.asfortranarray(rng.standard_normal((2, 3, 4)).astype(np.float32))
    np.save(os.path.join(out, "fortran.npy"), fa)
    expected["files"]["fortran.npy"] = {**np_entry("fortran", fa), "np_save_identical": False}
    # Versions 2.0 and 3.0 headers.
    for version in ((2, 0), (3, 0)):
        a = rng.standard_normal((2, 2)).astype(np.float32)
        name = f"v{version[0]}"
        with open(os.path.join(out, name + ".npy"), "wb") as f:
            np.lib.format.write_array(f, a, version=version)
        expected["files"][name + ".npy"] = {**np_entry(name, a), "np_save_identical": False}

    # .npz: np.savez (stored members) and np.savez_compressed (deflated members).
    aux = {"alpha": rng.standard_normal((4,)).astype(np.float32),
           "mask": np.array([True, False, True]),
           "blocks.0.scale": np.array(0.5, dtype=np.float32),
           "steps": np.array([3, 1, 4], dtype=np.int64)}
    np.savez(os.path.join(out, "aux.npz"), **aux)
    np.savez_compressed(os.path.join(out, "aux_compressed.npz"), **aux)
    for n in ("aux.npz", "aux_compressed.npz"):
        with zipfile.ZipFile(os.path.join(out, n)) as z:
            names = [i.filename for i in z.infolist()]
        expected["npz"][n] = [np_entry(m[:-4], aux[m[:-4]]) for m in names]

    bad = {}

    def raw(name, header, data=b"", version=(1, 0)):
        hb = header.encode("latin1") if isinstance(header, str) else header
        ln = struct.pack("<H", len(hb)) if version == (1, 0) else struct.pack("<I", len(hb))
        with open(os.path.join(out, "malformed", name), "wb") as f:
            f.write(b"\x93NUMPY" + bytes(version) + ln + hb + data)

    def pad(d):
        h = d
        total = 10 + len(h) + 1
        return h + " " * ((64 - total % 64) % 64) + "\n"

    np.save(os.path.join(out, "malformed", "object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    bad["object.npy"] = "object arrays (pickled Python objects) are refused"
    np.save(os.path.join(out, "malformed", "unicode.npy"), np.array(["abc", "de"]))
    bad["unicode.npy"] = "unsupported dtype '<U3'"
    np.save(os.path.join(out, "malformed", "structured.npy"), np.zeros(2, dtype=[("a", "<i4"), ("b", "<f4")]))
    bad["structured.npy"] = "structured dtypes are not supported"
    np.save(os.path.join(out, "malformed", "u16.npy"), np.zeros(2, dtype=np.uint16))
    bad["u16.npy"] = "unsupported dtype '<u2'"
    good = open(os.path.join(out, "input_f32.npy"), "rb").read()
    with open(os.path.join(out, "malformed", "truncated.npy"), "wb") as f:
        f.write(good[:-7])
    bad["truncated.npy"] = "truncated file?"
    with open(os.path.join(out, "malformed", "extra_bytes.npy"), "wb") as f:
        f.write(good + b"\x00\x00\x00\x00")
    bad["extra_bytes.npy"] = "unexpected bytes after the data"
    with open(os.path.join(out, "malformed", "bad_magic.npy"), "wb") as f:
        f.write(b"\x93NUMPX" + good[6:])
    bad["bad_magic.npy"] = "bad magic"
    raw("bad_version.npy", pad("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"), b"\0" * 4, version=(9, 0))
    bad["bad_version.npy"] = "unsupported .npy format version 9.0"
    raw("extra_key.npy", pad("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': True, }"), b"\0" * 4)
    bad["extra_key.npy"] = "exactly the keys descr, fortran_order, shape"
    raw("int_not_tuple.npy", pad("{'descr': '<f4', 'fortran_order': False, 'shape': (1), }"), b"\0" * 4)
    bad["int_not_tuple.npy"] = "is an int, not a tuple"
    raw("negative_dim.npy", pad("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"))
    bad["negative_dim.npy"] = "non-negative integers"
    raw("shape_overflow.npy", pad("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }"))
    bad["shape_overflow.npy"] = "overflows"
    raw("code_in_header.npy", pad("{'descr': __import__('os').system('touch /tmp/irzoo-canary-npy'), 'fortran_order': False, 'shape': (1,), }"))
    bad["code_in_header.npy"] = "bad header"
    raw("header_too_long.npy", pad("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }" + " " * 20000)[:65000], b"", version=(2, 0))
    bad["header_too_long.npy"] = "exceeds numpy's limit"
    raw("no_newline.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }" + " " * 5, b"\0" * 4)
    bad["no_newline.npy"] = "expected spaces and a newline"
    raw("bad_bool.npy", pad("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }"), b"\x01\x07")
    bad["bad_bool.npy"] = "bool array holds bytes other than 0 and 1"
    expected["malformed"] = bad

    # Broken .npz archives.
    bad_npz = {}
    with zipfile.ZipFile(os.path.join(out, "malformed", "not_npy_member.npz"), "w") as z:
        z.writestr("alpha.npy", open(os.path.join(out, "f64.npy"), "rb").read())
        z.writestr("readme.txt", "hello")
    bad_npz["not_npy_member.npz"] = "not a .npy member"
    with zipfile.ZipFile(os.path.join(out, "malformed", "object_member.npz"), "w") as z:
        z.writestr("obj.npy", open(os.path.join(out, "malformed", "object.npy"), "rb").read())
    bad_npz["object_member.npz"] = "object arrays (pickled Python objects) are refused"
    blob = bytearray(open(os.path.join(out, "aux.npz"), "rb").read())
    blob[200] ^= 0x01  # inside the first stored member's data
    with open(os.path.join(out, "malformed", "crc_mismatch.npz"), "wb") as f:
        f.write(blob)
    bad_npz["crc_mismatch.npz"] = "CRC-32 mismatch"
    with open(os.path.join(out, "malformed", "truncated.npz"), "wb") as f:
        f.write(open(os.path.join(out, "aux.npz"), "rb").read()[:300])
    bad_npz["truncated.npz"] = "truncated"
    expected["malformed_npz"] = bad_npz
    write_json(os.path.join(out, "expected.json"), expected)


# ---------------------------------------------------------------------------------------------
# Checking files the Swift writer produced
# ---------------------------------------------------------------------------------------------

def verify_swift(directory):
    """Each <mode>.safetensors in `directory` is torch_all_dtypes converted by Swift with --dtype <mode>."""
    src = os.path.join(FIX, "safetensors", "torch_all_dtypes.safetensors")
    ref = {}
    with safe_open(src, framework="pt") as f:
        for k in f.keys():
            ref[k] = f.get_tensor(k)
    targets = {"keep": None, "f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
    checked = 0
    for mode, target in targets.items():
        path = os.path.join(directory, f"{mode}.safetensors")
        if not os.path.exists(path):
            continue
        with safe_open(path, framework="pt") as f:
            assert f.metadata() == {"format": "pt"} or f.metadata() is not None
            assert sorted(f.keys()) == sorted(ref.keys()), (mode, sorted(f.keys()))
            for k, t in ref.items():
                want = t.to(target) if (target is not None and t.is_floating_point()) else t
                got = f.get_tensor(k)
                assert got.dtype == want.dtype and got.shape == want.shape, (mode, k, got.dtype, want.dtype)
                assert same_values(got, want), (mode, k)
        checked += 1
        print(f"ok: {path} loads in Python safetensors with values identical to torch's .to({mode})")
    if checked == 0:
        sys.exit(f"no <mode>.safetensors files in {directory}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--verify-swift":
        verify_swift(sys.argv[2])
        return
    gen_safetensors()
    gen_hdf5()
    gen_npy()
    total = 0
    for d in ("safetensors", "hdf5", "npy"):
        for root, _, files in os.walk(os.path.join(FIX, d)):
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    for d in ("safetensors", "hdf5", "npy"):
        for root, _, files in os.walk(os.path.join(FIX, d)):
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)  # the Rust writer creates 0600 files
    print(f"wrote Tests/Fixtures/{{safetensors,hdf5,npy}} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
