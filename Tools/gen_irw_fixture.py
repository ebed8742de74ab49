#!/usr/bin/env python3
"""Writes the .irw v1 fixtures in Tests/Fixtures/irw/ with an implementation of docs/FORMAT.md
that shares no code with the Swift writer (numpy + hashlib only), so the Swift reader is tested
against the spec, not against itself.

The v1 fixtures are frozen: tests read them forever, to prove that every later irzoo still reads
files written today. Rerunning this script must reproduce them byte for byte (fixed values and
timestamps); it refuses to overwrite a fixture whose bytes would change.

    v1-all-dtypes.irw            every dtype, a 0-dim and an empty tensor, odd lengths (padding),
                                 a non-ASCII name, a renamed tensor (source_name), a config object
    v1-all-dtypes.expected.json  the values as little-endian hex, for the Swift test to compare
    v1.1-all-dtypes.irw          the same tensors as format 1.1 writes them (canonical header, name
                                 order, no provenance): what the Swift writer must reproduce
    v1-future-minor.irw          minor version 7 with flags, reserved bytes and unknown fields set:
                                 a 1.0 reader must open it and ignore what it does not know
"""
import hashlib
import json
import os
import struct
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "irw")
MAGIC = b"IRZW\r\n\x1a\n"
PREAMBLE = 128
ALIGN = 64


def bf16_bits(values):
    """Round-to-nearest-even f32 -> bf16, as torch does."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def tensors():
    """(name, dtype, shape, little-endian bytes, source_name or None)."""
    out = []
    def add(name, dtype, arr, source=None):
        arr = np.array(arr, order="C")  # (ascontiguousarray would turn a 0-dim array into 1-dim)
        out.append((name, dtype, list(arr.shape), arr.astype(arr.dtype.newbyteorder("<")).tobytes(), source))
    add("encoder.conv.weight", "f32", (np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3) - 20) / 8)
    add("encoder.conv.bias", "f32", np.array([1.5, -2.25], dtype=np.float32), "module.encoder.conv.bias")
    add("half", "f16", np.array([[0.5, -1.0, 65504.0], [6.1e-05, 0.0, -0.0]], dtype=np.float16))
    add("brain", "bf16", bf16_bits([1.0, -3.140625, 1e-3, 3.0e38, 0.0]).reshape(5))
    add("double", "f64", np.array([np.pi, -np.e, 1e-300], dtype=np.float64))
    add("step", "i64", np.array(123456789012, dtype=np.int64))  # 0-dim
    add("ints32", "i32", np.array([-2147483648, 0, 2147483647], dtype=np.int32))
    add("ints16", "i16", np.array([-32768, 7, 32767], dtype=np.int16))
    add("ints8", "i8", np.array([-128, -1, 0, 1, 127], dtype=np.int8))
    add("bytes", "u8", np.arange(7, dtype=np.uint8) * 37)
    add("mask", "bool", np.array([True, False, True], dtype=np.bool_))
    add("empty", "f32", np.zeros((0, 4), dtype=np.float32))
    add("größe.ß", "f32", np.array([0.1], dtype=np.float32))
    return out


def build(minor=0, flags=0, reserved=b"", extra=False):
    table, data = [], bytearray()
    for name, dtype, shape, raw, source in tensors():
        pad = (-len(data)) % ALIGN
        data += b"\0" * pad
        entry = {"name": name, "dtype": dtype, "shape": shape, "offset": len(data), "length": len(raw),
                 "sha256": hashlib.sha256(raw).hexdigest()}
        if source:
            entry["source_name"] = source
        if extra:
            entry["quantization"] = {"scheme": "none"}
        table.append(entry)
        data += raw
    metadata = {
        "architecture": "raw", "variant": None,
        "config": {"width": 4, "blocks": [1, 2], "name": "fixture", "scale": 0.5},
        "source": {"file_name": "fixture.pth", "sha256": hashlib.sha256(b"fixture source").hexdigest(),
                   "container": "torch-zip", "size": 14, "wrapper": "params"},
        "key_mapping": ["strip prefix 'module.'"],
        "converter": "gen_irw_fixture.py", "created": "2026-11-24T00:00:00Z", "notes": [],
    }
    header = {"endianness": "little", "alignment": ALIGN, "metadata": metadata, "tensors": table}
    if extra:
        header["future_field"] = [1, 2, 3]
        metadata["signature"] = {"by": "someone", "value": "abc"}
    hb = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    pre = bytearray(PREAMBLE)
    pre[0:8] = MAGIC
    struct.pack_into("<HHIQQQQQ", pre, 8, 1, minor, flags, PREAMBLE, len(data), PREAMBLE + len(data), len(hb), len(table))
    pre[88:88 + len(reserved)] = reserved
    digest = hashlib.sha256(bytes(pre[:56]) + b"\0" * 32 + bytes(pre[88:]) + hb).digest()
    pre[56:88] = digest
    return bytes(pre) + bytes(data) + hb


def build_1_1():
    """Format 1.1: content only (no provenance, no source_name), tensors in UTF-8 name order, the
    header in RFC 8785 canonical form (for these keys and values, json.dumps with sorted keys and
    no whitespace is exactly that: every key is in the BMP, the one fraction is 0.5)."""
    table, data = [], bytearray()
    for name, dtype, shape, raw, _ in sorted(tensors(), key=lambda t: t[0].encode("utf-8")):
        data += b"\0" * ((-len(data)) % ALIGN)
        table.append({"name": name, "dtype": dtype, "shape": shape, "offset": len(data), "length": len(raw),
                      "sha256": hashlib.sha256(raw).hexdigest()})
        data += raw
    metadata = {"architecture": "raw", "variant": None,
                "config": {"width": 4, "blocks": [1, 2], "name": "fixture", "scale": 0.5}}
    header = {"endianness": "little", "alignment": ALIGN, "metadata": metadata, "tensors": table}
    hb = json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    pre = bytearray(PREAMBLE)
    pre[0:8] = MAGIC
    struct.pack_into("<HHIQQQQQ", pre, 8, 1, 1, 0, PREAMBLE, len(data), PREAMBLE + len(data), len(hb), len(table))
    pre[56:88] = hashlib.sha256(bytes(pre[:56]) + b"\0" * 32 + bytes(pre[88:]) + hb).digest()
    return bytes(pre) + bytes(data) + hb


def expected():
    return {"tensors": [{"name": n, "dtype": d, "shape": s, "hex": raw.hex(), "source_name": src}
                        for n, d, s, raw, src in tensors()]}


def save(name, content):
    path = os.path.join(OUT, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() != content:
                sys.exit(f"{path} would change: v1 fixtures are frozen (see the docstring)")
        return
    with open(path, "wb") as f:
        f.write(content)
    print("wrote", path)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    save("v1-all-dtypes.irw", build())
    save("v1-all-dtypes.expected.json", (json.dumps(expected(), indent=1, ensure_ascii=False) + "\n").encode())
    save("v1-future-minor.irw", build(minor=7, flags=0x5, reserved=b"future!", extra=True))
    save("v1.1-all-dtypes.irw", build_1_1())
