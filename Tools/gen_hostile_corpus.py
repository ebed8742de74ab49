#!/usr/bin/env python3
"""Writes the hostile corpus under Tests/Fixtures/hostile/: checkpoints modelled on the public
attack repertoire against pickle loaders and scanners (picklescan, fickling, modelscan test
corpora and advisories; torch weights-only CVE-2025-32434 / CVE-2026-24747), and
expected.json: for each file, the message fragment irzoo's refusal must contain, whether the
file is still refused with --permissive, and the canary path its payload would create.

Payloads with a side effect only ever touch /tmp/irzoo-canary-<name>. With --verify (the
default), each such payload is first run by Python's own unpickler (or torch.load with
weights_only=False) in a subprocess to prove it really creates its canary; the canary is
then removed. The Swift test reads every file and checks no canary appears.
"""
import io
import json
import os
import pathlib
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fixture_lib import (ZipMember, ZipWriter, as_bytes, bint, glob, ints, pickled_dict,  # noqa: E402
                               rebuild_tensor, short_uni, tup, uni)

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "hostile"


def canary(name):
    return f"/tmp/irzoo-canary-{name}"


# ---------------------------------------------------------------------------- pickle assembly

b = as_bytes
state_dict = pickled_dict


def storage_pid(key, stype="FloatStorage", numel=4, tag="storage"):
    return tup([uni(tag), glob("torch", stype), uni(key), uni("cpu"), bint(numel)]) + b"Q"


def tensor(key="0", stype="FloatStorage", numel=4, offset=0, size=(4,), stride=(1,), pid=None):
    return rebuild_tensor(pid or storage_pid(key, stype, numel), offset, size, stride)


def torch_zip(data_pkl, storages=None, root="archive", method=0, extra_members=()):
    w = ZipWriter()
    w.add(ZipMember(f"{root}/data.pkl", data_pkl, method=method))
    w.add(ZipMember(f"{root}/byteorder", b"little"))
    for k, v in (storages or {"0": struct.pack("<4f", 1, 2, 3, 4)}).items():
        w.add(ZipMember(f"{root}/data/{k}", v))
    for m in extra_members:
        w.add(m)
    w.add(ZipMember(f"{root}/version", b"3\n"))
    return w


def system_call(name):
    """GLOBAL os system + REDUCE('touch canary')."""
    return glob("os", "system") + tup([uni(f"touch {canary(name)}")]) + b"R"


# ---------------------------------------------------------------------------- the corpus

CASES = []


def case(name, fragment, data, permissive="refused", has_canary=False, verify=None, permissive_fragment=None):
    """permissive: 'refused' (refused in both modes) or 'loads' (an inert placeholder then).
    verify: how to prove the payload is live: 'pickle' (pickle.loads of `data`), 'torch' (torch.load)."""
    CASES.append(dict(file=name, fragment=fragment, data=data, permissive=permissive,
                      permissive_fragment=permissive_fragment,
                      canary=canary(name.rsplit(".", 1)[0]) if has_canary else None, verify=verify))


def build():
    good = tensor()

    # 1. Code execution through globals: refused by name, wherever they appear.
    for f, payload, frag, proto_verify in [
        ("os_system.pt", system_call("os_system"), "refused global os.system", "torch"),
        ("posix_system.pt", glob("posix", "system") + tup([uni(f"touch {canary('posix_system')}")]) + b"R",
         "refused global posix.system", "torch"),
        ("builtins_eval.pt", glob("builtins", "eval") + tup([uni(f"__import__('os').system('touch {canary('builtins_eval')}')")]) + b"R",
         "refused global builtins.eval", "torch"),
        ("builtins_exec.pt", glob("builtins", "exec") + tup([uni(f"import os; os.system('touch {canary('builtins_exec')}')")]) + b"R",
         "refused global builtins.exec", "torch"),
        ("py2_builtin_eval.pt", glob("__builtin__", "eval") + tup([uni(f"__import__('os').system('touch {canary('py2_builtin_eval')}')")]) + b"R",
         "refused global __builtin__.eval", "torch"),
        ("getattr_chain.pt", glob("builtins", "getattr") + b"(" + glob("builtins", "__import__") + tup([uni("os")]) + b"R"
         + uni("system") + b"tR" + tup([uni(f"touch {canary('getattr_chain')}")]) + b"R", "refused global builtins.getattr", "torch"),
        ("import_module.pt", glob("importlib", "import_module") + tup([uni("os")]) + b"R", "refused global importlib.import_module", None),
        ("subprocess_popen.pt", None, "refused global subprocess.Popen", "torch"),
        ("pickle_loads.pt", glob("_pickle", "loads") + b"(" + b"C" + bytes([len(system_call("pickle_loads") + b".")])
         + system_call("pickle_loads") + b"." + b"tR", "refused global _pickle.loads", "torch"),
        ("operator_methodcaller.pt", glob("operator", "methodcaller") + tup([uni("system"), uni("x")]) + b"R",
         "refused global operator.methodcaller", None),
        ("numpy_runstring.pt", glob("numpy.testing._private.utils", "runstring") + tup([uni("import os"), b"}"]) + b"R",
         "refused global numpy.testing._private.utils.runstring", None),
        ("pip_main.pt", glob("pip", "main") + tup([b"(" + uni("install") + uni("evil") + b"l"]) + b"R", "refused global pip.main", None),
        ("torch_load_nested.pt", glob("torch", "load") + tup([uni("/dev/null")]) + b"R", "refused global torch.load", None),
    ]:
        if payload is None:  # protocol 4 STACK_GLOBAL
            payload = (short_uni("subprocess") + b"\x94" + short_uni("Popen") + b"\x94\x93"
                       + b"(" + b"(" + short_uni("touch") + short_uni(canary("subprocess_popen")) + b"l" + b"tR")
            data = b"\x80\x04}(" + short_uni("w") + payload + b"u."
        else:
            data = state_dict([("w", payload)])
        case(f, frag, torch_zip(data).build(), permissive="loads", has_canary=proto_verify is not None, verify=proto_verify)

    # 2. Memo tricks: STACK_GLOBAL fed from memo slots that MEMOIZE and BINPUT both wrote.
    memo = (b"\x80\x04" + short_uni("collections") + b"\x94" + short_uni("OrderedDict") + b"\x94"
            + short_uni("os") + b"q\x00" + short_uni("system") + b"q\x01" + b"0000" + b"h\x00h\x01\x93"
            + b"(" + short_uni(f"touch {canary('stack_global_memo')}") + b"tR" + b"0" + b"}.")
    case("stack_global_memo.pt", "refused global os.system", torch_zip(memo).build(), permissive="loads",
         has_canary=True, verify="torch")

    # 3. Nested loaders: a torch pickle inside bytes, loaded by torch.storage._load_from_bytes.
    inner = b"cos\nsystem\n(S'touch " + b(canary("load_from_bytes")) + b"'\ntR."
    nested = state_dict([("w", glob("torch.storage", "_load_from_bytes") + tup([b"C" + bytes([len(inner)]) + inner]) + b"R")])
    case("load_from_bytes.pt", "refused global torch.storage._load_from_bytes", torch_zip(nested).build(),
         permissive="loads", has_canary=True, verify="torch")

    # 4. Protocol 0 text and INST, inside a torch archive.
    text = b"(dS'w'\n" + glob("os", "system") + b"(S'touch " + b(canary("proto0_text")) + b"'\ntRs."
    case("proto0_text.pt", "refused global os.system", torch_zip(text).build(), permissive="loads",
         has_canary=True, verify="torch")
    inst = b"(dS'w'\n(S'touch " + b(canary("inst_opcode")) + b"'\nios\nsystem\ns."
    case("inst_opcode.pt", "refused global os.system", torch_zip(inst).build(), permissive="loads",
         has_canary=True, verify="torch")

    # 5. Allowed names, wrong arguments or targets (refused in both modes).
    case("rebuild_wrong_args.pt", "bad arguments to torch._utils._rebuild_tensor_v2",
         torch_zip(state_dict([("w", glob("torch._utils", "_rebuild_tensor_v2") + tup([bint(1), bint(2)]) + b"R")])).build())
    case("ordereddict_wrong_args.pt", "bad arguments to collections.OrderedDict",
         torch_zip(state_dict([("w", glob("collections", "OrderedDict") + tup([uni("abc")]) + b"R")])).build())
    case("storage_class_called.pt", "REDUCE on torch.FloatStorage: it may be named but not called",
         torch_zip(state_dict([("w", glob("torch", "FloatStorage") + tup([bint(10)]) + b"R")])).build())
    case("setitem_on_list.pt", "SETITEMS on list: only dicts take SETITEM",
         torch_zip(b"\x80\x02](" + uni("w") + good + b"u.").build())
    case("append_on_dict.pt", "APPEND on dict: only lists take APPEND",
         torch_zip(b"\x80\x02}" + good + b"a.").build())
    case("build_on_global.pt", "BUILD on global torch.FloatStorage is not allowed",
         torch_zip(state_dict([("w", glob("torch", "FloatStorage") + b"}b")])).build())
    case("reduce_on_tensor.pt", "REDUCE on tensor: only allow-listed functions can be called",
         torch_zip(state_dict([("w", good + b")R")])).build())
    case("placeholder_as_storage.pt", "refused global os.system",
         torch_zip(state_dict([("w", glob("torch._utils", "_rebuild_tensor_v2") + b"(" + glob("os", "system") + bint(0)
                                + ints([1]) + ints([1]) + b"\x89}tR")])).build(),
         permissive_fragment="bad arguments to torch._utils._rebuild_tensor_v2")

    # 6. Sizes that lie about the bytes present (CVE-2026-24747 and friends).
    case("storage_size_lie.pt", "storage-size mismatch", torch_zip(state_dict([("w", tensor(numel=1_000_000, size=(1000, 1000), stride=(1000, 1)))])).build())
    case("offset_past_end.pt", "reaches element 11 but storage '0' holds 4 elements",
         torch_zip(state_dict([("w", tensor(offset=10, size=(2,), stride=(1,)))])).build())
    case("stride_past_end.pt", "reaches element 101 but storage '0' holds 4 elements",
         torch_zip(state_dict([("w", tensor(size=(2, 2), stride=(100, 1)))])).build())
    case("shape_overflow.pt", "overflows",
         torch_zip(state_dict([("w", tensor(size=(2**62, 2**62), stride=(1, 1)))])).build())
    case("negative_stride.pt", "negative stride",
         torch_zip(state_dict([("w", tensor(size=(2,), stride=(-1,)))])).build())
    case("storage_key_path.pt", "is not a plain record name",
         torch_zip(state_dict([("w", tensor(key="../../../etc/passwd"))])).build())
    case("storage_type_confusion.pt", "storage '0' is referenced as both",
         torch_zip(state_dict([("a", tensor()), ("b", tensor(stype="IntStorage"))])).build())
    case("missing_storage.pt", "storage '7' has no record in the archive", torch_zip(state_dict([("w", tensor(key="7"))])).build())
    case("huge_binunicode.pt", "pickle truncated: needs 4294967280 bytes",
         torch_zip(b"\x80\x02}X" + struct.pack("<I", 0xFFFFFFF0) + b"w").build())
    case("huge_long4.pt", "LONG4 of 2147483647 bytes exceeds", torch_zip(b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1)).build())
    case("huge_binbytes8.pt", "declares 18446744073709551615 bytes", torch_zip(b"\x80\x04\x8e" + b"\xff" * 8 + b".").build())

    # 7. Expansion and nesting.
    laughs = b"\x80\x02]q\x000" + b"(h\x00h\x00lq\x000" * 64
    case("billion_laughs.pt", "structure expands past", torch_zip(b"\x80\x02}(" + uni("w") + laughs[2:] + b"h\x00u.").build())
    case("deep_nesting.pt", "nesting deeper than 256 levels", torch_zip(b"\x80\x02N" + b"\x85" * 100_000 + b".").build())
    case("memo_out_of_range.pt", "memo index 200 was never stored", torch_zip(b"\x80\x02}h\xc8.").build())

    # 8. Persistent ids and opcodes a weights file never needs.
    case("persid_module_tag.pt", "persistent id with tag 'module'",
         torch_zip(state_dict([("w", tensor(pid=storage_pid("0", tag="module")))])).build())
    case("persid_text.pt", "persistent id is a str", torch_zip(b"P0\n.").build())
    case("ext_opcode.pt", "extension registry opcodes", torch_zip(b"\x80\x02\x82\x01.").build())
    case("next_buffer.pt", "out-of-band buffers", torch_zip(b"\x80\x05\x97.").build())
    case("frame_straddle.pt", "crosses the end of its frame",
         torch_zip(b"\x80\x04\x95" + struct.pack("<Q", 3) + b"\x8c\x03abc.").build())

    # 9. Zip structure tricks.
    def zip_with(member_name, payload=b"x", **kw):
        w = torch_zip(state_dict([("w", good)]))
        m = w.add(ZipMember(member_name, payload))
        for k, v in kw.items():
            setattr(m, k, v)
        return w.build()
    case("zip_dotdot.pt", "refusing unsafe entry name ('..' path component)",
         zip_with("archive/../../../../../.." + canary("zip_dotdot"), b"pwned"), has_canary=True)
    case("zip_absolute.pt", "refusing unsafe entry name (absolute path)", zip_with(canary("zip_absolute"), b"pwned"), has_canary=True)
    case("zip_backslash.pt", "refusing unsafe entry name ('..' path component)", zip_with("archive\\..\\..\\evil.bat"))
    w = torch_zip(state_dict([("w", good)]))
    w.members[2].central_crc = (w.members[2].crc ^ 0x1) & 0xFFFFFFFF
    case("zip_crc.pt", "CRC-32 mismatch", w.build())
    w = torch_zip(state_dict([("w", good)]))
    w.members[0].central_name = b"archive/other.pkl"
    case("zip_name_mismatch.pt", "local header names 'archive/data.pkl', the central directory 'archive/other.pkl'", w.build())
    w = torch_zip(state_dict([("w", good)]))
    w.members[0].central_flags = 0x0809
    case("zip_encrypted_flag.pt", "encrypted entries are not supported", w.build())
    w = torch_zip(state_dict([("w", good)]))
    w.members[0].local_flags = 0x0800
    w.members[0].local_crc = 0x12345678
    case("zip_local_crc_mismatch.pt", "local header CRC-32 differs", w.build())
    w = torch_zip(state_dict([("w", good)]))
    w.members[0].method = 12
    case("zip_method_bzip2.pt", "compression method 12 is not supported", w.build())
    # A bomb that declares a modest size and inflates far past it.
    bomb = ZipMember("archive/data.pkl", b"\x00" * (16 << 20), method=8)
    bomb.central_usize = 1000
    w = ZipWriter()
    w.add(bomb)
    case("zip_bomb_lying.pt", "inflates past its declared 1000 bytes (zip bomb?)", w.build())
    # A bomb that declares 8 GiB outright.
    w = ZipWriter(zip64=True)
    m = w.add(ZipMember("archive/data.pkl", b"\x00" * 1024, method=8))
    m.central_usize = 8 << 30
    case("zip_bomb_declared.pt", "declares 8589934592 bytes, over the 2147483648-byte limit (zip bomb?)", w.build())
    case("zip_overlap.pt", "overlaps", overlapping_zip())
    full = torch_zip(state_dict([("w", good)])).build()
    case("zip_truncated.pt", "no end-of-central-directory record (truncated or not a zip archive)", full[: len(full) // 2])
    flipped = bytearray(full)
    flipped[flipped.index(b"_rebuild_tensor_v2")] ^= 0x20
    case("zip_flipped_pickle.pt", "archive/data.pkl: CRC-32 mismatch", bytes(flipped))
    old = torch_zip(b"\x80\x02}.", extra_members=[ZipMember("archive/model.json", b"{}")]).build()
    case("old_torchscript.pt", "pre-1.4 format", old)
    ts = torch_zip(b"\x80\x02" + glob("__torch__", "Net") + b")\x81}(" + uni("w") + system_call("torchscript_os_system") + b"ub.",
                   extra_members=[ZipMember("archive/constants.pkl", b"\x80\x02).")])
    case("torchscript_os_system.pt", "refused global os.system", ts.build(), permissive="loads", has_canary=True)

    # 10. Legacy files: wrong magic, lying counts, truncation, flipped opcodes.
    def legacy(obj, keys, raw, magic=0x1950A86A20F9469CFC6C):
        return (b"\x80\x02" + bint(magic) + b"." + b"\x80\x02M\xe9\x03." + b"\x80\x02}." + obj
                + b"\x80\x02" + b"(" + b"".join(uni(k) for k in keys) + b"l." + raw)
    leg_tensor = tensor(key="1", pid=tup([uni("storage"), glob("torch", "FloatStorage"), uni("1"), uni("cpu"), bint(4), b"N"]) + b"Q")
    obj = state_dict([("w", leg_tensor)])
    good_raw = struct.pack("<q", 4) + struct.pack("<4f", 1, 2, 3, 4)
    case("legacy_wrong_magic.pt", "not torch's legacy magic number", legacy(obj, ["1"], good_raw, magic=0x1950A86A20F9469CFC6D))
    case("legacy_count_lie.pt", "holds 1000000 elements but the pickle declares 4",
         legacy(obj, ["1"], struct.pack("<q", 1_000_000) + struct.pack("<4f", 1, 2, 3, 4)))
    case("legacy_truncated.pt", "file truncated inside storage '1'", legacy(obj, ["1"], good_raw)[:-5])
    case("legacy_unlisted_storage.pt", "storage '9' is listed but never referenced", legacy(obj, ["1", "9"], good_raw))
    flipped = bytearray(legacy(obj, ["1"], good_raw))
    flipped[flipped.index(b"X\x01\x00\x00\x00w")] = 0xFF
    case("legacy_flipped_opcode.pt", "unknown opcode 0xff", bytes(flipped))
    case("legacy_os_system.pt", "not a checkpoint irzoo knows", system_call("legacy_os_system") + b".",
         permissive="refused", has_canary=True, verify="torch")  # protocol 0 at the top of a file: not even sniffed
    case("legacy_proto2_os_system.pt", "refused global os.system",
         b"\x80\x02" + system_call("legacy_proto2_os_system") + b".", permissive="refused", has_canary=True, verify="torch")

    # 11. Not checkpoints at all.
    case("empty.pt", "empty file", b"")
    case("random.bin", "not a checkpoint irzoo knows", bytes((i * 73 + 11) % 251 for i in range(512)))


def overlapping_zip():
    """Member B's local header sits inside member A's data: the 'overlapping files' bomb shape."""
    def local(name, data):
        return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, zlib.crc32(data), len(data), len(data),
                           len(name), 0) + name + data

    def central(name, data, offset):
        return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, zlib.crc32(data), len(data), len(data),
                           len(name), 0, 0, 0, 0, 0, offset) + name
    pkl = b"\x80\x02}."
    inner = local(b"archive/version", b"3\n")
    a_data = inner + pkl
    out = local(b"archive/blob", a_data)
    a_offset, b_offset = 0, 30 + len(b"archive/blob")
    pkl_offset = len(out)
    out += local(b"archive/data.pkl", pkl)
    cd = (central(b"archive/data.pkl", pkl, pkl_offset) + central(b"archive/blob", a_data, a_offset)
          + central(b"archive/version", b"3\n", b_offset))
    cd_offset = len(out)
    out += cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 3, 3, len(cd), cd_offset, 0)
    return out


def verify_live(c, path):
    """Runs the payload with Python's real loaders in a subprocess; the canary must appear."""
    target = c["canary"]
    if os.path.exists(target):
        os.remove(target)
    code = ("import torch, sys\n"
            "try:\n    torch.load(sys.argv[1], weights_only=False)\nexcept Exception:\n    pass\n")
    subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=120)
    live = os.path.exists(target)
    if live:
        os.remove(target)
    return live


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    build()
    table = []
    for c in CASES:
        path = OUT / c["file"]
        path.write_bytes(c["data"])
        entry = {k: c[k] for k in ("file", "fragment", "permissive", "permissive_fragment", "canary") if c[k] is not None}
        if c["verify"] and "--no-verify" not in sys.argv:
            entry["payload_verified_live"] = verify_live(c, path)
            if not entry["payload_verified_live"]:
                print(f"warning: {c['file']}: payload did not fire under torch.load(weights_only=False)")
        table.append(entry)
    (OUT / "expected.json").write_text(json.dumps({"cases": table}, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    live = sum(1 for t in table if t.get("payload_verified_live"))
    print(f"wrote {len(table)} hostile files to {OUT} ({total} bytes); {live} payloads proven live")


if __name__ == "__main__":
    main()
