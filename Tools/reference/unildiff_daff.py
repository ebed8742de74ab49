"""Our own PyTorch DAFF (UniLDiff's degradation-aware feature fusion), written from
shared/architectures/clip-sdxl-unildiff.md section 1.2 and checked against the only public code
(Potatonupt/UniLdiff `FaithDiff/models/DAFF.py`, class `DiTBlock`, read but not copied).

Module tree and state_dict keys are upstream's, relative to the UNet:
    information_transformer_layers.   DAFFTransformer (upstream `DiTBlock`)
    condition_embedding.              ConditionEmbedding (upstream `ControlNetConditioningEmbedding`)
    spatial_ch_projs.                 nn.Linear(hidden, 320), zero-initialised upstream

Forward (the UNet's step 2, right after `conv_in`):
    x  = conv_in(noisy latent)                     [B, C, h, w]
    c  = condition_embedding(LQ encoder feature)   [B, C, h, w]
    y  = DAFF(x, t, c)                             [B, h*w, hidden]
    sample = x + spatial_ch_projs(y) viewed back as [B, C, h, w]

Quirks kept on purpose (they decide what trained weights expect):
- the timestep sinusoid is taken of 1000*t (FLUX's time_factor applied to integer DDPM steps), with
  [cos, sin] order and frequencies exp(-ln(1e4) k / 128);
- no positional embedding (pe is None): plain joint softmax attention;
- q and k get a per-head RMSNorm (eps 1e-6, learnable scale);
- the joint sequence is [txt; img] = [condition tokens; latent tokens];
- every double block reads the ORIGINAL latent tokens as its img stream (upstream's loop passes
  `img=latent_in` each time) and the single-stream input is cat([txt_out, latent_in], channels):
  the img output of the double blocks is discarded.

The timestep frequencies are computed in float64 and rounded once (see Tools/gen_op_goldens.py):
torch's float32 exp differs by an ulp between builds and 1000*t amplifies it.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

FULL = dict(in_channels=320, context_in_dim=320, hidden_size=1024, num_heads=16, mlp_ratio=4.0,
            depth=1, depth_single_blocks=1, conditioning_channels=512)


def daff_timestep_embedding(t, dim=256, max_period=10000, time_factor=1000.0):
    t = time_factor * t.reshape(-1).float()
    half = dim // 2
    freqs = torch.exp((-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half).double()).float()
    args = t[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class MLPEmbedder(nn.Module):
    def __init__(self, in_dim, hidden):
        super().__init__()
        self.in_layer = nn.Linear(in_dim, hidden)
        self.silu = nn.SiLU()
        self.out_layer = nn.Linear(hidden, hidden)

    def forward(self, x):
        return self.out_layer(self.silu(self.in_layer(x)))


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.scale


class QKNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.query_norm = RMSNorm(dim)
        self.key_norm = RMSNorm(dim)


class SelfAttention(nn.Module):
    """Holds qkv, the q/k norms and proj; the double block drives them itself."""

    def __init__(self, dim, heads):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.norm = QKNorm(dim // heads)
        self.proj = nn.Linear(dim, dim)


class Modulation(nn.Module):
    def __init__(self, dim, double):
        super().__init__()
        self.count = 6 if double else 3
        self.lin = nn.Linear(dim, self.count * dim)

    def forward(self, vec):
        return self.lin(F.silu(vec))[:, None, :].chunk(self.count, dim=-1)


def split_qkv(qkv, heads):
    b, n, f = qkv.shape
    return qkv.reshape(b, n, 3, heads, f // (3 * heads)).permute(2, 0, 3, 1, 4)  # K B H L D


def merge(x):
    b, h, n, d = x.shape
    return x.permute(0, 2, 1, 3).reshape(b, n, h * d)


def mlp(dim, hidden):
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))


class DoubleStreamBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        hidden = int(dim * mlp_ratio)
        self.img_mod = Modulation(dim, True)
        self.img_norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.img_attn = SelfAttention(dim, heads)
        self.img_norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.img_mlp = mlp(dim, hidden)
        self.txt_mod = Modulation(dim, True)
        self.txt_norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.txt_attn = SelfAttention(dim, heads)
        self.txt_norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.txt_mlp = mlp(dim, hidden)

    def stream_qkv(self, x, mod, norm, attn):
        shift, scale = mod[0], mod[1]
        q, k, v = split_qkv(attn.qkv((1 + scale) * norm(x) + shift), self.heads)
        return attn.norm.query_norm(q), attn.norm.key_norm(k), v

    def forward(self, img, txt, vec):
        im, tm = self.img_mod(vec), self.txt_mod(vec)
        iq, ik, iv = self.stream_qkv(img, im, self.img_norm1, self.img_attn)
        tq, tk, tv = self.stream_qkv(txt, tm, self.txt_norm1, self.txt_attn)
        out = merge(F.scaled_dot_product_attention(torch.cat([tq, iq], 2), torch.cat([tk, ik], 2),
                                                   torch.cat([tv, iv], 2)))
        ta, ia = out[:, :txt.shape[1]], out[:, txt.shape[1]:]
        img = img + im[2] * self.img_attn.proj(ia)
        img = img + im[5] * self.img_mlp((1 + im[4]) * self.img_norm2(img) + im[3])
        txt = txt + tm[2] * self.txt_attn.proj(ta)
        txt = txt + tm[5] * self.txt_mlp((1 + tm[4]) * self.txt_norm2(txt) + tm[3])
        return img, txt


class SingleStreamBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.dim, self.heads = dim, heads
        self.mlp_hidden = int(dim * mlp_ratio)
        self.linear1 = nn.Linear(dim, 3 * dim + self.mlp_hidden)
        self.linear2 = nn.Linear(dim + self.mlp_hidden, dim)
        self.norm = QKNorm(dim // heads)
        self.pre_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.modulation = Modulation(dim, False)

    def forward(self, x, vec):
        shift, scale, gate = self.modulation(vec)
        qkv, m = torch.split(self.linear1((1 + scale) * self.pre_norm(x) + shift), [3 * self.dim, self.mlp_hidden], -1)
        q, k, v = split_qkv(qkv, self.heads)
        a = merge(F.scaled_dot_product_attention(self.norm.query_norm(q), self.norm.key_norm(k), v))
        return x + gate * self.linear2(torch.cat([a, F.gelu(m, approximate="tanh")], 2))


class LastLayer(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm_final = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(dim, dim // 2)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x, vec):
        shift, scale = self.adaLN_modulation(vec).chunk(2, dim=1)
        return self.linear((1 + scale[:, None]) * self.norm_final(x) + shift[:, None])


class DAFFTransformer(nn.Module):
    def __init__(self, in_channels=320, context_in_dim=320, hidden_size=1024, num_heads=16, mlp_ratio=4.0,
                 depth=1, depth_single_blocks=1):
        super().__init__()
        self.latent_in = nn.Linear(in_channels, hidden_size)
        self.time_in = MLPEmbedder(256, hidden_size)
        self.time_in2 = MLPEmbedder(256, 2 * hidden_size)
        self.cond_in = nn.Linear(context_in_dim, hidden_size)
        self.double_blocks = nn.ModuleList([DoubleStreamBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        self.single_blocks = nn.ModuleList([SingleStreamBlock(2 * hidden_size, num_heads, mlp_ratio)
                                            for _ in range(depth_single_blocks)])
        self.final_layer = LastLayer(2 * hidden_size)

    def forward(self, x, t, contexts):
        tokens = lambda m: m.flatten(2).transpose(1, 2)
        latent_in = self.latent_in(tokens(x))
        cond = self.cond_in(tokens(contexts))
        emb = daff_timestep_embedding(t)
        vec, vec2 = self.time_in(emb), self.time_in2(emb)
        for block in self.double_blocks:
            _, cond = block(latent_in, cond, vec)  # the img output is dropped upstream
        latent = torch.cat([cond, latent_in], 2)
        for block in self.single_blocks:
            latent = block(latent, vec2)
        return self.final_layer(latent, vec2)


class ConditionEmbedding(nn.Module):
    """GroupNorm(32, eps 1e-6) BEFORE conv_in, then SiLU and the (zero-initialised) conv_out."""

    def __init__(self, embedding_channels=320, conditioning_channels=512):
        super().__init__()
        self.conv_in = nn.Conv2d(conditioning_channels, conditioning_channels, 3, padding=1)
        self.norm_in = nn.GroupNorm(32, conditioning_channels, eps=1e-6)
        self.conv_out = nn.Conv2d(conditioning_channels, embedding_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x):
        return self.conv_out(F.silu(self.conv_in(self.norm_in(x))))


class DAFFInjection(nn.Module):
    """The three UniLDiff modules the UNet owns, with their upstream attribute names."""

    def __init__(self, in_channels=320, context_in_dim=320, hidden_size=1024, num_heads=16, mlp_ratio=4.0,
                 depth=1, depth_single_blocks=1, conditioning_channels=512):
        super().__init__()
        self.condition_embedding = ConditionEmbedding(context_in_dim, conditioning_channels)
        self.information_transformer_layers = DAFFTransformer(in_channels, context_in_dim, hidden_size, num_heads,
                                                              mlp_ratio, depth, depth_single_blocks)
        self.spatial_ch_projs = nn.Linear(hidden_size, in_channels)
        nn.init.zeros_(self.spatial_ch_projs.weight)
        nn.init.zeros_(self.spatial_ch_projs.bias)

    def forward(self, sample, t, lq_feature):
        """sample: conv_in output [B, C, h, w]; lq_feature: LQ encoder output [B, 512, h, w]."""
        b, c, h, w = sample.shape
        contexts = self.condition_embedding(lq_feature)
        y = self.information_transformer_layers(sample, t, contexts)
        return sample + self.spatial_ch_projs(y).transpose(1, 2).reshape(b, c, h, w)


if __name__ == "__main__":
    with torch.device("meta"):
        m = DAFFInjection(**FULL)
    sd = m.state_dict()
    for prefix in ("information_transformer_layers.", "condition_embedding.", "spatial_ch_projs."):
        keys = [k for k in sd if k.startswith(prefix)]
        print(prefix, len(keys), sum(sd[k].numel() for k in keys))
