"""Our own PyTorch AnyIR (arXiv 2504.14249, github.com/Amazingren/AnyIR `net/anyir.py`), written
from shared/architectures/anyir.md. Where the paper and upstream code disagree, this follows the
code (section 2.6): BatchNorm in GatedDA, a sigmoid gate, the (γ, β, α) = (C', C', hidden − 2C')
split, MDTA with a learned temperature, the extra `reduce_dim_level3` 1x1 conv.

The state_dict keys, shapes and order are exactly upstream's: AnyIR-T (dim 28, [3,5,5,7]) has
825 keys and 5,736,376 parameters, AnyIR-S (dim 32, [4,6,6,8]) 979 keys and 8,513,436
parameters; Tools/check_anyir_reference_keys.py checks both against the published lists.

A DAB (upstream `TransformerBlock`) on C channels, C' = C/2:
    y = norm1(x); a = y[:, 0::2]; g = y[:, 1::2]            (skip-split: even / odd channels)
    A = MDTA(a)  on C' channels;  G = GatedDA(g)
    Fs = cat[A + sigmoid(G), G + sigmoid(A)]                (sigmoid cross exchange)
    Ff = repeat_interleave(irfft2(rfft2(A) + rfft2(G)), 2)  (frequency branch; equals A + G)
    x = x + project_out(lam * Fs + (1 - lam) * Ff)
    x = x + ffn(norm2(x))
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from promptir import GDFN, Downsample, LayerNorm, OverlapPatchEmbed, Upsample, channel_attention, stack

TINY = dict(dim=28, num_blocks=(3, 5, 5, 7), num_refinement_blocks=4, heads=(1, 2, 4, 8), ffn_expansion_factor=2)
SMALL = dict(dim=32, num_blocks=(4, 6, 6, 8), num_refinement_blocks=4, heads=(1, 2, 4, 8), ffn_expansion_factor=2)


class GatedDegradationAdaption(nn.Module):
    """GatedDA on C' channels: BatchNorm, instance statistics -> a temperature on the α branch,
    a 7x7 depthwise conv on α, a sigmoid(γ) gate over W_gate([β, α']), residual, W_proj."""

    def __init__(self, dim, expansion_ratio=8 / 3, kernel_size=7):
        super().__init__()
        hidden = int(round(expansion_ratio * dim))
        self.split_sizes = (dim, dim, hidden - 2 * dim)  # γ, β, α
        alpha = self.split_sizes[2]
        self.tau = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.norm = nn.BatchNorm2d(dim)
        self.W_exp = nn.Conv2d(dim, hidden, 1, bias=False)
        self.W_depth = nn.Conv2d(alpha, alpha, kernel_size, padding=kernel_size // 2, groups=alpha, bias=False)
        self.W_gate = nn.Conv2d(dim + alpha, dim, 1, bias=False)
        self.W_proj = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x):
        dim, alpha = self.split_sizes[0], self.split_sizes[2]
        y = self.norm(x)
        mean = y.mean(dim=(2, 3), keepdim=True)
        var = ((y - mean) ** 2).mean(dim=(2, 3), keepdim=True)
        sigma = torch.sqrt(var + 1e-6)
        tau = self.tau * torch.sigmoid(mean + sigma)  # [B, C', 1, 1]
        gamma, beta, a = torch.split(self.W_exp(y), self.split_sizes, dim=1)
        # Upstream tiles τ along channels ceil(α/C') times and keeps the first α (α < C' always).
        tau_alpha = tau.repeat(1, math.ceil(alpha / dim), 1, 1)[:, :alpha]
        a = self.W_depth(a) * (1 + tau_alpha)
        gated = torch.sigmoid(gamma) * self.W_gate(torch.cat([beta, a], dim=1))
        return self.W_proj(gated + x)


class Attention(nn.Module):
    """The DAB's token mixer: MDTA on the even channels, GatedDA on the odd ones, fused."""

    def __init__(self, dim, num_heads, bias):
        super().__init__()
        half = dim // 2
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.lam = nn.Parameter(torch.tensor(0.5))
        self.qkv = nn.Conv2d(half, half * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(half * 3, half * 3, 3, padding=1, groups=half * 3, bias=bias)
        self.gatedcnn = GatedDegradationAdaption(half)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)
        self.frequency_as_sum = False  # True: Ff = repeat_interleave(A + G) (what the FFT path equals)

    def forward(self, x):
        _, _, h, w = x.shape
        x_att, x_gate = x[:, 0::2], x[:, 1::2]
        q, k, v = self.qkv_dwconv(self.qkv(x_att)).chunk(3, dim=1)
        att = channel_attention(q, k, v, self.temperature, self.num_heads)
        gate = self.gatedcnn(x_gate)
        spatial = torch.cat([att + torch.sigmoid(gate), gate + torch.sigmoid(att)], dim=1)
        if self.frequency_as_sum:
            freq = att + gate
        else:
            freq = torch.fft.irfft2(torch.fft.rfft2(att) + torch.fft.rfft2(gate), s=(h, w))
        freq = torch.repeat_interleave(freq, 2, dim=1)
        return self.project_out(self.lam * spatial + (1 - self.lam) * freq)


class TransformerBlock(nn.Module):
    """The DAB."""

    def __init__(self, dim, num_heads, ffn_expansion_factor, bias, LayerNorm_type):
        super().__init__()
        self.norm1 = LayerNorm(dim, LayerNorm_type)
        self.attn = Attention(dim, num_heads, bias)
        self.norm2 = LayerNorm(dim, LayerNorm_type)
        self.ffn = GDFN(dim, ffn_expansion_factor, bias)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class AnyIR(nn.Module):
    def __init__(self, inp_channels=3, out_channels=3, dim=28, num_blocks=(3, 5, 5, 7), num_refinement_blocks=4,
                 heads=(1, 2, 4, 8), ffn_expansion_factor=2, bias=False, LayerNorm_type="WithBias"):
        super().__init__()
        d1, d2, d3, d4 = dim, dim * 2, dim * 4, dim * 8

        def blocks(n, c, h):
            return stack(n, lambda: TransformerBlock(c, h, ffn_expansion_factor, bias, LayerNorm_type))

        # Registration order is the state_dict order (upstream's constructor order).
        self.patch_embed = OverlapPatchEmbed(inp_channels, d1)
        self.encoder_level1 = blocks(num_blocks[0], d1, heads[0])
        self.down1_2 = Downsample(d1)
        self.encoder_level2 = blocks(num_blocks[1], d2, heads[1])
        self.down2_3 = Downsample(d2)
        self.encoder_level3 = blocks(num_blocks[2], d3, heads[2])
        self.down3_4 = Downsample(d3)
        self.latent = blocks(num_blocks[3], d4, heads[3])
        self.up4_3 = Upsample(d3)
        self.reduce_chan_level3 = nn.Conv2d(d2 + d3, d3, 1, bias=bias)
        self.reduce_dim_level3 = nn.Conv2d(d4, d3, 1, bias=bias)  # not in PromptIR/Restormer
        self.decoder_level3 = blocks(num_blocks[2], d3, heads[2])
        self.up3_2 = Upsample(d3)
        self.reduce_chan_level2 = nn.Conv2d(d3, d2, 1, bias=bias)
        self.decoder_level2 = blocks(num_blocks[1], d2, heads[1])
        self.up2_1 = Upsample(d2)
        self.decoder_level1 = blocks(num_blocks[0], d2, heads[0])
        self.refinement = blocks(num_refinement_blocks, d2, heads[0])
        self.output = nn.Conv2d(d2, out_channels, 3, padding=1, bias=bias)

    def set_frequency_as_sum(self, flag):
        for m in self.modules():
            if isinstance(m, Attention):
                m.frequency_as_sum = flag

    def forward(self, image):
        e1 = self.encoder_level1(self.patch_embed(image))
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        x = self.latent(self.down3_4(e3))
        x = self.up4_3(self.reduce_dim_level3(x))
        x = self.decoder_level3(self.reduce_chan_level3(torch.cat([x, e3], 1)))
        x = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(x), e2], 1)))
        x = self.decoder_level1(torch.cat([self.up2_1(x), e1], 1))
        return self.output(self.refinement(x)) + image


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())
