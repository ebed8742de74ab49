"""Our own PyTorch RRDBNet (ESRGAN, ECCV-W 2018; Real-ESRGAN, ICCV-W 2021), written from
github.com/XPixelGroup/BasicSR `basicsr/archs/rrdbnet_arch.py` @8d56e3a and the old ESRGAN
layout as spandrel reads it (github.com/chaiNNer-org/spandrel `architectures/ESRGAN` @b0c3eb2).

State_dict keys are BasicSR's (conv_first, body.N.rdbK.convJ, conv_body, conv_up1, conv_up2,
conv_hr, conv_last). One generalisation, the one spandrel's old-arch network has: the number of
nearest-2x + conv + LeakyReLU upsampling stages is log2(scale * shuffle_factor), so old ESRGAN
1x (no upsampling) and 8x (conv_up3) models are the same module. BasicSR's own x4/x2/x1 are
shuffle_factor 1/2/4 with two upsampling stages.

Behaviour reproduced:
- pixel-unshuffle input (Real-ESRGAN x2/x1): the image is first reflect-padded right/bottom to a
  multiple of the factor (RealESRGANer.pre_process's mod pad; spandrel pads the same way) and the
  output cropped back to scale * (H, W);
- RDB: five 3x3 convs on the dense concatenation, LeakyReLU(0.2) after the first four,
  x5 * 0.2 + x; RRDB: three RDBs, out * 0.2 + x; feat + conv_body(body(feat)).

`old_keys(state)` renames a state_dict into the original ESRGAN's `model.N` names and
`esrgan2019_keys(state)` into xinntao/ESRGAN's RRDB_trunk names, for the layout fixtures.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Real-ESRGAN's released RRDBNet models (inference_realesrgan.py @a4abfb2) and ESRGAN's.
PUBLISHED = {
    "RealESRGAN_x4plus": dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32),
    "RealESRNet_x4plus": dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32),
    "RealESRGAN_x4plus_anime_6B": dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=6, num_grow_ch=32),
    "RealESRGAN_x2plus": dict(num_in_ch=3, num_out_ch=3, scale=2, num_feat=64, num_block=23, num_grow_ch=32),
    "RRDB_ESRGAN_x4": dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32),
}


def default_shuffle(scale):
    """BasicSR's rule: x2 unshuffles by 2, x1 by 4, x4 not at all."""
    return {1: 4, 2: 2}.get(scale, 1)


class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat, num_grow_ch):
        super().__init__()
        g = num_grow_ch
        for i in range(1, 5):
            setattr(self, f"conv{i}", nn.Conv2d(num_feat + (i - 1) * g, g, 3, 1, 1))
        self.conv5 = nn.Conv2d(num_feat + 4 * g, num_feat, 3, 1, 1)

    def forward(self, x):
        feats = [x]
        for i in range(1, 5):
            feats.append(F.leaky_relu(getattr(self, f"conv{i}")(torch.cat(feats, 1)), 0.2))
        return self.conv5(torch.cat(feats, 1)) * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, num_feat, num_grow_ch):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32, shuffle_factor=None):
        super().__init__()
        self.scale = scale
        self.shuffle = default_shuffle(scale) if shuffle_factor is None else shuffle_factor
        self.ups = int(round(math.log2(scale * self.shuffle)))
        assert 2 ** self.ups == scale * self.shuffle
        self.conv_first = nn.Conv2d(num_in_ch * self.shuffle ** 2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        for i in range(1, self.ups + 1):
            setattr(self, f"conv_up{i}", nn.Conv2d(num_feat, num_feat, 3, 1, 1))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x):
        h, w = x.shape[2:]
        s = self.shuffle
        if s > 1:
            x = F.pad(x, (0, (s - w % s) % s, 0, (s - h % s) % s), mode="reflect")
            x = F.pixel_unshuffle(x, s)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for i in range(1, self.ups + 1):
            feat = F.leaky_relu(getattr(self, f"conv_up{i}")(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        out = self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))
        return out[:, :, : h * self.scale, : w * self.scale]


def _split(k):
    return k.rsplit(".", 1)


def old_keys(state, ups):
    """BasicSR names -> the original ESRGAN's `model.N` (spandrel's old arch): model.0 first conv,
    model.1.sub.N.RDBk.convj.0 the blocks, model.1.sub.<nb> conv_body, model.3k the k-th up conv,
    model.3u+2 the HR conv, model.3u+4 the last conv."""
    nb = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("body."))
    out = {}
    for k, v in state.items():
        base, leaf = _split(k)
        if k.startswith("body."):
            _, n, rdb, conv = base.split(".")
            out[f"model.1.sub.{n}.RDB{rdb[3:]}.{conv}.0.{leaf}"] = v
        elif base == "conv_first":
            out[f"model.0.{leaf}"] = v
        elif base == "conv_body":
            out[f"model.1.sub.{nb}.{leaf}"] = v
        elif base.startswith("conv_up"):
            out[f"model.{3 * int(base[7:])}.{leaf}"] = v
        elif base == "conv_hr":
            out[f"model.{3 * ups + 2}.{leaf}"] = v
        elif base == "conv_last":
            out[f"model.{3 * ups + 4}.{leaf}"] = v
        else:
            raise KeyError(k)
    return out


def esrgan2019_keys(state):
    """BasicSR names -> xinntao/ESRGAN's RRDBNet_arch.py (2019): RRDB_trunk.N.RDBk.convj,
    trunk_conv, upconvK, HRconv (conv_first and conv_last unchanged)."""
    out = {}
    for k, v in state.items():
        base, leaf = _split(k)
        if k.startswith("body."):
            _, n, rdb, conv = base.split(".")
            out[f"RRDB_trunk.{n}.RDB{rdb[3:]}.{conv}.{leaf}"] = v
        elif base == "conv_body":
            out[f"trunk_conv.{leaf}"] = v
        elif base.startswith("conv_up"):
            out[f"upconv{base[7:]}.{leaf}"] = v
        elif base == "conv_hr":
            out[f"HRconv.{leaf}"] = v
        else:
            out[k] = v
    return out


def parameter_count(net):
    return sum(p.numel() for p in net.parameters())
