"""Helpers shared by gen_torch_fixtures.py and gen_hostile_corpus.py.

- tensor_entry(): the expected record of a tensor (name, dtype, shape, sha256 of its
  C-contiguous little-endian bytes), as the Swift tests compare it.
- render(): the canonical text of a Python value, mirroring PickleRender.render in
  Sources/IRCheckpoint/PickleRender.swift (floats as IEEE bits, sets sorted, ...).
- ZipWriter: a small hand-written zip writer that can emit what Python's zipfile will not
  (ZIP64 records for small files, mismatched local headers, unsafe names, bad CRCs, ...).
- storage_types(): storage key -> storage class name of a torch zip's data.pkl, read without torch.
- glob(), uni(), bint(), tup(), ...: a tiny pickle assembler for hand-built pickles.
"""
import argparse
import collections
import hashlib
import io
import pickle
import struct
import zlib

DTYPE_NAMES = {
    "torch.float32": "f32", "torch.float16": "f16", "torch.bfloat16": "bf16", "torch.float64": "f64",
    "torch.int64": "i64", "torch.int32": "i32", "torch.int16": "i16", "torch.int8": "i8",
    "torch.uint8": "u8", "torch.bool": "bool",
}

STORAGE_ELEMENT_SIZES = {
    "FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
}


def tensor_bytes(t):
    """C-contiguous little-endian bytes of a tensor (any dtype, any layout)."""
    import torch
    c = t.detach().contiguous().reshape(-1)
    if c.numel() == 0:
        return b""
    return c.view(torch.uint8).numpy().tobytes()


def tensor_entry(name, t):
    return {
        "name": name,
        "dtype": DTYPE_NAMES[str(t.dtype)],
        "shape": list(t.shape),
        "sha256": hashlib.sha256(tensor_bytes(t)).hexdigest(),
    }


def render(v, seen=None):
    """Canonical rendering; must match PickleRender.render in Swift."""
    if v is None:
        return "None"
    if v is True:
        return "True"
    if v is False:
        return "False"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "float(%x)" % struct.unpack("<Q", struct.pack("<d", v))[0]
    if isinstance(v, str):
        if all(0x20 <= ord(c) < 0x7F and c not in '"\\' for c in v):
            return '"%s"' % v
        return "str:" + v.encode("utf-8").hex()
    if isinstance(v, (bytes, bytearray)):
        return "b:" + bytes(v).hex()
    if isinstance(v, tuple):
        inner = ", ".join(render(x) for x in v)
        return "(" + inner + (",)" if len(v) == 1 else ")")
    if isinstance(v, list):
        return "[" + ", ".join(render(x) for x in v) + "]"
    if isinstance(v, (set, frozenset)):
        kind = "frozenset" if isinstance(v, frozenset) else "set"
        return kind + "[" + ", ".join(sorted(render(x) for x in v)) + "]"
    if isinstance(v, collections.OrderedDict):
        return "collections.OrderedDict" + render_dict(v)
    if isinstance(v, dict):
        return render_dict(v)
    if isinstance(v, complex):
        return "builtins.complex(%s, %s)" % (render(v.real), render(v.imag))
    if isinstance(v, argparse.Namespace):
        return "argparse.Namespace()@state(%s)" % render_dict(vars(v))
    raise TypeError("no canonical rendering for %r" % type(v))


def render_dict(d):
    return "{" + ", ".join("%s: %s" % (render(k), render(x)) for k, x in d.items()) + "}"


# ---------------------------------------------------------------------------- storages

class _Dummy:
    def __init__(self, *a, **k):
        pass


class _StorageScan(pickle.Unpickler):
    """Reads data.pkl without torch, recording each storage's class."""

    def __init__(self, f):
        super().__init__(f)
        self.types = {}

    def find_class(self, module, name):
        if name.endswith("Storage"):
            return name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        return _Dummy

    def persistent_load(self, pid):
        self.types[pid[2]] = pid[1]
        return None


def storage_types(data_pkl):
    u = _StorageScan(io.BytesIO(data_pkl))
    u.load()
    return u.types


# ---------------------------------------------------------------------------- zip writer

class ZipMember:
    def __init__(self, name, data, method=0, flags=0x0808, align=64):
        self.name = name.encode("utf-8") if isinstance(name, str) else name
        self.data = data
        self.method = method
        self.flags = flags
        self.align = align
        self.crc = zlib.crc32(data) & 0xFFFFFFFF
        if method == 8:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            self.payload = c.compress(data) + c.flush()
        else:
            self.payload = data
        # Overrides for hostile archives.
        self.central_name = None
        self.central_crc = None
        self.central_usize = None
        self.local_crc = None
        self.local_flags = None
        self.central_flags = None
        self.local_offset_override = None


class ZipWriter:
    """Writes members like torch's writer does (stored, 64-byte aligned data, flag 0x0808 with
    zeros in the local header and a data descriptor), optionally with ZIP64 records."""

    def __init__(self, zip64=False):
        self.members = []
        self.zip64 = zip64

    def add(self, member):
        self.members.append(member)
        return member

    def build(self):
        out = bytearray()
        central = bytearray()
        for m in self.members:
            offset = len(out)
            usize, csize = len(m.data), len(m.payload)
            flags = m.local_flags if m.local_flags is not None else m.flags
            descriptor = bool(flags & 0x08)
            lcrc = m.local_crc if m.local_crc is not None else (0 if descriptor else m.crc)
            if self.zip64:
                lsizes = (0xFFFFFFFF, 0xFFFFFFFF)
                extra = struct.pack("<HHQQ", 1, 16, 0 if descriptor else usize, 0 if descriptor else csize)
            else:
                lsizes = (0, 0) if descriptor else (csize, usize)
                extra = b""
            header_len = 30 + len(m.name) + len(extra)
            if m.align:
                pad = (-(offset + header_len + 4)) % m.align
                extra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad
            out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if self.zip64 else 20, flags, m.method, 0, 0x21,
                               lcrc, lsizes[0], lsizes[1], len(m.name), len(extra))
            out += m.name + extra + m.payload
            if descriptor:
                if self.zip64:
                    out += struct.pack("<IIQQ", 0x08074B50, m.crc, csize, usize)
                else:
                    out += struct.pack("<IIII", 0x08074B50, m.crc, csize, usize)
            cname = m.central_name if m.central_name is not None else m.name
            ccrc = m.central_crc if m.central_crc is not None else m.crc
            cusize = m.central_usize if m.central_usize is not None else usize
            cflags = m.central_flags if m.central_flags is not None else m.flags
            lho = m.local_offset_override if m.local_offset_override is not None else offset
            if self.zip64:
                cextra = struct.pack("<HHQQQ", 1, 24, cusize, csize, lho)
                fields = (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
            else:
                cextra = b""
                fields = (csize, cusize, lho)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45 if self.zip64 else 20, cflags,
                                   m.method, 0, 0x21, ccrc, fields[0], fields[1], len(cname), len(cextra), 0, 0, 0,
                                   0, fields[2])
            central += cname + cextra
        cd_offset = len(out)
        out += central
        n = len(self.members)
        if self.zip64:
            z64 = len(out)
            out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
            out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
            out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
        else:
            out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_offset, 0)
        return bytes(out)


def zip_members(path_or_bytes):
    """(name, bytes) of every member of a zip, in order."""
    import zipfile
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with zipfile.ZipFile(src) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


# ---------------------------------------------------------------------------- pickle assembly

def as_bytes(s):
    return s.encode("utf-8") if isinstance(s, str) else s


def glob(module, name):
    """GLOBAL module name."""
    return b"c" + as_bytes(module) + b"\n" + as_bytes(name) + b"\n"


def uni(s):
    """BINUNICODE."""
    d = as_bytes(s)
    return b"X" + struct.pack("<I", len(d)) + d


def short_uni(s):
    """SHORT_BINUNICODE (protocol 4)."""
    d = as_bytes(s)
    return b"\x8c" + bytes([len(d)]) + d


def bint(i):
    """BININT, or LONG1 beyond 32 bits."""
    if -2**31 <= i < 2**31:
        return b"J" + struct.pack("<i", i)
    n = (i.bit_length() + 8) // 8
    return b"\x8a" + bytes([n]) + i.to_bytes(n, "little", signed=True)


def tup(items):
    """MARK items TUPLE."""
    return b"(" + b"".join(items) + b"t"


def ints(values):
    return tup([bint(v) for v in values])


def rebuild_tensor(pid, offset, size, stride):
    """torch._utils._rebuild_tensor_v2(<pid>, offset, size, stride, False, OrderedDict())."""
    return (glob("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + bint(offset) + ints(size) + ints(stride)
            + b"\x89" + glob("collections", "OrderedDict") + b")R" + b"tR")


def pickled_dict(items):
    """PROTO 2, a dict of name -> assembled value, STOP."""
    return b"\x80\x02}(" + b"".join(uni(k) + v for k, v in items) + b"u."
