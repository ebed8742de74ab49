"""Writes the PNG fixtures IRImageTests reads (Tests/Fixtures/png/), with pixel values given by
formulas the Swift tests recompute, so no decoder is trusted to make its own goldens.

8-bit sample (x, y, channel c):  (7x + 13y + 50c) mod 256
16-bit sample:                   (1009x + 2003y + 17011c) mod 65536
Images are 5 wide and 3 high. Most files are written by a tiny encoder here (zlib + CRC, one
filter type per row), so 16-bit colour and alpha layouts are covered; PIL writes the palette
and 1-bit ones. Also writes the malformed inputs the error tests use.

Usage: python Tools/gen_png_fixtures.py
"""
import os
import struct
import zlib

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "png")
W, H = 5, 3
COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def samples(channels, depth):
    y, x, c = np.meshgrid(np.arange(H), np.arange(W), np.arange(channels), indexing="ij")
    if depth == 8:
        return ((7 * x + 13 * y + 50 * c) % 256).astype(np.uint16)
    return ((1009 * x + 2003 * y + 17011 * c) % 65536).astype(np.uint16)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode(pixels, depth, extra_chunks=b""):
    h, w, channels = pixels.shape
    ihdr = struct.pack(">IIBBBBB", w, h, depth, COLOR_TYPES[channels], 0, 0, 0)
    raw = bytearray()
    bpp = channels * depth // 8
    for row in range(h):
        line = pixels[row].astype(">u2").tobytes() if depth == 16 else pixels[row].astype(np.uint8).tobytes()
        # Cycle through filters 0 (none) and 1 (sub) so both decoder paths run.
        if row % 2 == 1:
            prev = bytes(bpp) + line[:-bpp]
            line = bytes((a - b) & 0xFF for a, b in zip(line, prev))
            raw += b"\x01" + line
        else:
            raw += b"\x00" + line
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra_chunks
            + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    names = {1: "gray", 2: "graya", 3: "rgb", 4: "rgba"}
    for channels, label in names.items():
        for depth in (8, 16):
            write(f"{label}{depth}.png", encode(samples(channels, depth), depth))
    # A gAMA chunk must not change the samples irzoo reads (no gamma transform).
    write("rgb8-gamma.png", encode(samples(3, 8), 8, chunk(b"gAMA", struct.pack(">I", 100000))))
    # Palette (PIL picks the order; the test compares against the RGB values it expands to).
    rgb = samples(3, 8).astype(np.uint8)
    Image.fromarray(rgb, "RGB").convert("P", palette=Image.ADAPTIVE, colors=16).save(os.path.join(OUT, "palette.png"))
    pal = np.asarray(Image.open(os.path.join(OUT, "palette.png")).convert("RGB"))
    with open(os.path.join(OUT, "palette-expected-rgb.txt"), "w") as f:
        f.write(" ".join(str(int(v)) for v in pal.transpose(2, 0, 1).reshape(-1)) + "\n")
    # 1-bit gray: a checkerboard, expanded to 0 / 255.
    checker = ((np.indices((H, W)).sum(axis=0) % 2) * 255).astype(np.uint8)
    Image.fromarray(checker, "L").convert("1").save(os.path.join(OUT, "gray1.png"))

    # Malformed inputs.
    good = encode(samples(3, 8), 8)
    write("truncated.png", good[: len(good) // 2])
    write("no-iend.png", good[: -12])
    bad_crc = bytearray(good)
    bad_crc[30] ^= 0xFF  # inside IHDR's CRC (bytes 29-32)
    write("bad-crc.png", bytes(bad_crc))
    write("not-a-png.png", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))
    write("empty.png", b"")
    huge = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1 << 20, 1 << 20, 8, 2, 0, 0, 0))
    write("huge-header.png", huge + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    print(f"wrote {len(os.listdir(OUT))} files to {OUT}")


if __name__ == "__main__":
    main()
