"""Our own PyTorch PromptIR (NeurIPS 2023, github.com/va1shn9v/PromptIR `net/model.py` @20eff77),
written from shared/architectures/anyir.md section 5. It also holds the Restormer parts
(channel LayerNorm, MDTA, GDFN, down/upsampling) that AnyIR (anyir.py) reuses.

The state_dict keys, shapes and order are exactly upstream's (548 keys, 35,592,263 parameters
for `PromptIR(decoder=True)`), checked by Tools/check_anyir_reference_keys.py.

Upstream quirks reproduced on purpose:
- `chnl_reduce1/2/3` and `reduce_noise_channel_1/2/3` are built but never used in forward
  (they are in every checkpoint: 215,296 parameters);
- the prompt is resized with `F.interpolate(..., mode="bilinear")` (align_corners=False);
- the three `noise_level*` transformer blocks all use heads[2].
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------- Restormer parts


class _WithBiasNorm(nn.Module):
    """LayerNorm over the last axis with the biased variance (Restormer WithBias_LayerNorm)."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        mean = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + 1e-5) * self.weight + self.bias


class _BiasFreeNorm(nn.Module):
    """Restormer BiasFree_LayerNorm: scaled by the variance, not centred."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        var = x.var(-1, keepdim=True, unbiased=False)
        return x / torch.sqrt(var + 1e-5) * self.weight


class LayerNorm(nn.Module):
    """Per-pixel LayerNorm over the channels of [B, C, H, W]; the weights live under `body.`."""

    def __init__(self, dim, kind="WithBias"):
        super().__init__()
        self.body = _BiasFreeNorm(dim) if kind == "BiasFree" else _WithBiasNorm(dim)

    def forward(self, x):
        b, c, h, w = x.shape
        tokens = x.permute(0, 2, 3, 1).reshape(b, h * w, c)
        return self.body(tokens).reshape(b, h, w, c).permute(0, 3, 1, 2)


def channel_attention(q, k, v, temperature, heads):
    """Restormer MDTA core: per head, softmax(normalize(q) @ normalize(k)^T * t) @ v over H*W."""
    b, c, h, w = q.shape
    q, k, v = (t.reshape(b, heads, c // heads, h * w) for t in (q, k, v))
    q = F.normalize(q, dim=-1)
    k = F.normalize(k, dim=-1)
    attn = (q @ k.transpose(-2, -1)) * temperature
    return (attn.softmax(dim=-1) @ v).reshape(b, c, h, w)


class MDTA(nn.Module):
    """Restormer multi-Dconv-head transposed attention (upstream class `Attention`)."""

    def __init__(self, dim, heads, bias):
        super().__init__()
        self.num_heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x):
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        return self.project_out(channel_attention(q, k, v, self.temperature, self.num_heads))


class GDFN(nn.Module):
    """Gated-Dconv feed-forward (upstream `FeedForward`): gelu(x1) * x2, exact erf GELU."""

    def __init__(self, dim, factor, bias):
        super().__init__()
        hidden = int(dim * factor)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=bias)

    def forward(self, x):
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class RestormerBlock(nn.Module):
    """Upstream `TransformerBlock`: x + attn(norm1(x)), then x + ffn(norm2(x))."""

    def __init__(self, dim, heads, factor, bias, norm_kind):
        super().__init__()
        self.norm1 = LayerNorm(dim, norm_kind)
        self.attn = MDTA(dim, heads, bias)
        self.norm2 = LayerNorm(dim, norm_kind)
        self.ffn = GDFN(dim, factor, bias)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class OverlapPatchEmbed(nn.Module):
    def __init__(self, in_channels, dim, bias=False):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, 3, padding=1, bias=bias)

    def forward(self, x):
        return self.proj(x)


class Downsample(nn.Module):
    """conv3x3 C -> C/2, then PixelUnshuffle(2): C/2 * 4 = 2C channels at half size."""

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))

    def forward(self, x):
        return self.body(x)


class Upsample(nn.Module):
    """conv3x3 C -> 2C, then PixelShuffle(2): 2C / 4 = C/2 channels at double size."""

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))

    def forward(self, x):
        return self.body(x)


def stack(n, make):
    return nn.Sequential(*[make() for _ in range(n)])


# --------------------------------------------------------------------------- PromptIR


class PromptGenBlock(nn.Module):
    """A learned bank of `length` prompts [C_p, S, S], mixed per image by softmax weights from the
    pooled features, resized bilinearly to the feature size and passed through a 3x3 conv."""

    def __init__(self, prompt_dim, length, size, lin_dim):
        super().__init__()
        self.prompt_param = nn.Parameter(torch.rand(1, length, prompt_dim, size, size))
        self.linear_layer = nn.Linear(lin_dim, length)
        self.conv3x3 = nn.Conv2d(prompt_dim, prompt_dim, 3, padding=1, bias=False)

    def forward(self, x):
        b, _, h, w = x.shape
        weights = F.softmax(self.linear_layer(x.mean(dim=(-2, -1))), dim=1)  # [B, len]
        bank = self.prompt_param.expand(b, -1, -1, -1, -1)  # [B, len, C_p, S, S]
        prompt = (weights[:, :, None, None, None] * bank).sum(dim=1)
        prompt = F.interpolate(prompt, (h, w), mode="bilinear", align_corners=False)
        return self.conv3x3(prompt)


PUBLISHED = dict(dim=48, num_blocks=(4, 6, 6, 8), num_refinement_blocks=4, heads=(1, 2, 4, 8),
                 ffn_expansion_factor=2.66, decoder=True)


class PromptIR(nn.Module):
    def __init__(self, inp_channels=3, out_channels=3, dim=48, num_blocks=(4, 6, 6, 8), num_refinement_blocks=4,
                 heads=(1, 2, 4, 8), ffn_expansion_factor=2.66, bias=False, LayerNorm_type="WithBias", decoder=True,
                 prompt_dims=(64, 128, 320), prompt_len=5, prompt_sizes=(64, 32, 16)):
        super().__init__()
        d1, d2, d3, d4 = dim, dim * 2, dim * 4, dim * 8
        p1, p2, p3 = prompt_dims

        def blocks(n, c, h):
            return stack(n, lambda: RestormerBlock(c, h, ffn_expansion_factor, bias, LayerNorm_type))

        # Registration order is the state_dict order; it follows upstream's constructor.
        self.patch_embed = OverlapPatchEmbed(inp_channels, d1)
        self.decoder = decoder
        if decoder:
            self.prompt1 = PromptGenBlock(p1, prompt_len, prompt_sizes[0], d2)
            self.prompt2 = PromptGenBlock(p2, prompt_len, prompt_sizes[1], d3)
            self.prompt3 = PromptGenBlock(p3, prompt_len, prompt_sizes[2], d4)
        # Built but never used in forward (upstream leftovers; every checkpoint carries them).
        self.chnl_reduce1 = nn.Conv2d(64, 64, 1, bias=bias)
        self.chnl_reduce2 = nn.Conv2d(128, 128, 1, bias=bias)
        self.chnl_reduce3 = nn.Conv2d(320, 256, 1, bias=bias)
        self.reduce_noise_channel_1 = nn.Conv2d(d1 + 64, d1, 1, bias=bias)
        self.encoder_level1 = blocks(num_blocks[0], d1, heads[0])
        self.down1_2 = Downsample(d1)
        self.reduce_noise_channel_2 = nn.Conv2d(d2 + 128, d2, 1, bias=bias)
        self.encoder_level2 = blocks(num_blocks[1], d2, heads[1])
        self.down2_3 = Downsample(d2)
        self.reduce_noise_channel_3 = nn.Conv2d(d3 + 256, d3, 1, bias=bias)
        self.encoder_level3 = blocks(num_blocks[2], d3, heads[2])
        self.down3_4 = Downsample(d3)
        self.latent = blocks(num_blocks[3], d4, heads[3])
        self.up4_3 = Upsample(d3)
        self.reduce_chan_level3 = nn.Conv2d(d2 + d3, d3, 1, bias=bias)
        self.noise_level3 = RestormerBlock(d4 + p3, heads[2], ffn_expansion_factor, bias, LayerNorm_type)
        self.reduce_noise_level3 = nn.Conv2d(d4 + p3, d3, 1, bias=bias)
        self.decoder_level3 = blocks(num_blocks[2], d3, heads[2])
        self.up3_2 = Upsample(d3)
        self.reduce_chan_level2 = nn.Conv2d(d3, d2, 1, bias=bias)
        self.noise_level2 = RestormerBlock(d3 + p2, heads[2], ffn_expansion_factor, bias, LayerNorm_type)
        self.reduce_noise_level2 = nn.Conv2d(d3 + p2, d3, 1, bias=bias)
        self.decoder_level2 = blocks(num_blocks[1], d2, heads[1])
        self.up2_1 = Upsample(d2)
        self.noise_level1 = RestormerBlock(d2 + p1, heads[2], ffn_expansion_factor, bias, LayerNorm_type)
        self.reduce_noise_level1 = nn.Conv2d(d2 + p1, d2, 1, bias=bias)
        self.decoder_level1 = blocks(num_blocks[0], d2, heads[0])
        self.refinement = blocks(num_refinement_blocks, d2, heads[0])
        self.output = nn.Conv2d(d2, out_channels, 3, padding=1, bias=bias)

    def forward(self, image):
        e1 = self.encoder_level1(self.patch_embed(image))
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        x = self.latent(self.down3_4(e3))
        if self.decoder:
            x = self.reduce_noise_level3(self.noise_level3(torch.cat([x, self.prompt3(x)], 1)))
        x = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(x), e3], 1)))
        if self.decoder:
            x = self.reduce_noise_level2(self.noise_level2(torch.cat([x, self.prompt2(x)], 1)))
        x = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(x), e2], 1)))
        if self.decoder:
            x = self.reduce_noise_level1(self.noise_level1(torch.cat([x, self.prompt1(x)], 1)))
        x = self.decoder_level1(torch.cat([self.up2_1(x), e1], 1))
        return self.output(self.refinement(x)) + image


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())
