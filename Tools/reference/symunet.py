"""Our own PyTorch SymUNet and SE-SymUNet (arXiv 2512.10581), written from
shared/architectures/symunet.md. The state_dict keys, shapes and order are exactly
the upstream ones (basicsr/models/archs/SymUNet_arch.py), checked against the
published key lists by Tools/check_reference_keys.py.

Quirks reproduced on purpose (they decide what a checkpoint means):
- right/bottom reflect padding to a multiple of `2**levels * 4`, crop back, no clamp;
- MDTA normalises q and k over the spatial axis and attends channel x channel;
- guidance/refinement modules add a per-module `pos_embed` drawn with torch.randn
  whenever the token count changes (upstream behaviour). Assign `module.pos_embed`
  before the forward to fix it (the goldens do; irzoo takes them from --aux).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------- Restormer parts

class WithBiasLayerNorm(nn.Module):
    """LayerNorm over the last axis with a biased variance (upstream WithBias_LayerNorm)."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        mu = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return (x - mu) / torch.sqrt(var + 1e-5) * self.weight + self.bias


class BiasFreeLayerNorm(nn.Module):
    """Restormer's BiasFree_LayerNorm: no mean subtraction in the numerator."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        var = x.var(-1, keepdim=True, unbiased=False)
        return x / torch.sqrt(var + 1e-5) * self.weight


class ChannelLayerNorm(nn.Module):
    """Per-pixel LayerNorm over channels of a [B, C, H, W] map; the norm sits in `.body`."""

    def __init__(self, dim, kind="WithBias"):
        super().__init__()
        self.body = BiasFreeLayerNorm(dim) if kind == "BiasFree" else WithBiasLayerNorm(dim)

    def forward(self, x):
        b, c, h, w = x.shape
        t = x.permute(0, 2, 3, 1).reshape(b, h * w, c)
        return self.body(t).reshape(b, h, w, c).permute(0, 3, 1, 2)


class MDTA(nn.Module):
    """Multi-Dconv-head transposed attention (upstream class `Attention`)."""

    def __init__(self, dim, num_heads, bias):
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        heads = self.num_heads
        q = F.normalize(q.reshape(b, heads, c // heads, h * w), dim=-1)
        k = F.normalize(k.reshape(b, heads, c // heads, h * w), dim=-1)
        v = v.reshape(b, heads, c // heads, h * w)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        out = (attn @ v).reshape(b, c, h, w)
        return self.project_out(out)


class GDFN(nn.Module):
    """Gated-Dconv feed-forward network (upstream class `FeedForward`)."""

    def __init__(self, dim, ffn_expansion_factor, bias):
        super().__init__()
        hidden = int(dim * ffn_expansion_factor)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=bias)

    def forward(self, x):
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class TransformerBlock(nn.Module):
    def __init__(self, dim, num_heads, ffn_expansion_factor, bias, layer_norm_type):
        super().__init__()
        self.norm1 = ChannelLayerNorm(dim, layer_norm_type)
        self.attn = MDTA(dim, num_heads, bias)
        self.norm2 = ChannelLayerNorm(dim, layer_norm_type)
        self.ffn = GDFN(dim, ffn_expansion_factor, bias)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


# ------------------------------------------------------------ SE-SymUNet cross-attention

def patchify(x, p):
    """b c (h p1) (w p2) -> b (h w) (c p1 p2)."""
    b, c, h, w = x.shape
    t = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return t.reshape(b, (h // p) * (w // p), c * p * p)


def unpatchify(t, c, h, w, p):
    b = t.shape[0]
    x = t.reshape(b, h // p, w // p, c, p, p).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c, h, w)


class CrossAttention(nn.Module):
    def __init__(self, query_dim, context_dim, inner_dim, num_heads, dropout=0.0):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (inner_dim // num_heads) ** -0.5
        self.norm_query = nn.LayerNorm(query_dim)
        self.norm_context = nn.LayerNorm(context_dim)
        self.to_q = nn.Linear(query_dim, inner_dim, bias=False)
        self.to_k = nn.Linear(context_dim, inner_dim, bias=False)
        self.to_v = nn.Linear(context_dim, inner_dim, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner_dim, query_dim), nn.Dropout(dropout))

    def forward(self, query, context):
        q = self.to_q(self.norm_query(query))
        cn = self.norm_context(context)
        k, v = self.to_k(cn), self.to_v(cn)
        b, n, inner = q.shape
        h = self.num_heads
        q = q.reshape(b, n, h, inner // h).transpose(1, 2)
        k = k.reshape(b, k.shape[1], h, inner // h).transpose(1, 2)
        v = v.reshape(b, v.shape[1], h, inner // h).transpose(1, 2)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, inner)
        return self.to_out(out)


class _PosEmbedMixin:
    def _pos_embed(self, n, dim, device):
        # Upstream draws a fresh torch.randn whenever the token count changes; we do the
        # same, but keep it a plain tensor so it never enters the state_dict.
        if self.pos_embed is None or self.pos_embed.shape[1] != n:
            self.pos_embed = torch.randn(1, n, dim).to(device)
        return self.pos_embed


class ImageGuidanceAttention(nn.Module, _PosEmbedMixin):
    """x + alpha * unpatchify(CA(query = patchify(x) + pos_embed, context = z))."""

    def __init__(self, image_dim, text_dim, inner_dim, num_heads, patch_size):
        super().__init__()
        self.patch_size = patch_size
        self.alpha = nn.Parameter(torch.tensor(1e-4))
        self.attention = CrossAttention(image_dim * patch_size ** 2, text_dim, inner_dim, num_heads)
        self.pos_embed = None

    def forward(self, x, z):
        b, c, h, w = x.shape
        tokens = patchify(x, self.patch_size)
        tokens = tokens + self._pos_embed(tokens.shape[1], tokens.shape[2], x.device)
        update = self.attention(tokens, z)
        return x + self.alpha * unpatchify(update, c, h, w, self.patch_size)


class TextRefinementAttention(nn.Module, _PosEmbedMixin):
    """z + alpha * CA(query = z, context = patchify(x) + pos_embed)."""

    def __init__(self, text_dim, image_dim, inner_dim, num_heads, patch_size):
        super().__init__()
        self.patch_size = patch_size
        self.alpha = nn.Parameter(torch.tensor(1e-4))
        self.attention = CrossAttention(text_dim, image_dim * patch_size ** 2, inner_dim, num_heads)
        self.pos_embed = None

    def forward(self, z, x):
        tokens = patchify(x, self.patch_size)
        tokens = tokens + self._pos_embed(tokens.shape[1], tokens.shape[2], x.device)
        return z + self.alpha * self.attention(z, tokens)


# ------------------------------------------------------------------------- networks

def pad_to_multiple(x, multiple):
    """Right/bottom reflect padding (reflect excludes the edge sample)."""
    h, w = x.shape[-2:]
    ph = (multiple - h % multiple) % multiple
    pw = (multiple - w % multiple) % multiple
    return F.pad(x, (0, pw, 0, ph), mode="reflect")


class SymUNet(nn.Module):
    """NAFNet skeleton, Restormer blocks, additive skips, global residual."""

    def __init__(self, img_channel=3, width=48, enc_blk_nums=(4, 6, 6), middle_blk_num=8,
                 dec_blk_nums=(6, 6, 4), restormer_heads=(1, 2, 4), restormer_middle_heads=8,
                 ffn_expansion_factor=2.66, bias=False, LayerNorm_type="WithBias", **_ignored):
        super().__init__()
        self._build_backbone(img_channel, width, enc_blk_nums, middle_blk_num, dec_blk_nums,
                             restormer_heads, restormer_middle_heads, ffn_expansion_factor, bias,
                             LayerNorm_type)

    def _build_backbone(self, img_channel, width, enc_blk_nums, middle_blk_num, dec_blk_nums,
                        heads, middle_heads, ffn, bias, ln_type, on_decoder_level=None):
        def blocks(n, dim, h):
            return nn.Sequential(*[TransformerBlock(dim, h, ffn, bias, ln_type) for _ in range(n)])

        # Registration order decides the state_dict order: keep it as upstream has it.
        self.intro = nn.Conv2d(img_channel, width, 3, padding=1, bias=True)
        self.ending = nn.Conv2d(width, img_channel, 3, padding=1, bias=True)
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()
        self.decoder_guide_attentions = nn.ModuleList()
        self.decoder_refine_attentions = nn.ModuleList()
        chan = width
        for i, n in enumerate(enc_blk_nums):
            self.encoders.append(blocks(n, chan, heads[i]))
            self.downs.append(nn.Conv2d(chan, chan * 2, 2, stride=2))
            chan *= 2
        self.middle_blks = blocks(middle_blk_num, chan, middle_heads)
        levels = len(enc_blk_nums)
        for d, n in enumerate(dec_blk_nums):
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(blocks(n, chan, heads[levels - 1 - d]))
            if on_decoder_level is not None:
                on_decoder_level(d, chan)
        self.padder_size = 2 ** levels * 4
        return chan

    def forward(self, inp):
        h, w = inp.shape[-2:]
        x0 = pad_to_multiple(inp, self.padder_size)
        x = self.intro(x0)
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for dec, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = dec(up(x) + skip)
        x = self.ending(x) + x0
        return x[:, :, :h, :w]


class SESymUNet(SymUNet):
    """SymUNet plus CLIP guidance (bottleneck and decoder) and refinement of the CLIP tokens.

    `clip_model` must look like HF's CLIPModel: `.vision_model(pixel_values)` returning
    an object with `.last_hidden_state`, and `.config.vision_config.image_size`.
    """

    def __init__(self, clip_model, img_channel=3, width=48, enc_blk_nums=(4, 6, 6), middle_blk_num=8,
                 dec_blk_nums=(6, 6, 4), restormer_heads=(1, 2, 4), restormer_middle_heads=8,
                 ffn_expansion_factor=2.66, bias=False, LayerNorm_type="WithBias",
                 cross_attn_inner_dims=(1024, 1024, 1024), middle_cross_attn_inner_dim=1024,
                 cross_attn_heads=(1, 2, 4), middle_cross_attn_heads=8, patch_sizes=(4, 4, 4),
                 middle_patch_size=2, **_ignored):
        nn.Module.__init__(self)
        self.clip_model = clip_model
        for p in self.clip_model.parameters():
            p.requires_grad_(False)
        text_dim = clip_model.vision_hidden_size
        levels = len(enc_blk_nums)

        def add_decoder_modules(d, chan):
            j = levels - 1 - d
            self.decoder_guide_attentions.append(ImageGuidanceAttention(
                chan, text_dim, cross_attn_inner_dims[j], cross_attn_heads[j], patch_sizes[j]))
            self.decoder_refine_attentions.append(TextRefinementAttention(
                text_dim, chan, cross_attn_inner_dims[j], cross_attn_heads[j], patch_sizes[j]))

        self._build_backbone(img_channel, width, enc_blk_nums, middle_blk_num, dec_blk_nums,
                             restormer_heads, restormer_middle_heads, ffn_expansion_factor, bias,
                             LayerNorm_type, on_decoder_level=add_decoder_modules)
        mid = width * 2 ** levels
        self.middle_guide_attention = ImageGuidanceAttention(
            mid, text_dim, middle_cross_attn_inner_dim, middle_cross_attn_heads, middle_patch_size)
        self.middle_refine_attention = TextRefinementAttention(
            text_dim, mid, middle_cross_attn_inner_dim, middle_cross_attn_heads, middle_patch_size)

    def guidance_modules(self):
        """The eight pos_embed owners in upstream's draw order."""
        mods = [("middle_guide_attention", self.middle_guide_attention),
                ("middle_refine_attention", self.middle_refine_attention)]
        for d in range(len(self.decoder_guide_attentions)):
            mods.append((f"decoder_guide_attentions.{d}", self.decoder_guide_attentions[d]))
            mods.append((f"decoder_refine_attentions.{d}", self.decoder_refine_attentions[d]))
        return mods

    def clip_features(self, inp):
        from clip_vision import clip_preprocess
        size = self.clip_model.image_size
        with torch.no_grad():
            pixels = clip_preprocess(inp, size)
            return self.clip_model.vision_model(pixels).last_hidden_state

    def forward(self, inp, z=None):
        h, w = inp.shape[-2:]
        if z is None:
            z = self.clip_features(inp)  # from the unpadded input
        x0 = pad_to_multiple(inp, self.padder_size)
        x = self.intro(x0)
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.middle_guide_attention(x, z)
        x = self.middle_blks(x)
        z = self.middle_refine_attention(z, x)
        for d, (dec, up, skip) in enumerate(zip(self.decoders, self.ups, skips[::-1])):
            x = up(x) + skip
            x = self.decoder_guide_attentions[d](x, z)
            x = dec(x)
            z = self.decoder_refine_attentions[d](z, x)
        x = self.ending(x) + x0
        return x[:, :, :h, :w]


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())


PUBLISHED = dict(width=48, enc_blk_nums=[4, 6, 6], middle_blk_num=8, dec_blk_nums=[6, 6, 4],
                 restormer_heads=[1, 2, 4], restormer_middle_heads=8, ffn_expansion_factor=2.66,
                 bias=False, LayerNorm_type="WithBias")
PUBLISHED_SE = dict(PUBLISHED, cross_attn_inner_dims=[1024, 1024, 1024], middle_cross_attn_inner_dim=1024,
                    cross_attn_heads=[1, 2, 4], middle_cross_attn_heads=8, patch_sizes=[4, 4, 4],
                    middle_patch_size=2)
