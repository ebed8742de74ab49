"""An 8-bit RGB PNG of a seeded pattern, written with the standard library only (the browser
test and bench-serve run without numpy or Pillow)."""
import random, struct, zlib


def write_png(path, width, height, seed):
    rng = random.Random(seed)
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            r = (x * 255 // max(1, width - 1) + rng.randrange(-24, 25)) % 256
            g = (y * 255 // max(1, height - 1) + rng.randrange(-24, 25)) % 256
            b = ((x + y) * 4 + rng.randrange(-24, 25)) % 256
            rows += bytes((r, g, b))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b""))
