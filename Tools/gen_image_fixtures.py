"""Writes the JPEG, TIFF, WebP and PNG fixtures IRImageTests reads (Tests/Fixtures/images/) and
their decoded pixels as the reference libraries give them (expected.npz): PIL for JPEG, WebP and
PNG (after ImageOps.exif_transpose), tifffile for TIFF (PIL cannot hold 16-bit RGB). Each array
is int32 [H, W, C], named by the file name.

Images are 23x17 (odd sides, so chroma subsampling meets partial blocks): a smooth gradient plus
seeded noise, so the codecs have detail to lose. Also writes the files that must be refused:
CMYK, truncated, corrupt, and headers claiming 100000x100000 pixels (decompression bombs).

Usage: python Tools/gen_image_fixtures.py
"""
import io
import os
import struct

import numpy as np
import tifffile
from PIL import Image, ImageCms, ImageOps

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "images")
W, H = 23, 17
rng = np.random.default_rng(13)


def pattern(channels, depth=8):
    y, x = np.mgrid[0:H, 0:W]
    top = 255 if depth == 8 else 65535
    planes = [(x * 9 + y * 5 + c * 60) % 256 / 255.0 for c in range(channels)]
    img = np.stack(planes, axis=-1) * 0.8 + rng.random((H, W, channels)) * 0.2
    return np.round(img * top).astype(np.uint8 if depth == 8 else np.uint16)


RGB = pattern(3)
ALPHA = ((np.mgrid[0:H, 0:W][1] * 11) % 256).astype(np.uint8)[..., None]


def fixed_srgb():
    """littlecms's sRGB profile with a fixed creation date and no profile ID, so reruns write the same bytes."""
    p = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    p[24:36] = struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
    p[84:100] = bytes(16)
    return bytes(p)


SRGB = fixed_srgb()
expected = {}


def path(name):
    return os.path.join(OUT, name)


def save_pil(name, image, **kw):
    image.save(path(name), **kw)
    with Image.open(path(name)) as im:
        upright = ImageOps.exif_transpose(im)
        a = np.asarray(upright)
    expected[name] = (a[..., None] if a.ndim == 2 else a).astype(np.int32)


def exif(orientation):
    e = Image.Exif()
    e[0x0112] = orientation
    return e.tobytes()


def write_bytes(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def jpeg_fixtures():
    rgb = Image.fromarray(RGB)
    save_pil("baseline-420.jpg", rgb, quality=85, subsampling=2)
    save_pil("baseline-444.jpg", rgb, quality=92, subsampling=0)
    save_pil("progressive.jpg", rgb, quality=85, subsampling=2, progressive=True)
    save_pil("gray.jpg", Image.fromarray(RGB[..., 1]), quality=90)
    save_pil("icc.jpg", rgb, quality=90, icc_profile=SRGB)
    for o in range(1, 9):
        save_pil(f"orient-{o}.jpg", rgb, quality=90, exif=exif(o))
    Image.fromarray(np.concatenate([RGB, ALPHA], axis=-1)).convert("CMYK").save(path("cmyk.jpg"), quality=90)
    data = open(path("baseline-420.jpg"), "rb").read()
    write_bytes("truncated.jpg", data[: len(data) // 2])
    # SOF0's sample precision byte set to 3: a header libjpeg refuses.
    sof = data.index(b"\xff\xc0")
    write_bytes("corrupt.jpg", data[: sof + 4] + b"\x03" + data[sof + 5:])
    # A header claiming 65000x65000 pixels (4.2 gigapixels): must be refused before decoding.
    write_bytes("bomb.jpg", data[: sof + 5] + struct.pack(">HH", 65000, 65000) + data[sof + 9:])


def tiff_fixtures():
    rgb16 = pattern(3, 16)
    gray16 = pattern(1, 16)[..., 0]
    specs = [
        ("rgb8.tif", RGB, dict()),
        ("rgb8-lzw.tif", RGB, dict(compression="lzw")),
        ("rgb16-deflate.tif", rgb16, dict(compression="adobe_deflate", predictor=True)),
        ("gray8-lzw.tif", RGB[..., 0], dict(compression="lzw", photometric="minisblack")),
        ("gray16.tif", gray16, dict(photometric="minisblack")),
        ("rgba8-deflate.tif", np.concatenate([RGB, ALPHA], axis=-1), dict(compression="adobe_deflate", extrasamples=["unassalpha"])),
        ("tiled-rgb16-lzw.tif", rgb16, dict(compression="lzw", tile=(16, 16))),
        ("planar-rgb8.tif", np.moveaxis(RGB, -1, 0), dict(planarconfig="separate", photometric="rgb")),
        ("icc.tif", RGB, dict(extratags=[(34675, 7, len(SRGB), SRGB, True)])),
        ("orient-6.tif", RGB, dict(extratags=[(274, 3, 1, 6, True)])),
    ]
    for name, data, kw in specs:
        kw.setdefault("photometric", "rgb")
        tifffile.imwrite(path(name), data, **kw)
        a = tifffile.imread(path(name))
        if name.startswith("planar"):
            a = np.moveaxis(a, 0, -1)
        if name == "orient-6.tif":
            a = np.rot90(a, k=-1)  # orientation 6: rotate 90 degrees clockwise
        expected[name] = (a[..., None] if a.ndim == 2 else a).astype(np.int32)
    tifffile.imwrite(path("cmyk.tif"), np.concatenate([RGB, ALPHA], axis=-1), photometric="separated")
    data = open(path("rgb8-lzw.tif"), "rb").read()
    write_bytes("truncated.tif", data[: len(data) // 2])
    # The LZW strip overwritten with bytes that are not a valid code stream.
    raw = bytearray(data)
    with tifffile.TiffFile(path("rgb8-lzw.tif")) as t:
        offset = t.pages[0].dataoffsets[0]
    raw[offset: offset + 64] = bytes([0xFF] * 64)
    write_bytes("corrupt.tif", bytes(raw))
    # A 100000x100000 header whose strips do not exist.
    tifffile.imwrite(path("bomb-src.tif"), RGB)
    with tifffile.TiffFile(path("bomb-src.tif")) as t:
        page = t.pages[0]
        w_off, h_off = page.tags["ImageWidth"].valueoffset, page.tags["ImageLength"].valueoffset
        w_type = page.tags["ImageWidth"].dtype
    raw = bytearray(open(path("bomb-src.tif"), "rb").read())
    fmt = "<I" if w_type == 4 else "<H"
    value = 100000 if fmt == "<I" else 65535
    struct.pack_into(fmt, raw, w_off, value)
    struct.pack_into(fmt, raw, h_off, value)
    write_bytes("bomb.tif", bytes(raw))
    os.remove(path("bomb-src.tif"))


def webp_fixtures():
    rgb = Image.fromarray(RGB)
    rgba = Image.fromarray(np.concatenate([RGB, ALPHA], axis=-1))
    save_pil("lossy.webp", rgb, quality=80)
    save_pil("lossy-alpha.webp", rgba, quality=80)
    save_pil("lossless-alpha.webp", rgba, lossless=True, exact=True)
    save_pil("icc.webp", rgb, lossless=True, icc_profile=SRGB)
    save_pil("orient-6.webp", rgb, lossless=True, exif=exif(6))
    data = open(path("lossy.webp"), "rb").read()
    write_bytes("truncated.webp", data[: len(data) // 2])
    # The VP8 frame's data garbled after its header.
    vp8 = data.index(b"VP8 ")
    write_bytes("corrupt.webp", data[: vp8 + 30] + bytes([0x55] * (len(data) - vp8 - 30)))
    # A lossless (VP8L) header claiming 16383x16383 pixels (268 megapixels), then no image data.
    bits = (16383 - 1) | ((16383 - 1) << 14)
    vp8l = b"\x2f" + struct.pack("<I", bits) + bytes(8)
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    write_bytes("bomb.webp", b"RIFF" + struct.pack("<I", len(body)) + body)


def png_fixtures():
    rgb = Image.fromarray(RGB)
    save_pil("icc.png", rgb, icc_profile=SRGB)
    save_pil("orient-6.png", rgb, exif=exif(6))


def main():
    os.makedirs(OUT, exist_ok=True)
    jpeg_fixtures()
    tiff_fixtures()
    webp_fixtures()
    png_fixtures()
    write_bytes("srgb.icc", SRGB)
    np.savez_compressed(path("expected.npz"), **expected)
    print(f"wrote {len(expected)} decoded references to {os.path.relpath(path('expected.npz'))}")


if __name__ == "__main__":
    main()
