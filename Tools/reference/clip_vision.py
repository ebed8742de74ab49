"""Our own PyTorch CLIP ViT modules in the two published layouts, written from
shared/architectures/clip-sdxl-unildiff.md §4 and symunet.md §4.5:

- `HFCLIPModel`: Hugging Face transformers naming (`vision_model.*`, `text_model.*`,
  `visual_projection`, `text_projection`, `logit_scale`), q/k/v split;
- `OpenAICLIP`: OpenAI `clip` naming (`visual.*`, fused `attn.in_proj_weight` rows q|k|v,
  `visual.proj` used as x @ proj), the module OpenAI ships as a TorchScript archive.

Only the vision tower has a forward pass; the text towers exist so checkpoints carry
the keys an importer has to drop. `clip_preprocess` is the tensor path SE-SymUNet uses
(torchvision resize with bicubic+antialias and its size truncation, center crop,
OpenAI mean/std), not HF's PIL pipeline.
"""
from collections import OrderedDict
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


# ------------------------------------------------------------------ preprocessing

def clip_resize_size(h, w, size):
    """Upstream's shortest-edge size: Python double arithmetic, divide first, then truncate.
    Squares such as 299x299 at size 224 become 223 high (the truncation quirk)."""
    if h < w:
        return size, int(w * (size / h))
    return int(h * (size / w)), size


def center_crop(img, size):
    """torchvision center_crop: zero-pad a short side first, then banker's-rounded offsets."""
    h, w = img.shape[-2:]
    if size > h or size > w:
        left = (size - w) // 2 if size > w else 0
        top = (size - h) // 2 if size > h else 0
        right = (size - w + 1) // 2 if size > w else 0
        bottom = (size - h + 1) // 2 if size > h else 0
        img = F.pad(img, (left, right, top, bottom), value=0.0)
        h, w = img.shape[-2:]
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return img[..., top:top + size, left:left + size]


def clip_preprocess(img, size, mean=OPENAI_MEAN, std=OPENAI_STD):
    """[B,3,H,W] RGB in [0,1] -> [B,3,size,size] normalised pixel values."""
    h, w = img.shape[-2:]
    nh, nw = clip_resize_size(h, w, size)
    if (nh, nw) != (h, w):
        img = F.interpolate(img, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
    img = center_crop(img, size)
    m = torch.tensor(mean, dtype=img.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=img.dtype).view(1, 3, 1, 1)
    return (img - m) / s


# ------------------------------------------------------------------ HF layout

class HFAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        # HF registers k, v, q, out in this order; the state_dict keeps it.
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        hd = d // self.heads
        q = self.q_proj(x).reshape(b, n, self.heads, hd).transpose(1, 2) * hd ** -0.5
        k = self.k_proj(x).reshape(b, n, self.heads, hd).transpose(1, 2)
        v = self.v_proj(x).reshape(b, n, self.heads, hd).transpose(1, 2)
        a = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.out_proj((a @ v).transpose(1, 2).reshape(b, n, d))


class HFMLP(nn.Module):
    def __init__(self, dim, hidden, act):
        super().__init__()
        self.act = act
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class HFEncoderLayer(nn.Module):
    def __init__(self, dim, heads, hidden, act=quick_gelu):
        super().__init__()
        self.self_attn = HFAttention(dim, heads)
        self.layer_norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = HFMLP(dim, hidden, act)
        self.layer_norm2 = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class HFEncoder(nn.Module):
    def __init__(self, dim, heads, hidden, layers):
        super().__init__()
        self.layers = nn.ModuleList([HFEncoderLayer(dim, heads, hidden) for _ in range(layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class HFVisionEmbeddings(nn.Module):
    def __init__(self, dim, patch, image_size, legacy_position_ids):
        super().__init__()
        n = (image_size // patch) ** 2 + 1
        self.class_embedding = nn.Parameter(torch.randn(dim))
        self.patch_embedding = nn.Conv2d(3, dim, patch, stride=patch, bias=False)
        self.position_embedding = nn.Embedding(n, dim)
        # Older transformers saved this int64 buffer; newer ones make it non-persistent.
        self.register_buffer("position_ids", torch.arange(n).unsqueeze(0), persistent=legacy_position_ids)

    def forward(self, pixels):
        p = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(p.shape[0], 1, -1)
        return torch.cat([cls, p], dim=1) + self.position_embedding.weight.unsqueeze(0)


class HFVisionTransformer(nn.Module):
    def __init__(self, cfg, legacy_position_ids=False):
        super().__init__()
        self.embeddings = HFVisionEmbeddings(cfg.hidden, cfg.patch, cfg.image_size, legacy_position_ids)
        self.pre_layrnorm = nn.LayerNorm(cfg.hidden, eps=1e-5)  # sic, HF spelling
        self.encoder = HFEncoder(cfg.hidden, cfg.heads, cfg.mlp, cfg.layers)
        self.post_layernorm = nn.LayerNorm(cfg.hidden, eps=1e-5)

    def forward(self, pixel_values):
        x = self.encoder(self.pre_layrnorm(self.embeddings(pixel_values)))
        # last_hidden_state is the last layer's output, *without* post_layernorm.
        return SimpleNamespace(last_hidden_state=x, pooler_output=self.post_layernorm(x[:, 0]))


class HFTextEmbeddings(nn.Module):
    def __init__(self, dim, vocab, context, legacy_position_ids):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Embedding(context, dim)
        self.register_buffer("position_ids", torch.arange(context).unsqueeze(0), persistent=legacy_position_ids)


class HFTextTransformer(nn.Module):
    """Keys only: SE-SymUNet and irzoo never run the text tower."""

    def __init__(self, cfg, legacy_position_ids=False):
        super().__init__()
        self.embeddings = HFTextEmbeddings(cfg.text_hidden, cfg.vocab, cfg.context, legacy_position_ids)
        self.encoder = HFEncoder(cfg.text_hidden, cfg.text_heads, cfg.text_hidden * 4, cfg.text_layers)
        self.final_layer_norm = nn.LayerNorm(cfg.text_hidden)


class HFCLIPModel(nn.Module):
    def __init__(self, cfg, legacy_position_ids=False):
        super().__init__()
        self.text_model = HFTextTransformer(cfg, legacy_position_ids)
        self.vision_model = HFVisionTransformer(cfg, legacy_position_ids)
        self.visual_projection = nn.Linear(cfg.hidden, cfg.projection, bias=False)
        self.text_projection = nn.Linear(cfg.text_hidden, cfg.projection, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(2.6592))
        self.vision_hidden_size = cfg.hidden
        self.image_size = cfg.image_size


# ------------------------------------------------------------------ OpenAI layout

class OpenAIResidualAttentionBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads)  # in_proj rows: q | k | v
        self.ln_1 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(dim, dim * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(dim * 4, dim)),
        ]))
        self.ln_2 = nn.LayerNorm(dim)

    def forward(self, x):  # x: [seq, batch, dim]
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class QuickGELU(nn.Module):
    def forward(self, x):
        return quick_gelu(x)


class OpenAITransformer(nn.Module):
    def __init__(self, dim, layers, heads):
        super().__init__()
        self.resblocks = nn.Sequential(*[OpenAIResidualAttentionBlock(dim, heads) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class OpenAIVisionTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        n = (cfg.image_size // cfg.patch) ** 2 + 1
        self.conv1 = nn.Conv2d(3, cfg.hidden, cfg.patch, stride=cfg.patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(cfg.hidden))
        self.positional_embedding = nn.Parameter(torch.randn(n, cfg.hidden))
        self.ln_pre = nn.LayerNorm(cfg.hidden)
        self.transformer = OpenAITransformer(cfg.hidden, cfg.layers, cfg.heads)
        self.ln_post = nn.LayerNorm(cfg.hidden)
        self.proj = nn.Parameter(torch.randn(cfg.hidden, cfg.projection))

    def tokens(self, image):
        """The last block's output (= HF last_hidden_state), [B, N, D]."""
        x = self.conv1(image).flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x).permute(1, 0, 2)
        return self.transformer(x).permute(1, 0, 2)


class OpenAICLIP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.visual = OpenAIVisionTransformer(cfg)
        self.transformer = OpenAITransformer(cfg.text_hidden, cfg.text_layers, cfg.text_heads)
        self.token_embedding = nn.Embedding(cfg.vocab, cfg.text_hidden)
        self.positional_embedding = nn.Parameter(torch.randn(cfg.context, cfg.text_hidden))
        self.ln_final = nn.LayerNorm(cfg.text_hidden)
        self.text_projection = nn.Parameter(torch.randn(cfg.text_hidden, cfg.projection))
        self.logit_scale = nn.Parameter(torch.tensor(2.6592))
        # OpenAI's archives carry these as 0-d int64 tensors beside the weights.
        self.register_buffer("input_resolution", torch.tensor(cfg.image_size))
        self.register_buffer("context_length", torch.tensor(cfg.context))
        self.register_buffer("vocab_size", torch.tensor(cfg.vocab))

    def forward(self, image):
        return self.visual.tokens(image)


# ------------------------------------------------------------------ layout conversion

def hf_to_openai_state_dict(hf_sd, layers):
    """The inverse of the verified OpenAI -> HF mapping (clip-sdxl-unildiff.md §4.2), vision only."""
    out = {}
    v = "vision_model."
    out["visual.conv1.weight"] = hf_sd[v + "embeddings.patch_embedding.weight"]
    out["visual.class_embedding"] = hf_sd[v + "embeddings.class_embedding"]
    out["visual.positional_embedding"] = hf_sd[v + "embeddings.position_embedding.weight"]
    for a, b in (("ln_pre", "pre_layrnorm"), ("ln_post", "post_layernorm")):
        for p in ("weight", "bias"):
            out[f"visual.{a}.{p}"] = hf_sd[f"{v}{b}.{p}"]
    for i in range(layers):
        src = f"{v}encoder.layers.{i}."
        dst = f"visual.transformer.resblocks.{i}."
        for p in ("weight", "bias"):
            out[dst + f"attn.in_proj_{p}"] = torch.cat(
                [hf_sd[src + f"self_attn.{n}_proj.{p}"] for n in ("q", "k", "v")], dim=0)
            out[dst + f"attn.out_proj.{p}"] = hf_sd[src + f"self_attn.out_proj.{p}"]
            out[dst + f"ln_1.{p}"] = hf_sd[src + f"layer_norm1.{p}"]
            out[dst + f"ln_2.{p}"] = hf_sd[src + f"layer_norm2.{p}"]
            out[dst + f"mlp.c_fc.{p}"] = hf_sd[src + f"mlp.fc1.{p}"]
            out[dst + f"mlp.c_proj.{p}"] = hf_sd[src + f"mlp.fc2.{p}"]
    out["visual.proj"] = hf_sd["visual_projection.weight"].t().contiguous()
    return out


def tiny_config(**overrides):
    cfg = dict(hidden=64, heads=2, mlp=256, layers=2, patch=8, image_size=32, projection=48,
               text_hidden=32, text_heads=2, text_layers=1, vocab=64, context=8)
    cfg.update(overrides)
    return SimpleNamespace(**cfg)


VIT_L_14 = SimpleNamespace(hidden=1024, heads=16, mlp=4096, layers=24, patch=14, image_size=224,
                           projection=768, text_hidden=768, text_heads=12, text_layers=12,
                           vocab=49408, context=77)
