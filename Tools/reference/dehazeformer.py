"""Our own PyTorch DehazeFormer (arXiv 2204.03883), written from shared/architectures/unirestorer.md
section 3.3 and checked against the semantics of the copy UniRestorer ships
(github.com/mrluin/UniRestorer `basicsr/models/archs/dehazeformer_arch.py` at 88b933c).

The state_dict keys, shapes and order are exactly upstream's: DehazeFormer-L (the UniRestorer
expert) has 1,004 keys and 25,451,652 parameters plus 24 `relative_positions` buffers
(Tools/check_expert_reference_keys.py checks both).

Forward, as upstream computes it:
    x = reflect-pad right/bottom to a multiple of 4
    f = patch_embed (3x3, reflect) -> layer1 -> [skip1] patch_merge1 (2x2/2) -> layer2 -> [skip2]
        patch_merge2 -> layer3 -> patch_split1 (1x1 + PixelShuffle 2) -> SKFusion(., skip2(.)) + .
        -> layer4 -> patch_split2 -> SKFusion(., skip1(.)) + . -> layer5 -> patch_unembed (3x3, reflect)
    K, B = f[:, :1], f[:, 1:];  y = K * x - B + x, cropped back
A block (conv_type 'Conv'; `mlp_norm` False):
    attention block:  xn, rescale, rebias = RLN(x)
                      y = proj(conv(V(xn)) + windowattn(QK(xn), V(xn))) * rescale + rebias;  x = x + y
    other block:      x = x + conv(x)              (conv = 3x3 reflect -> ReLU -> 3x3 reflect)
    both:             x = x + mlp(x)               (1x1 -> ReLU -> 1x1)
Window attention: window w; odd blocks shift by w/2 by REFLECT padding (left/top `shift`, right/bottom
up to a window multiple), even blocks reflect-pad right/bottom to a window multiple; the relative
position bias is meta(relative_positions), an MLP over log-spaced offsets.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LARGE = dict(embed_dims=(48, 96, 192, 96, 48), mlp_ratios=(2.0, 4.0, 4.0, 2.0, 2.0), depths=(16, 16, 16, 12, 12),
             num_heads=(2, 4, 6, 1, 1), attn_ratio=(1 / 4, 1 / 2, 3 / 4, 0, 0), window_size=8)


def log_relative_positions(window):
    """[w², w², 2]: sign(d)·log(1 + |d|) of the (row, column) offset between every two window tokens."""
    ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()])  # [2, w²]
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).float()
    return torch.sign(rel) * torch.log(1.0 + rel.abs())  # not log1p: upstream's exact float values


class RLN(nn.Module):
    """Revised LayerNorm: statistics over (C, H, W) per sample; also returns the rescale/rebias
    that the block applies after its token mixer."""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, dim, 1, 1))
        self.meta1 = nn.Conv2d(1, dim, 1)
        self.meta2 = nn.Conv2d(1, dim, 1)

    def forward(self, x):
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = torch.sqrt((x - mean).pow(2).mean(dim=(1, 2, 3), keepdim=True) + self.eps)
        return (x - mean) / std * self.weight + self.bias, self.meta1(std), self.meta2(mean)


class WindowAttention(nn.Module):
    def __init__(self, dim, window, heads):
        super().__init__()
        self.dim, self.window, self.heads = dim, window, heads
        self.scale = (dim // heads) ** -0.5
        self.register_buffer("relative_positions", log_relative_positions(window))
        self.meta = nn.Sequential(nn.Linear(2, 256), nn.ReLU(True), nn.Linear(256, heads))

    def forward(self, qkv):  # [windows, w², 3·dim]
        nw, n, _ = qkv.shape
        qkv = qkv.reshape(nw, n, 3, self.heads, self.dim // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        bias = self.meta(self.relative_positions).permute(2, 0, 1)  # [heads, w², w²]
        attn = torch.softmax(q @ k.transpose(-2, -1) + bias.unsqueeze(0), dim=-1)
        return (attn @ v).transpose(1, 2).reshape(nw, n, self.dim)


class TokenMixer(nn.Module):
    """Upstream `Attention` with conv_type 'Conv': a conv branch, plus window attention in attention blocks."""

    def __init__(self, dim, heads, window, shift, use_attn):
        super().__init__()
        self.dim, self.window, self.shift, self.use_attn = dim, window, shift, use_attn
        self.conv = nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1, padding_mode="reflect"), nn.ReLU(True),
                                  nn.Conv2d(dim, dim, 3, padding=1, padding_mode="reflect"))
        if use_attn:
            self.V = nn.Conv2d(dim, dim, 1)
            self.proj = nn.Conv2d(dim, dim, 1)
            self.QK = nn.Conv2d(dim, dim * 2, 1)
            self.attn = WindowAttention(dim, window, heads)

    def pad_to_windows(self, x):
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.window, (-w) % self.window
        if self.shift > 0:
            s = self.shift
            return F.pad(x, (s, (self.window - s + pw) % self.window, s, (self.window - s + ph) % self.window),
                         mode="reflect")
        return F.pad(x, (0, pw, 0, ph), mode="reflect")

    def forward(self, x):
        if not self.use_attn:
            return self.conv(x)
        b, c, h, w = x.shape
        v = self.V(x)
        qkv = self.pad_to_windows(torch.cat([self.QK(x), v], dim=1))
        ht, wt = qkv.shape[-2:]
        ws = self.window
        tokens = qkv.permute(0, 2, 3, 1).reshape(b, ht // ws, ws, wt // ws, ws, 3 * c)
        tokens = tokens.permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, 3 * c)
        out = self.attn(tokens).reshape(b, ht // ws, wt // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        out = out.reshape(b, ht, wt, c)[:, self.shift:self.shift + h, self.shift:self.shift + w, :]
        return self.proj(self.conv(v) + out.permute(0, 3, 1, 2))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.mlp = nn.Sequential(nn.Conv2d(dim, hidden, 1), nn.ReLU(True), nn.Conv2d(hidden, dim, 1))

    def forward(self, x):
        return self.mlp(x)


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, window, shift, use_attn):
        super().__init__()
        self.use_attn = use_attn
        self.norm1 = RLN(dim) if use_attn else nn.Identity()
        self.attn = TokenMixer(dim, heads, window, shift, use_attn)
        self.norm2 = nn.Identity()  # mlp_norm is False in every published config
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        if self.use_attn:
            y, rescale, rebias = self.norm1(x)
            x = x + self.attn(y) * rescale + rebias
        else:
            x = x + self.attn(x)
        return x + self.mlp(x)


def attention_blocks(depth, ratio):
    """Which blocks of a layer attend (upstream attn_loc 'last'): i >= depth - ratio·depth."""
    return [i >= depth - ratio * depth for i in range(depth)]


class BasicLayer(nn.Module):
    def __init__(self, dim, depth, heads, mlp_ratio, window, attn_ratio):
        super().__init__()
        use = attention_blocks(depth, attn_ratio)
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio, window, 0 if i % 2 == 0 else window // 2, use[i])
                                     for i in range(depth)])

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return x


class PatchEmbed(nn.Module):
    def __init__(self, patch, cin, cout, kernel=None):
        super().__init__()
        kernel = kernel or patch
        self.proj = nn.Conv2d(cin, cout, kernel, stride=patch, padding=(kernel - patch + 1) // 2, padding_mode="reflect")

    def forward(self, x):
        return self.proj(x)


class PatchUnEmbed(nn.Module):
    def __init__(self, patch, cout, cin, kernel=None):
        super().__init__()
        kernel = kernel or 1
        self.proj = nn.Sequential(nn.Conv2d(cin, cout * patch ** 2, kernel, padding=kernel // 2, padding_mode="reflect"),
                                  nn.PixelShuffle(patch))

    def forward(self, x):
        return self.proj(x)


class SKFusion(nn.Module):
    """Selective-kernel fusion of two branches: softmax over the branches of an MLP of the pooled sum."""

    def __init__(self, dim, height=2, reduction=8):
        super().__init__()
        self.height = height
        d = max(int(dim / reduction), 4)
        self.mlp = nn.Sequential(nn.Conv2d(dim, d, 1, bias=False), nn.ReLU(), nn.Conv2d(d, dim * height, 1, bias=False))

    def forward(self, feats):
        b, c, h, w = feats[0].shape
        stacked = torch.stack(feats, dim=1)
        attn = self.mlp(stacked.sum(dim=1).mean(dim=(2, 3), keepdim=True))
        attn = torch.softmax(attn.view(b, self.height, c, 1, 1), dim=1)
        return (stacked * attn).sum(dim=1)


class DehazeFormer(nn.Module):
    def __init__(self, embed_dims, mlp_ratios, depths, num_heads, attn_ratio, window_size=8, in_chans=3, out_chans=4):
        super().__init__()
        e, ws = embed_dims, window_size
        self.patch_size = 4

        def layer(i):
            return BasicLayer(e[i], depths[i], num_heads[i], mlp_ratios[i], ws, attn_ratio[i])

        self.patch_embed = PatchEmbed(1, in_chans, e[0], kernel=3)
        self.layer1 = layer(0)
        self.patch_merge1 = PatchEmbed(2, e[0], e[1])
        self.skip1 = nn.Conv2d(e[0], e[0], 1)
        self.layer2 = layer(1)
        self.patch_merge2 = PatchEmbed(2, e[1], e[2])
        self.skip2 = nn.Conv2d(e[1], e[1], 1)
        self.layer3 = layer(2)
        self.patch_split1 = PatchUnEmbed(2, e[3], e[2])
        self.fusion1 = SKFusion(e[3])
        self.layer4 = layer(3)
        self.patch_split2 = PatchUnEmbed(2, e[4], e[3])
        self.fusion2 = SKFusion(e[4])
        self.layer5 = layer(4)
        self.patch_unembed = PatchUnEmbed(1, out_chans, e[4], kernel=3)

    def forward(self, x):
        h, w = x.shape[-2:]
        x = F.pad(x, (0, (-w) % self.patch_size, 0, (-h) % self.patch_size), mode="reflect")
        f = self.layer1(self.patch_embed(x))
        skip1 = f
        f = self.layer2(self.patch_merge1(f))
        skip2 = f
        f = self.patch_split1(self.layer3(self.patch_merge2(f)))
        f = self.fusion1([f, self.skip2(skip2)]) + f
        f = self.patch_split2(self.layer4(f))
        f = self.fusion2([f, self.skip1(skip1)]) + f
        f = self.patch_unembed(self.layer5(f))
        k, b = torch.split(f, (1, 3), dim=1)
        return (k * x - b + x)[:, :, :h, :w]


def dehazeformer_l():
    return DehazeFormer(**LARGE)
