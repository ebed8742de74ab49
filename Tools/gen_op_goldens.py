#!/usr/bin/env python3
"""Writes the runtime's operator goldens: Tests/Fixtures/ops/<family>.safetensors.

Each file holds several cases. A case `c` stores its tensors as `c.<name>` (inputs, weights and
torch's output `c.out`, all float32) and its parameters as JSON in the safetensors metadata under
the key `c`. A case whose parameters carry `"error"` is one torch refuses; the Swift test expects
a RuntimeError there. Every value comes from torch (CPU, float32) with fixed seeds; shapes are
deliberately odd (sizes that are not multiples of 8, 1x1 images, large channel counts, every
padding mode).

The `degenerate_<family>` files hold the same ops on degenerate inputs: constant and zero-variance
tensors, values near the float range (±88, ±1e30, ±FLT_MAX), denormals, ±inf and NaN. Their
golden is torch's float32 answer, checked to be the same with oneDNN on and off (the two CPU paths
torch has for several ops); where the paths differ, or torch's float32 formulation overflows where
the operation's value does not, the case pins torch's float64 answer rounded to float32 and says
why in its parameters (`golden`). The runtime tests them at every SIMD level, NaN and inf position
for position.

Usage: python Tools/gen_op_goldens.py [FAMILY ...]   (from the repository root, torch and
safetensors needed; no arguments: every family)
"""
import json
import math
import os
import struct
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "ops")
torch.set_num_threads(1)


class Family:
    """Collects the cases of one fixture file."""

    def __init__(self, name):
        self.name = name
        self.tensors = {}
        self.meta = {}
        self.gen = torch.Generator().manual_seed(sum(map(ord, name)))

    def randn(self, *shape, scale=1.0):
        return torch.randn(*shape, generator=self.gen, dtype=torch.float32) * scale

    def rand(self, *shape, lo=0.0, hi=1.0):
        return torch.rand(*shape, generator=self.gen, dtype=torch.float32) * (hi - lo) + lo

    def case(self, name, params, tensors, fn, expect_error=False):
        """Stores the tensors and fn(**tensors) as `out` (a tuple result as out0, out1, ...)."""
        assert name not in self.meta, name
        params = dict(params)
        try:
            with torch.no_grad():
                out = fn(**tensors)
        except Exception as e:  # torch refuses: the Swift side must throw
            if not expect_error:
                raise
            params["error"] = str(e).splitlines()[0][:200]
            out = None
        if out is not None:
            if isinstance(out, (tuple, list)):
                for i, o in enumerate(out):
                    tensors[f"out{i}"] = o
                params["outputs"] = len(out)
            else:
                tensors["out"] = out
        for k, v in tensors.items():
            if v is None:
                continue
            self.tensors[f"{name}.{k}"] = np.ascontiguousarray(v.detach().to(torch.float32).numpy())
        self.meta[name] = json.dumps(params, sort_keys=True)

    def error(self, name, params, tensors, fn):
        """A case torch must refuse (checked here, so a fixture never claims a false error)."""
        self.case(name, params, tensors, fn, expect_error=True)
        assert "error" in json.loads(self.meta[name]), f"{self.name}/{name}: torch accepted it"

    def save(self):
        os.makedirs(OUT, exist_ok=True)
        path = os.path.join(OUT, f"{self.name}.safetensors")
        write_safetensors(self.tensors, path, self.meta)
        check = load_file(path)  # the reference reader agrees with what was written
        assert check.keys() == self.tensors.keys() and all(np.array_equal(check[k], self.tensors[k], equal_nan=True) for k in check)
        size = os.path.getsize(path)
        print(f"{self.name}: {len(self.meta)} cases, {size / 1024:.1f} KiB")
        return size


class DegenerateFamily(Family):
    """Cases on degenerate inputs: torch's float32 answer, or its float64 one where `pin64` says why."""

    def __init__(self, name):
        super().__init__("degenerate_" + name)

    def case(self, name, params, tensors, fn, pin64=None):
        params = dict(params)
        wide = {k: (v.double() if v is not None else None) for k, v in tensors.items()}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # oneDNN's flag setter warns about TF32
            out32 = fn(**tensors)
            with torch.backends.mkldnn.flags(enabled=False):
                aten32 = fn(**tensors)
            out64 = fn(**wide).to(torch.float32)
        paths_agree = same_specials(out32, aten32) and close_finite(out32, aten32)
        if pin64:
            params["golden"] = "float64: " + pin64
            out = out64
        else:
            assert paths_agree, f"{self.name}/{name}: torch's float32 paths (oneDNN on/off) differ; pin float64 and say why"
            params["golden"] = "float32"
            out = out32
        if not same_specials(out32, out64):
            # Where float32 and float64 part ways on NaN/inf (overflow in float32 arithmetic):
            # shown when the fixtures are written, so each pin is a decision, not an accident.
            print(f"  {self.name}/{name}: float32 and float64 differ at {int((special_code(out32) != special_code(out64)).sum())}"
                  f" NaN/inf positions; golden = {params['golden']}")
        super().case(name, params, tensors, lambda **_: out)


def special_code(t):
    """0 finite, 1 NaN, 2 +inf, 3 -inf, per element."""
    return torch.isnan(t) * 1 + (t == float("inf")) * 2 + (t == float("-inf")) * 3


def same_specials(a, b):
    return bool(torch.equal(special_code(a), special_code(b)))


def close_finite(a, b, tol=1e-5):
    m = torch.isfinite(a) & torch.isfinite(b)
    return bool(((a[m] - b[m]).abs() <= tol * b[m].abs().clamp_min(1)).all())


# ----------------------------------------------------------------------------------------------
# Reference forms of the upstream modules the runtime's fused ops stand for.

def mdta(q, k, v, temperature, heads):
    # Restormer Attention.forward after the qkv convs.
    b, c, h, w = q.shape
    q, k, v = (t.reshape(b, heads, c // heads, h * w) for t in (q, k, v))
    q = F.normalize(q, dim=-1)
    k = F.normalize(k, dim=-1)
    attn = (q @ k.transpose(-2, -1)) * temperature.reshape(heads, 1, 1)
    attn = attn.softmax(dim=-1)
    return (attn @ v).reshape(b, c, h, w)


def swin(q, k, v, heads, window, shift, bias=None, layout="nchw"):
    # Swin: roll by -shift, window partition, biased masked attention, reverse, roll back.
    if layout == "nchw":
        q, k, v = (t.permute(0, 2, 3, 1) for t in (q, k, v))
    b, h, w, c = q.shape
    d = c // heads
    if shift:
        q, k, v = (torch.roll(t, shifts=(-shift, -shift), dims=(1, 2)) for t in (q, k, v))

    def part(t):
        t = t.reshape(b, h // window, window, w // window, window, c).permute(0, 1, 3, 2, 4, 5)
        return t.reshape(-1, window * window, heads, d).permute(0, 2, 1, 3)

    qw, kw, vw = part(q), part(k), part(v)
    attn = (qw * d ** -0.5) @ kw.transpose(-2, -1)
    if bias is not None:
        attn = attn + bias.unsqueeze(0)
    if shift:
        img = torch.zeros(1, h, w, 1)
        cnt = 0
        for hs in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
            for ws in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
                img[:, hs, ws, :] = cnt
                cnt += 1
        mw = img.reshape(1, h // window, window, w // window, window, 1).permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window)
        mask = mw.unsqueeze(1) - mw.unsqueeze(2)
        mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
        nw = mask.shape[0]
        attn = attn.view(b, nw, heads, window * window, window * window) + mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, heads, window * window, window * window)
    attn = attn.softmax(-1)
    o = (attn @ vw).permute(0, 2, 1, 3).reshape(b, h // window, w // window, window, window, c)
    o = o.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
    if shift:
        o = torch.roll(o, shifts=(shift, shift), dims=(1, 2))
    return o.permute(0, 3, 1, 2).contiguous() if layout == "nchw" else o


def swin_bias(table, window, heads):
    """Swin's relative position bias [heads, w², w²] gathered from its table [(2w−1)², heads]."""
    n = window * window
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    index = rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]
    return table[index.reshape(-1)].reshape(n, n, heads).permute(2, 0, 1).contiguous()


def restormer_ln(x, w, b=None, bias_free=False, eps=1e-5):
    # Restormer LayerNorm on to_3d(x) = 'b c h w -> b (h w) c', then back.
    bsz, c, h, wd = x.shape
    t = x.permute(0, 2, 3, 1).reshape(bsz, h * wd, c)
    sigma = t.var(-1, keepdim=True, unbiased=False)
    if bias_free:
        y = t / torch.sqrt(sigma + eps) * w
    else:
        mu = t.mean(-1, keepdim=True)
        y = (t - mu) / torch.sqrt(sigma + eps) * w + b
    return y.reshape(bsz, h, wd, c).permute(0, 3, 1, 2)


def nafnet_ln(x, w, b, eps=1e-6):
    mu = x.mean(1, keepdim=True)
    var = (x - mu).pow(2).mean(1, keepdim=True)
    y = (x - mu) / (var + eps).sqrt()
    return w.view(1, -1, 1, 1) * y + b.view(1, -1, 1, 1)


def tlsc(x, kernel):
    # NAFNet local_arch.AvgPool2d.forward with auto_pad=True, fast_imp=False.
    kh, kw = kernel
    if kh >= x.size(-2) and kw >= x.size(-1):
        return F.adaptive_avg_pool2d(x, 1)
    n, c, h, w = x.shape
    s = x.cumsum(dim=-1).cumsum_(dim=-2)
    s = F.pad(s, (1, 0, 1, 0))
    k1, k2 = min(h, kh), min(w, kw)
    s1, s2, s3, s4 = s[:, :, :-k1, :-k2], s[:, :, :-k1, k2:], s[:, :, k1:, :-k2], s[:, :, k1:, k2:]
    out = (s4 + s1 - s2 - s3) / (k1 * k2)
    _h, _w = out.shape[2:]
    pad2d = ((w - _w) // 2, (w - _w + 1) // 2, (h - _h) // 2, (h - _h + 1) // 2)
    return F.pad(out, pad2d, mode="replicate")


# ----------------------------------------------------------------------------------------------
def conv2d():
    f = Family("conv2d")

    def add(name, n, c, h, w, o, k, stride=1, padding=0, dilation=1, groups=1, mode="zeros", bias=True, err=False):
        kh, kw = (k, k) if isinstance(k, int) else k
        x = f.randn(n, c, h, w)
        wt = f.randn(o, c // groups if c % groups == 0 else 1, kh, kw, scale=1 / math.sqrt(max(1, c // max(groups, 1) * kh * kw)))
        b = f.randn(o) if bias else None
        p = dict(stride=_pair(stride), padding=_pair(padding), dilation=_pair(dilation), groups=groups, mode=mode)

        def fn(x, w, b=None):
            m = torch.nn.Conv2d(c, o, (kh, kw), stride=stride, padding=padding, dilation=dilation, groups=groups,
                                bias=b is not None, padding_mode=mode)
            m.weight.copy_(w)
            if b is not None:
                m.bias.copy_(b)
            return m(x)

        t = {"x": x, "w": wt}
        if bias:
            t["b"] = b
        (f.error if err else f.case)(name, p, t, fn)

    add("k3_zeros_batch2", 2, 5, 13, 11, 7, 3, padding=1)
    add("k3_reflect", 1, 16, 9, 10, 24, 3, padding=1, mode="reflect", bias=False)
    add("k3_replicate_dil2", 1, 6, 12, 9, 5, 3, padding=2, dilation=2, mode="replicate")
    add("k3_circular", 1, 4, 7, 6, 3, 3, padding=1, mode="circular")
    add("k5_pad2_zeros", 1, 3, 11, 13, 4, 5, padding=2)
    add("k2_stride2_down", 1, 6, 10, 14, 12, 2, stride=2)
    add("k3_stride2_odd", 1, 5, 9, 7, 6, 3, stride=2, padding=1)
    add("k4_stride2_nobias", 1, 8, 12, 12, 16, 4, stride=2, padding=1, bias=False)
    add("k14_patch_embed", 1, 3, 28, 42, 8, 14, stride=14, bias=False)
    add("k1_image1x1", 1, 37, 1, 1, 19, 1)
    add("k1_wide", 1, 384, 3, 5, 40, 1, bias=False)
    add("k1_batch3", 3, 20, 4, 6, 30, 1)
    add("k3_many_in", 1, 130, 5, 5, 9, 3, padding=1)
    add("k3_image1x1_pad1", 1, 4, 1, 1, 6, 3, padding=1)
    # Rows wide enough for whole register tiles (64/48/32/16 columns): the kernels then read the
    # input in place instead of packing it, except for tiles that wrap onto the next row.
    add("k3_wide_rows", 1, 4, 6, 133, 5, 3, padding=1)
    add("k3_wide_rows_dil2_reflect", 1, 3, 5, 150, 4, 3, padding=2, dilation=2, mode="reflect", bias=False)
    add("k1_wide_rows", 2, 3, 4, 100, 9, 1)
    # At least 4096 output pixels: padded convolutions then run band by band (per-thread padding).
    add("k3_bands_zeros", 1, 3, 40, 110, 4, 3, padding=1)
    add("k3_bands_stride2_reflect", 1, 2, 130, 130, 3, 3, stride=2, padding=1, mode="reflect")
    add("k3_bands_dil2_replicate_batch2", 2, 2, 50, 90, 3, 3, padding=2, dilation=2, mode="replicate", bias=False)
    add("k3x1_asym", 1, 5, 8, 9, 7, (3, 1), padding=(1, 0))
    add("k1x5_asym_reflect", 1, 3, 6, 11, 4, (1, 5), padding=(0, 2), mode="reflect")
    add("dw3_zeros", 2, 24, 13, 17, 24, 3, padding=1, groups=24, bias=False)
    add("dw3_reflect_bias", 1, 40, 9, 33, 40, 3, padding=1, groups=40, mode="reflect")
    add("dw7_pad3", 1, 11, 15, 14, 11, 7, padding=3, groups=11, bias=False)
    add("dw3_dil2_replicate", 1, 9, 10, 21, 9, 3, padding=2, dilation=2, groups=9, mode="replicate")
    add("dw3_stride2", 1, 10, 11, 13, 10, 3, stride=2, padding=1, groups=10)
    add("dw_multiplier2", 1, 6, 7, 9, 12, 3, padding=1, groups=6)
    add("dw3_wide_row", 1, 3, 3, 70, 3, 3, padding=1, groups=3)
    add("groups4_k5", 1, 40, 9, 8, 40, 5, padding=2, groups=4)
    add("groups2_k1", 2, 8, 5, 5, 6, 1, groups=2, bias=False)
    # torch refuses these
    add("err_reflect_too_wide", 1, 2, 2, 2, 2, 3, padding=2, mode="reflect", err=True)
    add("err_kernel_too_big", 1, 2, 3, 3, 2, 5, err=True)
    add("err_groups", 1, 6, 5, 5, 4, 3, groups=4, err=True)
    f.error("err_channels", {"stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1, "mode": "zeros"},
            {"x": f.randn(1, 3, 5, 5), "w": f.randn(4, 2, 3, 3)}, lambda x, w: F.conv2d(x, w))
    return f


def conv_transpose2d():
    f = Family("conv_transpose2d")

    def add(name, n, c, h, w, o, k, stride=1, padding=0, output_padding=0, groups=1, dilation=1, bias=True, err=False):
        x = f.randn(n, c, h, w)
        wt = f.randn(c, o // groups, k, k, scale=0.3)
        t = {"x": x, "w": wt}
        if bias:
            t["b"] = f.randn(o)
        p = dict(stride=_pair(stride), padding=_pair(padding), output_padding=_pair(output_padding), groups=groups,
                 dilation=_pair(dilation))
        fn = lambda x, w, b=None: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)
        (f.error if err else f.case)(name, p, t, fn)

    add("k2_s2", 1, 8, 5, 7, 4, 2, stride=2)
    add("k3_s2_p1_op1", 2, 5, 6, 5, 7, 3, stride=2, padding=1, output_padding=1, bias=False)
    add("k4_s2_p1", 1, 6, 4, 3, 6, 4, stride=2, padding=1)
    add("groups2_dil2", 1, 6, 5, 6, 4, 3, groups=2, dilation=2, padding=1)
    add("k1_image1x1", 1, 33, 1, 1, 17, 1)
    add("err_output_padding", 1, 2, 3, 3, 2, 3, stride=1, output_padding=1, err=True)
    return f


def linear_matmul():
    f = Family("linear")
    f.case("linear_2d", {}, {"x": f.randn(5, 37), "w": f.randn(19, 37), "b": f.randn(19)}, lambda x, w, b: F.linear(x, w, b))
    f.case("linear_3d_nobias", {}, {"x": f.randn(2, 7, 64), "w": f.randn(130, 64)}, lambda x, w: F.linear(x, w))
    f.case("linear_1d", {}, {"x": f.randn(37), "w": f.randn(11, 37), "b": f.randn(11)}, lambda x, w, b: F.linear(x, w, b))
    f.case("linear_wide", {}, {"x": f.randn(3, 515), "w": f.randn(97, 515, scale=0.05), "b": f.randn(97)},
           lambda x, w, b: F.linear(x, w, b))
    f.error("err_linear", {}, {"x": f.randn(2, 5), "w": f.randn(3, 6)}, lambda x, w: F.linear(x, w))

    def mm(name, ta=False, tb=False, err=False, **shapes):
        a, b = f.randn(*shapes["a"]), f.randn(*shapes["b"])
        fn = lambda a, b: torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b)
        (f.error if err else f.case)(name, {"transposeA": ta, "transposeB": tb}, {"a": a, "b": b}, fn)

    mm("mm_batched", a=(3, 17, 33), b=(3, 33, 9))
    mm("mm_broadcast", a=(2, 1, 5, 6), b=(3, 6, 4))
    mm("mm_transpose_b", tb=True, a=(2, 13, 24), b=(2, 11, 24))
    mm("mm_transpose_a", ta=True, a=(4, 21, 10), b=(4, 21, 7))
    mm("mm_big", a=(70, 150), b=(150, 53))
    mm("err_mm", a=(2, 3, 4), b=(2, 5, 6), err=True)
    return f


def attention():
    f = Family("attention")

    def sdpa(name, q, k, v, mask=None, causal=False, scale=None):
        t = {"q": q, "k": k, "v": v}
        if mask is not None:
            t["mask"] = mask
        p = {"causal": causal, "scale": scale}
        f.case(name, p, t, lambda q, k, v, mask=None: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=scale))

    sdpa("sdpa_cross", f.randn(2, 3, 17, 16), f.randn(2, 3, 23, 16), f.randn(2, 3, 23, 8))
    sdpa("sdpa_mask", f.randn(1, 2, 9, 12), f.randn(1, 2, 9, 12), f.randn(1, 2, 9, 12), mask=f.randn(9, 9))
    sdpa("sdpa_causal", f.randn(1, 4, 11, 8), f.randn(1, 4, 11, 8), f.randn(1, 4, 11, 8), causal=True)
    sdpa("sdpa_scale_3d", f.randn(5, 7, 10), f.randn(5, 13, 10), f.randn(5, 13, 6), scale=0.3)
    sdpa("sdpa_clip_like", f.randn(1, 4, 50, 32), f.randn(1, 4, 50, 32), f.randn(1, 4, 50, 32))

    for name, shape, heads in [("mdta_h3", (1, 12, 9, 11), 3), ("mdta_b2_h1", (2, 8, 5, 7), 1),
                               ("mdta_48ch", (1, 48, 16, 19), 1), ("mdta_1x1", (1, 6, 1, 1), 2)]:
        t = {"q": f.randn(*shape), "k": f.randn(*shape), "v": f.randn(*shape), "temperature": f.rand(heads, lo=0.5, hi=2.0)}
        f.case(name, {"heads": heads}, t, lambda q, k, v, temperature, heads=heads: mdta(q, k, v, temperature, heads))

    def win(name, shape, heads, window, shift, with_bias, layout):
        t = {"q": f.randn(*shape), "k": f.randn(*shape), "v": f.randn(*shape)}
        if with_bias:
            table = f.randn((2 * window - 1) ** 2, heads)
            t["table"] = table
            t["bias"] = swin_bias(table, window, heads)
        p = {"heads": heads, "window": window, "shift": shift, "layout": layout}
        f.case(name, p, t, lambda q, k, v, table=None, bias=None: swin(q, k, v, heads, window, shift, bias, layout))

    win("win_nchw_noshift", (1, 12, 8, 16), 3, 4, 0, True, "nchw")
    win("win_nchw_shift", (1, 12, 8, 12), 3, 4, 2, True, "nchw")
    win("win_nhwc_shift_nobias", (2, 8, 8, 6), 2, 4, 2, False, "nhwc")
    win("win_w7_shift3", (1, 8, 14, 14), 2, 7, 3, True, "nchw")
    return f


def normalization():
    f = Family("norm")
    f.case("ln_affine", {"eps": 1e-5}, {"x": f.randn(3, 7, 33), "w": f.randn(33), "b": f.randn(33)},
           lambda x, w, b: F.layer_norm(x, (33,), w, b, 1e-5))
    f.case("ln_noaffine_eps6", {"eps": 1e-6}, {"x": f.randn(4, 1024, scale=3) + 2}, lambda x: F.layer_norm(x, (1024,), None, None, 1e-6))
    f.case("ln_two_dims", {"eps": 1e-5}, {"x": f.randn(2, 5, 6), "w": f.randn(5, 6), "b": f.randn(5, 6)},
           lambda x, w, b: F.layer_norm(x, (5, 6), w, b, 1e-5))
    f.error("err_ln", {"eps": 1e-5}, {"x": f.randn(2, 5), "w": f.randn(6), "b": f.randn(6)}, lambda x, w, b: F.layer_norm(x, (6,), w, b))

    f.case("chln_withbias", {"eps": 1e-5, "variant": "withBias"}, {"x": f.randn(2, 48, 5, 7), "w": f.randn(48), "b": f.randn(48)}, restormer_ln)
    f.case("chln_biasfree", {"eps": 1e-5, "variant": "biasFree"}, {"x": f.randn(1, 20, 9, 3) + 1.5, "w": f.randn(20)},
           lambda x, w: restormer_ln(x, w, bias_free=True))
    f.case("chln_nafnet", {"eps": 1e-6, "variant": "withBias"}, {"x": f.randn(1, 64, 3, 17), "w": f.randn(64), "b": f.randn(64)}, nafnet_ln)
    f.case("chln_384_1x1", {"eps": 1e-5, "variant": "withBias"}, {"x": f.randn(1, 384, 1, 1), "w": f.randn(384), "b": f.randn(384)}, restormer_ln)
    f.case("gn_affine", {"groups": 8, "eps": 1e-6}, {"x": f.randn(2, 32, 5, 3), "w": f.randn(32), "b": f.randn(32)},
           lambda x, w, b: F.group_norm(x, 8, w, b, 1e-6))
    f.case("gn_3d_noaffine", {"groups": 3, "eps": 1e-5}, {"x": f.randn(1, 6, 7)}, lambda x: F.group_norm(x, 3, eps=1e-5))
    f.error("err_gn", {"groups": 4, "eps": 1e-5}, {"x": f.randn(1, 6, 7)}, lambda x: F.group_norm(x, 4))
    f.case("bn2d", {"eps": 1e-5}, {"x": f.randn(2, 5, 4, 3), "mean": f.randn(5), "var": f.rand(5, lo=0.2, hi=2), "w": f.randn(5), "b": f.randn(5)},
           lambda x, mean, var, w, b: F.batch_norm(x, mean, var, w, b, False, 0.1, 1e-5))
    f.case("bn1d", {"eps": 1e-5}, {"x": f.randn(4, 12), "mean": f.randn(12), "var": f.rand(12, lo=0.2, hi=2), "w": f.randn(12), "b": f.randn(12)},
           lambda x, mean, var, w, b: F.batch_norm(x, mean, var, w, b, False, 0.1, 1e-5))
    f.case("rms", {"eps": 1e-6}, {"x": f.randn(3, 64), "w": f.randn(64)},
           lambda x, w: x * torch.rsqrt(torch.mean(x ** 2, dim=-1, keepdim=True) + 1e-6) * w)
    for name, shape, dim in [("softmax_last", (3, 5, 37), -1), ("softmax_dim1", (2, 5, 7), 1), ("softmax_big", (2, 1000), -1)]:
        f.case(name, {"dim": dim}, {"x": f.randn(*shape, scale=4)}, lambda x, dim=dim: torch.softmax(x, dim))
    for name, shape, dim in [("l2_last", (3, 5, 9), -1), ("l2_dim1", (2, 6, 4), 1)]:
        f.case(name, {"dim": dim}, {"x": f.randn(*shape)}, lambda x, dim=dim: F.normalize(x, dim=dim))
    f.case("l2_zero_row", {"dim": -1}, {"x": torch.zeros(2, 5)}, lambda x: F.normalize(x, dim=-1))
    return f


def activation_cases(f, x, **gelu_options):
    """The single-input activations on x (gelu_options: e.g. a float64 pin for GELU)."""
    f.case("relu", {}, {"x": x}, lambda x: F.relu(x))
    f.case("gelu", {}, {"x": x}, lambda x: F.gelu(x), **gelu_options)
    f.case("gelu_tanh", {}, {"x": x}, lambda x: F.gelu(x, approximate="tanh"))
    f.case("quick_gelu", {}, {"x": x}, lambda x: x * torch.sigmoid(1.702 * x))
    f.case("silu", {}, {"x": x}, lambda x: F.silu(x))
    f.case("sigmoid", {}, {"x": x}, lambda x: torch.sigmoid(x))
    f.case("tanh", {}, {"x": x}, lambda x: torch.tanh(x))
    f.case("leaky_relu", {"slope": 0.1}, {"x": x}, lambda x: F.leaky_relu(x, 0.1))
    f.case("softplus", {"beta": 1.0, "threshold": 20.0}, {"x": x}, lambda x: F.softplus(x))
    f.case("softplus_beta2", {"beta": 2.0, "threshold": 5.0}, {"x": x}, lambda x: F.softplus(x, 2.0, 5.0))


def activations():
    f = Family("activations")
    x = torch.cat([torch.linspace(-30, 30, 241), f.randn(300, scale=3), torch.tensor([0.0, -0.0, 1e-6, -1e-6, 88.0, -88.0, 200.0, -200.0])])
    x = x.reshape(1, -1)
    activation_cases(f, x)
    g = f.randn(2, 10, 3, 5)
    f.case("gated_gelu", {"activation": "gelu", "dim": 1}, {"x": g}, lambda x: F.gelu(x.chunk(2, 1)[0]) * x.chunk(2, 1)[1])
    f.case("gated_none", {"activation": "none", "dim": 1}, {"x": g}, lambda x: x.chunk(2, 1)[0] * x.chunk(2, 1)[1])
    t = f.randn(3, 7, 8)
    f.case("gated_silu_last", {"activation": "silu", "dim": -1}, {"x": t}, lambda x: F.silu(x.chunk(2, -1)[0]) * x.chunk(2, -1)[1])
    return f


def shape_ops():
    f = Family("shape")
    f.case("pixel_shuffle2", {"r": 2}, {"x": f.randn(2, 12, 3, 5)}, lambda x: F.pixel_shuffle(x, 2))
    f.case("pixel_shuffle3", {"r": 3}, {"x": f.randn(1, 18, 2, 1)}, lambda x: F.pixel_shuffle(x, 3))
    f.case("pixel_unshuffle2", {"r": 2}, {"x": f.randn(1, 3, 6, 10)}, lambda x: F.pixel_unshuffle(x, 2))
    f.error("err_pixel_shuffle", {"r": 2}, {"x": f.randn(1, 6, 3, 3)}, lambda x: F.pixel_shuffle(x, 2))
    f.error("err_pixel_unshuffle", {"r": 2}, {"x": f.randn(1, 2, 5, 4)}, lambda x: F.pixel_unshuffle(x, 2))
    f.case("concat_dim1", {"dim": 1}, {"a": f.randn(2, 3, 4, 5), "b": f.randn(2, 1, 4, 5), "c": f.randn(2, 2, 4, 5)},
           lambda a, b, c: torch.cat([a, b, c], 1))
    f.case("concat_last", {"dim": -1}, {"a": f.randn(3, 2), "b": f.randn(3, 5), "c": f.randn(3, 1)}, lambda a, b, c: torch.cat([a, b, c], -1))
    x = f.randn(2, 7, 3, 4)
    f.case("split_dim1", {"dim": 1, "sizes": [2, 4, 1]}, {"x": x}, lambda x: torch.split(x, [2, 4, 1], 1))
    f.case("permute", {"dims": [0, 2, 3, 1]}, {"x": f.randn(2, 5, 3, 7)}, lambda x: x.permute(0, 2, 3, 1).contiguous())
    f.case("permute6", {"dims": [0, 1, 3, 5, 2, 4]}, {"x": f.randn(1, 2, 3, 2, 4, 2)}, lambda x: x.permute(0, 1, 3, 5, 2, 4).contiguous())
    f.case("repeat_interleave", {"r": 2, "dim": 1}, {"x": f.randn(1, 3, 2, 5)}, lambda x: torch.repeat_interleave(x, 2, 1))
    f.case("narrow", {"dim": 2, "start": 1, "length": 3}, {"x": f.randn(2, 3, 6, 4)}, lambda x: x[:, :, 1:4].contiguous())

    def pad(name, x, pads, mode, value=0.0, err=False):
        p = {"pads": pads, "mode": mode, "value": value}
        fn = lambda x: F.pad(x, pads, mode=mode, value=value) if mode == "constant" else F.pad(x, pads, mode=mode)
        (f.error if err else f.case)(name, p, {"x": x}, fn)

    pad("pad_reflect", f.randn(2, 3, 5, 7), [2, 1, 3, 4], "reflect")
    pad("pad_replicate", f.randn(1, 2, 3, 4), [3, 0, 1, 5], "replicate")
    pad("pad_circular", f.randn(1, 2, 4, 5), [2, 3, 1, 4], "circular")
    pad("pad_constant", f.randn(1, 2, 3, 4), [1, 2, 0, 3], "constant", 0.5)
    pad("pad_negative_crop", f.randn(1, 2, 6, 7), [-1, 2, -2, -1], "constant")
    pad("pad_reflect_1d", f.randn(2, 3, 8), [3, 2], "reflect")
    pad("pad_symunet_right_bottom", f.randn(1, 3, 50, 70), [0, 26, 0, 14], "reflect")
    pad("err_pad_reflect", f.randn(1, 1, 3, 3), [3, 3, 0, 0], "reflect", err=True)

    def ew(name, op, a, b, alpha=None):
        fns = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
        fn = (lambda a, b: torch.add(a, b, alpha=alpha)) if alpha is not None else (lambda a, b: fns[op](a, b))
        f.case(name, {"op": op, "alpha": alpha}, {"a": a, "b": b}, fn)

    ew("add_same", "add", f.randn(2, 3, 4, 5), f.randn(2, 3, 4, 5))
    ew("mul_channel", "mul", f.randn(2, 6, 3, 5), f.randn(1, 6, 1, 1))
    ew("sub_row", "sub", f.randn(3, 4, 5), f.randn(5))
    ew("div_col", "div", f.randn(3, 4, 5), f.rand(4, 1, lo=0.5, hi=2))
    ew("add_both_broadcast", "add", f.randn(3, 1, 5), f.randn(1, 4, 1))
    ew("add_scalar_tensor", "add", f.randn(2, 3), f.randn(1))
    ew("add_alpha", "add", f.randn(2, 5, 3), f.randn(5, 3), alpha=0.3)
    f.error("err_broadcast", {"op": "add", "alpha": None}, {"a": f.randn(2, 3), "b": f.randn(4)}, lambda a, b: torch.add(a, b))
    return f


def pooling():
    f = Family("pooling")

    def avg(name, x, k, s=None, p=0, ceil=False, cip=True, div=None, err=False):
        params = {"kernel": _pair(k), "stride": _pair(s) if s is not None else None, "padding": _pair(p), "ceil": ceil,
                  "countIncludePad": cip, "divisor": div}
        (f.error if err else f.case)(name, params, {"x": x}, lambda x: F.avg_pool2d(x, k, s, p, ceil, cip, div))

    avg("avg_k2", f.randn(1, 3, 8, 10), 2)
    avg("avg_k3_s2_p1", f.randn(2, 2, 9, 7), 3, 2, 1)
    avg("avg_k3_s2_p1_ceil_nopad", f.randn(1, 2, 10, 9), 3, 2, 1, True, False)
    avg("avg_k2_ceil_1x1", f.randn(1, 2, 1, 1), 2, 2, 0, True)
    avg("avg_divisor", f.randn(1, 1, 6, 6), 3, 1, 1, False, True, 4)
    avg("err_avg_pad", f.randn(1, 1, 6, 6), 2, 1, 2, err=True)
    for name, shape, size in [("adaptive_3x4", (1, 3, 10, 7), (3, 4)), ("adaptive_1", (2, 5, 9, 11), (1, 1)),
                              ("adaptive_up", (1, 2, 3, 2), (5, 4))]:
        f.case(name, {"size": list(size)}, {"x": f.randn(*shape)}, lambda x, size=size: F.adaptive_avg_pool2d(x, size))

    for name, shape, kernel in [("tlsc_local", (1, 4, 20, 17), (12, 12)), ("tlsc_global", (2, 3, 9, 9), (12, 12)),
                                ("tlsc_one_dim_larger", (1, 2, 30, 8), (12, 12)), ("tlsc_k1", (1, 2, 5, 6), (1, 1)),
                                ("tlsc_large_values", (1, 2, 40, 37), (24, 24))]:
        scale = 100.0 if "large" in name else 1.0
        f.case(name, {"kernel": list(kernel)}, {"x": f.randn(*shape, scale=scale) + scale}, lambda x, kernel=kernel: tlsc(x, kernel))
    return f


def interpolate():
    f = Family("interpolate")

    def add(name, x, mode, size=None, scale=None, ac=None, aa=False, err=False):
        p = {"mode": mode, "size": list(size) if size else None, "scale": list(scale) if scale else None,
             "alignCorners": ac, "antialias": aa}
        kw = {}
        if ac is not None:
            kw["align_corners"] = ac
        if aa:
            kw["antialias"] = True
        fn = lambda x: F.interpolate(x, size=size, scale_factor=scale, mode=mode, **kw)
        (f.error if err else f.case)(name, p, {"x": x}, fn)

    img = f.rand(1, 2, 7, 9)
    add("nearest_up2", img, "nearest", size=(14, 18))
    add("nearest_down", f.rand(1, 3, 11, 13), "nearest", size=(4, 5))
    add("nearest_scale1_5", img, "nearest", scale=(1.5, 1.5))
    add("nearest_exact", img, "nearest-exact", size=(10, 4))
    add("bilinear_up", img, "bilinear", size=(13, 20), ac=False)
    add("bilinear_up_ac", img, "bilinear", size=(13, 20), ac=True)
    add("bilinear_down", f.rand(2, 1, 15, 12), "bilinear", size=(6, 5), ac=False)
    add("bilinear_scale", img, "bilinear", scale=(2.5, 0.5), ac=False)
    add("bicubic_up", img, "bicubic", size=(15, 22), ac=False)
    add("bicubic_up_ac", img, "bicubic", size=(15, 22), ac=True)
    add("bicubic_down", f.rand(1, 2, 17, 19), "bicubic", size=(6, 7), ac=False)
    add("bicubic_aa_down", f.rand(1, 3, 37, 29), "bicubic", size=(16, 11), ac=False, aa=True)
    add("bicubic_aa_up", img, "bicubic", size=(12, 20), ac=False, aa=True)
    add("bicubic_aa_clip_like", f.rand(1, 3, 50, 70), "bicubic", size=(32, 44), ac=False, aa=True)
    add("bicubic_aa_one_axis", f.rand(1, 1, 10, 23), "bicubic", size=(10, 7), ac=False, aa=True)
    add("bicubic_aa_ac", f.rand(1, 1, 21, 18), "bicubic", size=(8, 9), ac=True, aa=True)
    add("bilinear_aa_down", f.rand(1, 2, 30, 25), "bilinear", size=(9, 11), ac=False, aa=True)
    add("bilinear_aa_scale", f.rand(1, 2, 30, 25), "bilinear", scale=(0.3, 0.45), ac=False, aa=True)
    add("area", f.rand(1, 2, 10, 9), "area", size=(4, 3))
    add("bilinear_1x1_to_3x4", f.rand(1, 2, 1, 1), "bilinear", size=(3, 4), ac=False)
    add("err_nearest_align", img, "nearest", size=(3, 3), ac=True, err=True)
    add("err_nearest_aa", img, "nearest", size=(3, 3), aa=True, err=True)
    return f


def fft():
    f = Family("fft")
    for name, shape, norm in [("rfft2_even", (2, 3, 8, 10), "backward"), ("rfft2_odd", (1, 2, 7, 9), "backward"),
                              ("rfft2_ortho", (1, 1, 12, 7), "ortho"), ("rfft2_forward", (3, 5, 6), "forward"),
                              ("rfft2_prime", (1, 1, 13, 11), "backward"), ("rfft2_1x1", (1, 2, 1, 1), "backward")]:
        f.case(name, {"norm": norm}, {"x": f.randn(*shape)}, lambda x, norm=norm: torch.view_as_real(torch.fft.rfft2(x, norm=norm)).contiguous())

    def inv(name, shape, s, norm="backward", herm=True):
        x = f.randn(*shape)
        X = torch.view_as_real(torch.fft.rfft2(x)).contiguous() if herm else f.randn(*shape[:-2], shape[-2], shape[-1] // 2 + 1, 2)
        f.case(name, {"size": list(s), "norm": norm}, {"x": X},
               lambda x, s=s, norm=norm: torch.fft.irfft2(torch.view_as_complex(x), s=s, norm=norm))

    inv("irfft2_roundtrip_even", (2, 3, 8, 10), (8, 10))
    inv("irfft2_roundtrip_odd", (1, 2, 7, 9), (7, 9))
    inv("irfft2_ortho", (1, 1, 6, 5), (6, 5), "ortho")
    inv("irfft2_nonhermitian", (1, 2, 5, 8), (5, 8), herm=False)
    inv("irfft2_cut_and_pad", (1, 1, 9, 12), (6, 15))

    def fusion(a, b):
        # AnyIR frequency fusion: irfft2(rfft2(a) + rfft2(b), s=(H, W)).
        return torch.fft.irfft2(torch.fft.rfft2(a) + torch.fft.rfft2(b), s=a.shape[-2:])

    f.case("anyir_fusion", {}, {"a": f.randn(1, 4, 9, 14), "b": f.randn(1, 4, 9, 14)}, fusion)
    return f


def embedding():
    f = Family("embedding")
    ts = torch.tensor([0.0, 1.0, 17.0, 500.0, 999.0])

    # The frequencies exp(...) go through exp in float64, rounded once to float32. torch's float32
    # exp (MKL VML here, SLEEF or libm elsewhere) is off by one ulp for a few of them, and the
    # sinusoids amplify that ulp by t (by 1000·t in the FLUX form), so torch's own answer depends on
    # the build; the runtime uses the correctly rounded frequency and these goldens pin that down.
    def cr_exp(x):
        return torch.exp(x.double()).float()

    def diffusers(t, dim, flip, shift, scale=1.0, max_period=10000):
        half = dim // 2
        exponent = -math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float32)
        exponent = exponent / (half - shift)
        emb = cr_exp(exponent)
        emb = t[:, None].float() * emb[None, :]
        emb = scale * emb
        emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
        if flip:
            emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
        if dim % 2 == 1:
            emb = F.pad(emb, (0, 1, 0, 0))
        return emb

    def flux(t, dim, max_period=10000, time_factor=1000.0):
        t = time_factor * t
        half = dim // 2
        freqs = cr_exp(-math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb

    f.case("sdxl_320", {"dim": 320, "flip": True, "shift": 0.0, "scale": 1.0, "timeFactor": 1.0}, {"t": ts},
           lambda t: diffusers(t, 320, True, 0))
    f.case("diffusers_default_odd", {"dim": 33, "flip": False, "shift": 1.0, "scale": 1.0, "timeFactor": 1.0}, {"t": ts},
           lambda t: diffusers(t, 33, False, 1))
    f.case("diffusers_scaled", {"dim": 16, "flip": False, "shift": 1.0, "scale": 2.0, "timeFactor": 1.0}, {"t": ts},
           lambda t: diffusers(t, 16, False, 1, 2.0))
    f.case("flux_256", {"dim": 256, "flip": True, "shift": 0.0, "scale": 1.0, "timeFactor": 1000.0}, {"t": ts},
           lambda t: flux(t, 256))
    return f


# ----------------------------------------------------------------------------------------------
# Degenerate inputs. NaN, inf and values at the edges of exp's range, placed at every vector lane.
NAN, INF = float("nan"), float("inf")
FLT_MAX = float(np.finfo(np.float32).max)
EDGES = [NAN, INF, -INF, FLT_MAX, -FLT_MAX, 1e30, -1e30, 88.7, -88.7, 88.73, 89.0, -89.0, 100.0, -100.0, -103.0,
         -104.5, 1e-40, -1e-40, 0.0, -0.0, 20.0, -20.0, 9.1, -9.1, 1.0, -1.0, 1e-7, 3.0, -3.0]


def edge_vector(length):
    """The edge values rotated so that each meets every lane position of 4, 8 and 16 wide vectors."""
    return torch.tensor([EDGES[(i * 7 + i // len(EDGES)) % len(EDGES)] for i in range(length)], dtype=torch.float32)


def sprinkle(t, gen, values, every=7):
    """t with values[j] written at every `every`-th element (a fixed pattern from gen)."""
    flat = t.clone().reshape(-1)
    idx = torch.randperm(flat.numel(), generator=gen)[: max(1, flat.numel() // every)]
    for j, i in enumerate(idx.tolist()):
        flat[i] = values[j % len(values)]
    return flat.reshape(t.shape)


GELU_PATHS = ("torch's float32 GELU differs by path: oneDNN's gives NaN at +inf and inf at FLT_MAX, ATen's and "
              "float64 give +inf and FLT_MAX (x·Φ(x) → x)")


def degenerate_activations():
    f = DegenerateFamily("activations")
    x = edge_vector(3 * len(EDGES) + 7).reshape(1, -1)
    activation_cases(f, x, pin64=GELU_PATHS)
    g = torch.cat([edge_vector(2 * 37).reshape(1, 2, 37), f.randn(1, 2, 37)], dim=1)  # act(edges) · random
    f.case("gated_gelu", {"activation": "gelu", "dim": 1}, {"x": g}, lambda x: F.gelu(x.chunk(2, 1)[0]) * x.chunk(2, 1)[1],
           pin64=GELU_PATHS)
    f.case("gated_none", {"activation": "none", "dim": 1}, {"x": g}, lambda x: x.chunk(2, 1)[0] * x.chunk(2, 1)[1])
    t = torch.cat([f.randn(3, 29), edge_vector(3 * 29).reshape(3, 29)], dim=-1)  # random · edges
    f.case("gated_silu_last", {"activation": "silu", "dim": -1}, {"x": t}, lambda x: F.silu(x.chunk(2, -1)[0]) * x.chunk(2, -1)[1])
    return f


MEAN_ROUNDING = ("torch's float32 mean of equal channels is off by its own rounding, which (x − μ)/√(σ² + ε) "
                 "multiplies by 1/√ε (4e-6 at 0.37, 1e31 at 1e36); float64 and the runtime (exact for equal "
                 "channels) give w·0 + b")
STATS_OVERFLOW = ("torch's float32 LayerNorm/GroupNorm form E[x²] − E[x]², which overflows at |x| ≳ 1e19 (NaN, or 0 "
                  "near 1e19); float64 gives the normalised values, as the runtime's double statistics do")


def degenerate_norm():
    f = DegenerateFamily("norm")
    gen = f.gen

    def rows(n):
        """Rows: constant 0.37, zeros, one NaN, one +inf, one -inf, random with 1e-40s, tiny (1e-30)."""
        r = [torch.full((n,), 0.37), torch.zeros(n), f.randn(n), f.randn(n), f.randn(n), f.randn(n), f.randn(n) * 1e-30]
        r[2][n // 3] = NAN
        r[3][n // 2] = INF
        r[4][1] = -INF
        r[5][::3] = 1e-40
        return torch.stack(r)

    x = rows(37)
    f.case("ln_degenerate_rows", {"eps": 1e-5}, {"x": x, "w": f.randn(37), "b": f.randn(37)}, lambda x, w, b: F.layer_norm(x, (37,), w, b, 1e-5))
    f.case("ln_constant_huge", {"eps": 1e-5}, {"x": torch.full((2, 40), 1e30), "w": f.randn(40), "b": f.randn(40)},
           lambda x, w, b: F.layer_norm(x, (40,), w, b, 1e-5), pin64=STATS_OVERFLOW)

    def pixels(c, hw):
        """[1, c, 1, hw]: per pixel, equal channels (0.37, 0, 3e4, 1e20, 1e36), one NaN channel, one inf
        channel, random."""
        cols = [torch.full((c,), v) for v in (0.37, 0.0, 3e4, -1e20, 1e36)]
        for _ in range(hw - len(cols)):
            cols.append(f.randn(c))
        t = torch.stack(cols, dim=1)
        t[c // 2, 5] = NAN
        t[1, 6] = INF
        t[2, 7] = -INF
        return t.reshape(1, c, 1, hw)

    for c in (48, 7):
        xp = pixels(c, 13)
        f.case(f"chln_biasfree_degenerate_{c}", {"eps": 1e-5, "variant": "biasFree"}, {"x": xp, "w": f.randn(c)},
               lambda x, w: restormer_ln(x, w, bias_free=True))
        f.case(f"chln_withbias_degenerate_{c}", {"eps": 1e-5, "variant": "withBias"}, {"x": xp, "w": f.randn(c), "b": f.randn(c)},
               restormer_ln, pin64=MEAN_ROUNDING)
        f.case(f"chln_nafnet_degenerate_{c}", {"eps": 1e-6, "variant": "withBias"}, {"x": xp, "w": f.randn(c), "b": f.randn(c)},
               nafnet_ln, pin64=MEAN_ROUNDING)
    g = torch.stack([torch.full((4, 5), 0.37), torch.zeros(4, 5), f.randn(4, 5), f.randn(4, 5)]).reshape(1, 16, 5)
    g[0, 9, 2] = NAN
    g[0, 13, 0] = INF
    f.case("gn_degenerate_groups", {"groups": 4, "eps": 1e-5}, {"x": g, "w": f.randn(16), "b": f.randn(16)},
           lambda x, w, b: F.group_norm(x, 4, w, b, 1e-5))
    f.case("gn_constant_huge", {"groups": 2, "eps": 1e-5}, {"x": torch.full((1, 4, 3, 3), -1e30)},
           lambda x: F.group_norm(x, 2, eps=1e-5), pin64=STATS_OVERFLOW)
    xb = sprinkle(f.randn(2, 5, 3, 3), gen, [NAN, INF, -INF, 1e30, 1e-40])
    f.case("bn2d_degenerate", {"eps": 1e-5}, {"x": xb, "mean": f.randn(5), "var": torch.tensor([0.0, 1.0, 0.0, 1e-30, 2.0]),
                                              "w": f.randn(5), "b": f.randn(5)},
           lambda x, mean, var, w, b: F.batch_norm(x, mean, var, w, b, False, 0.1, 1e-5))
    f.case("rms", {"eps": 1e-6}, {"x": rows(64), "w": f.randn(64)},
           lambda x, w: x * torch.rsqrt(torch.mean(x ** 2, dim=-1, keepdim=True) + 1e-6) * w)
    srows = torch.tensor([[1.0, INF, 0.0, 2.0, -1.0], [-INF] * 5, [1.0, NAN, 2.0, 3.0, 4.0], [3e38, -3e38, 0.0, 1.0, -1.0],
                          [88.0, 89.0, -1e30, 0.0, 1.0], [-INF, 5.0, -INF, 5.0, 0.0], [0.37] * 5, [INF, INF, 1.0, 0.0, 0.0],
                          [-FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX], [1e-40, 0.0, -0.0, 1e-45, 0.0]])
    f.case("softmax_degenerate_last", {"dim": -1}, {"x": srows.repeat(1, 4)}, lambda x: torch.softmax(x, -1))
    f.case("softmax_degenerate_dim0", {"dim": 0}, {"x": srows.t().contiguous()}, lambda x: torch.softmax(x, 0))
    lrows = torch.stack([torch.zeros(6), torch.tensor([NAN, 1, 2, 3, 4, 5.0]), torch.tensor([INF, 1, 2, 3, 4, 5.0]),
                         torch.full((6,), 1e20), torch.full((6,), 1e-30), torch.full((6,), 3e38), torch.full((6,), 0.37),
                         torch.tensor([1e-40, 0, 0, 0, 0, 0.0])])
    f.case("l2_degenerate_last", {"dim": -1}, {"x": lrows}, lambda x: F.normalize(x, dim=-1))
    f.case("l2_degenerate_dim0", {"dim": 0}, {"x": lrows.t().contiguous()}, lambda x: F.normalize(x, dim=0))
    return f


def degenerate_attention():
    f = DegenerateFamily("attention")
    gen = f.gen

    def sdpa(name, q, k, v, mask=None):
        t = {"q": q, "k": k, "v": v}
        if mask is not None:
            t["mask"] = mask
        # torch's own math form (its fused CPU kernels give 0, not NaN, for a fully masked row).
        def fn(q, k, v, mask=None):
            s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
            if mask is not None:
                s = s + mask
            return s.softmax(-1) @ v
        f.case(name, {"causal": False, "scale": None}, t, fn)

    q, k, v = f.randn(1, 2, 9, 8), f.randn(1, 2, 11, 8), f.randn(1, 2, 11, 8)
    q[0, 0, 3, 2] = NAN
    k[0, 1, 4, 0] = INF
    v[0, 0, 7, 5] = -INF
    sdpa("sdpa_nan_inf", q, k, v)
    mask = f.randn(9, 11)
    mask[2, :] = -INF
    mask[5, ::2] = -INF
    sdpa("sdpa_masked_rows", f.randn(1, 2, 9, 8), f.randn(1, 2, 11, 8), f.randn(1, 2, 11, 8), mask)
    c = torch.full((1, 1, 5, 4), 0.37)
    sdpa("sdpa_constant", c, c, f.randn(1, 1, 5, 4))
    big = f.rand(1, 1, 6, 8, lo=0.5, hi=1.0) * 1e20
    sdpa("sdpa_overflow", big, big, f.randn(1, 1, 6, 8))

    def mdta_case(name, q, k, v, heads):
        t = {"q": q, "k": k, "v": v, "temperature": f.rand(heads, lo=0.5, hi=2.0)}
        f.case(name, {"heads": heads}, t, lambda q, k, v, temperature, heads=heads: mdta(q, k, v, temperature, heads))

    shape = (1, 8, 5, 7)
    q, k = f.randn(*shape), f.randn(*shape)
    q[0, 1] = 0.0          # a zero-norm row of q
    k[0, 6] = 0.0          # and of k, in the other head
    q[0, 4] = 0.37         # constant rows
    k[0, 4] = 0.37
    mdta_case("mdta_zero_and_constant_rows", q, k, f.randn(*shape), 2)
    q, k, v = f.randn(*shape), f.randn(*shape), f.randn(*shape)
    q[0, 0, 2, 3] = NAN
    k[0, 5, 1, 1] = INF
    v[0, 2, 4, 6] = -INF
    mdta_case("mdta_nan_inf", q, k, v, 2)
    q, k = f.randn(*shape), f.randn(*shape)
    q[0, 2] = q[0, 2] * 1e20    # ‖q‖ past the float range: float32 F.normalize gives 0 (x / inf)
    k[0, 3] = k[0, 3] * 1e19
    q[0, 5] = q[0, 5] * 1e-30   # below eps: q / 1e-12
    mdta_case("mdta_huge_and_tiny_rows", q, k, f.randn(*shape), 2)

    qw, kw, vw = f.randn(1, 8, 8, 8), f.randn(1, 8, 8, 8), f.randn(1, 8, 8, 8)
    qw[0, 3, 1, 2] = NAN
    vw[0, 0, 6, 6] = INF
    table = f.randn(49, 2)
    f.case("win_nan_inf", {"heads": 2, "window": 4, "shift": 2, "layout": "nchw"},
           {"q": qw, "k": kw, "v": vw, "table": table, "bias": swin_bias(table, 4, 2)},
           lambda q, k, v, table=None, bias=None: swin(q, k, v, 2, 4, 2, bias, "nchw"))
    return f


def degenerate_linear():
    f = DegenerateFamily("linear")
    gen = f.gen
    x = sprinkle(f.randn(6, 33), gen, [NAN, INF, -INF, 1e30, 1e-40, 0.0], every=9)
    f.case("linear_nan_inf", {}, {"x": x, "w": f.randn(17, 33), "b": f.randn(17)}, lambda x, w, b: F.linear(x, w, b))
    w = f.randn(9, 20)
    w[2] = 0.0             # inf · 0 = NaN in that output feature
    w[5, 3] = NAN
    xi = f.randn(4, 20)
    xi[1, 7] = INF
    f.case("linear_zero_and_nan_weights", {}, {"x": xi, "w": w}, lambda x, w: F.linear(x, w))
    f.case("linear_constant", {}, {"x": torch.full((3, 16), 0.37), "w": torch.full((5, 16), 0.01), "b": torch.zeros(5)},
           lambda x, w, b: F.linear(x, w, b))
    a, b = f.rand(3, 7, 18, lo=0.5, hi=1.0) * 1e20, f.rand(3, 18, 5, lo=0.5, hi=1.0) * 1e20
    a[1] = a[1] * 1e-20
    f.case("mm_overflow", {"transposeA": False, "transposeB": False}, {"a": a, "b": b}, lambda a, b: a @ b)
    a, b = sprinkle(f.randn(2, 9, 13), gen, [NAN, INF, -INF]), f.randn(2, 11, 13)
    f.case("mm_nan_inf_tb", {"transposeA": False, "transposeB": True}, {"a": a, "b": b}, lambda a, b: a @ b.transpose(-1, -2))
    return f


def degenerate_conv2d():
    f = DegenerateFamily("conv2d")
    gen = f.gen

    def add(name, x, w, b=None, stride=1, padding=0, dilation=1, groups=1, mode="zeros"):
        p = dict(stride=_pair(stride), padding=_pair(padding), dilation=_pair(dilation), groups=groups, mode=mode)
        o, _, kh, kw = w.shape
        c = x.shape[1]

        def fn(x, w, b=None):
            m = torch.nn.Conv2d(c, o, (kh, kw), stride=stride, padding=padding, dilation=dilation, groups=groups,
                                bias=b is not None, padding_mode=mode).to(x.dtype)
            m.weight.copy_(w)
            if b is not None:
                m.bias.copy_(b)
            return m(x)

        t = {"x": x, "w": w}
        if b is not None:
            t["b"] = b
        f.case(name, p, t, fn)

    x = f.randn(1, 5, 11, 13)
    x[0, 1, 4, 6] = NAN    # NaN spreads to its 3x3 neighbourhood in every output channel
    x[0, 3, 0, 0] = INF    # inf: ±inf by each weight's sign, at the corner (zero padding)
    x[0, 2, 9, 2] = -INF
    add("k3_nan_inf", x, f.randn(6, 5, 3, 3, scale=0.3), f.randn(6), padding=1)
    add("k3_nan_inf_reflect", x, f.randn(4, 5, 3, 3, scale=0.3), padding=1, mode="reflect")
    w = f.randn(4, 5, 1, 1)
    w[1, 3] = 0.0           # inf · 0 = NaN
    add("k1_nan_inf_zero_weight", x, w, f.randn(4))
    add("dw3_nan_inf", x, f.randn(5, 1, 3, 3), f.randn(5), padding=1, groups=5)
    add("k3_constant", torch.full((1, 4, 6, 7), 0.37), torch.full((3, 4, 3, 3), 0.01), torch.zeros(3), padding=1)
    big = f.rand(1, 3, 5, 6, lo=0.5, hi=1.0) * 1e20
    add("k3_overflow", big, f.rand(2, 3, 3, 3, lo=0.5, hi=1.0) * 1e20, padding=1)
    # Wide rows: the kernel reads the input in place; NaN in one row of a 2-band image.
    xw = f.randn(1, 1, 41, 101)
    xw[0, 0, 20, 70] = NAN
    xw[0, 0, 40, 100] = INF
    add("k3_bands_nan_inf", xw, f.randn(2, 1, 3, 3, scale=0.3), f.randn(2), padding=1)
    return f


def degenerate_conv_transpose2d():
    f = DegenerateFamily("conv_transpose2d")
    x = f.randn(1, 4, 5, 6)
    x[0, 1, 2, 3] = NAN
    x[0, 2, 0, 5] = INF
    w = f.randn(4, 3, 3, 3, scale=0.3)
    w[3, 1] = 0.0
    x[0, 3, 4, 0] = -INF  # meets a zero weight slice: NaN in output channel 1 only
    p = dict(stride=[2, 2], padding=[1, 1], output_padding=[1, 1], groups=1, dilation=[1, 1])
    f.case("k3_s2_nan_inf", p, {"x": x, "w": w, "b": f.randn(3)}, lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1))
    return f


def degenerate_pooling():
    f = DegenerateFamily("pooling")
    gen = f.gen
    x = sprinkle(f.randn(1, 2, 12, 11), gen, [NAN, INF, -INF, 1e30], every=23)
    f.case("avg_k3_s2_p1_nan_inf", {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "ceil": False,
                                    "countIncludePad": True, "divisor": None}, {"x": x}, lambda x: F.avg_pool2d(x, 3, 2, 1))
    f.case("adaptive_nan_inf", {"size": [3, 4]}, {"x": x}, lambda x: F.adaptive_avg_pool2d(x, (3, 4)))
    f.case("tlsc_local_nan_inf", {"kernel": [4, 5]}, {"x": x}, lambda x: tlsc(x, (4, 5)))
    f.case("tlsc_global_nan", {"kernel": [12, 12]}, {"x": x}, lambda x: tlsc(x, (12, 12)))
    f.case("tlsc_constant", {"kernel": [4, 4]}, {"x": torch.full((1, 1, 9, 9), 0.37)}, lambda x: tlsc(x, (4, 4)))
    return f


def degenerate_interpolate():
    f = DegenerateFamily("interpolate")
    gen = f.gen
    x = torch.rand(1, 2, 7, 9, generator=gen)
    x[0, 0, 3, 4] = NAN
    x[0, 1, 1, 1] = INF
    x[0, 1, 5, 7] = -INF

    def add(name, mode, size, ac=None, aa=False):
        p = {"mode": mode, "size": list(size), "scale": None, "alignCorners": ac, "antialias": aa}
        kw = {} if ac is None else {"align_corners": ac}
        if aa:
            kw["antialias"] = True
        f.case(name, p, {"x": x}, lambda x: F.interpolate(x, size=size, mode=mode, **kw))

    add("nearest_nan_inf", "nearest", (14, 18))
    add("bilinear_nan_inf", "bilinear", (13, 20), ac=False)
    add("bilinear_ac_nan_inf", "bilinear", (13, 17), ac=True)
    add("bicubic_nan_inf", "bicubic", (15, 22), ac=False)
    add("bicubic_aa_down_nan_inf", "bicubic", (4, 5), ac=False, aa=True)
    add("area_nan_inf", "area", (3, 4))
    return f


def degenerate_fft():
    f = DegenerateFamily("fft")
    x = f.randn(1, 3, 6, 7)
    x[0, 0, 2, 3] = NAN
    x[0, 1, 0, 0] = INF
    f.case("rfft2_nan_inf", {"norm": "backward"}, {"x": x}, lambda x: torch.view_as_real(torch.fft.rfft2(x)).contiguous())
    f.case("rfft2_constant", {"norm": "ortho"}, {"x": torch.full((1, 1, 5, 6), 0.37)},
           lambda x: torch.view_as_real(torch.fft.rfft2(x, norm="ortho")).contiguous())
    X = torch.view_as_real(torch.fft.rfft2(f.randn(1, 2, 6, 8))).contiguous()
    X[0, 0, 1, 2, 0] = NAN
    f.case("irfft2_nan", {"size": [6, 8], "norm": "backward"}, {"x": X},
           lambda x: torch.fft.irfft2(torch.view_as_complex(x), s=(6, 8)))
    return f


def degenerate_shape():
    f = DegenerateFamily("shape")
    gen = f.gen
    x = sprinkle(f.randn(1, 2, 4, 5), gen, [NAN, INF, -INF])
    f.case("pad_reflect_nan_inf", {"pads": [2, 1, 1, 2], "mode": "reflect", "value": 0.0}, {"x": x},
           lambda x: F.pad(x, [2, 1, 1, 2], mode="reflect"))
    f.case("pad_constant_nan_inf", {"pads": [1, 1, 0, 1], "mode": "constant", "value": -2.5}, {"x": x},
           lambda x: F.pad(x, [1, 1, 0, 1], value=-2.5))
    a = torch.tensor([INF, -INF, INF, NAN, 0.0, 1.0, -0.0, FLT_MAX, 1e-40, 0.0])
    b = torch.tensor([INF, -INF, -INF, 1.0, 0.0, 0.0, 0.0, FLT_MAX, 1e-40, INF])
    for op, fn in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div)]:
        f.case(f"{op}_edges", {"op": op, "alpha": None}, {"a": a, "b": b}, lambda a, b, fn=fn: fn(a, b))
    return f


def write_safetensors(tensors, path, metadata):
    """safetensors with keys in sorted order, so that regenerating gives byte-identical files
    (the library's writer orders its header through a hash map)."""
    header = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def _pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


FAMILIES = (conv2d, conv_transpose2d, linear_matmul, attention, normalization, activations, shape_ops, pooling,
            interpolate, fft, embedding, degenerate_activations, degenerate_norm, degenerate_attention, degenerate_linear,
            degenerate_conv2d, degenerate_conv_transpose2d, degenerate_pooling, degenerate_interpolate, degenerate_fft, degenerate_shape)


def main():
    only = set(sys.argv[1:])
    total = 0
    for make in FAMILIES:
        if only and make.__name__ not in only:
            continue
        total += make().save()
    print(f"total {total / 1024:.1f} KiB")
    if total > 3 * 1024 * 1024:
        sys.exit("op fixtures exceed 3 MB")


if __name__ == "__main__":
    main()
