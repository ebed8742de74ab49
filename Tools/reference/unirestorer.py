"""Our own PyTorch UniRestorer (Lin et al., ICLR 2026), written from
shared/architectures/unirestorer.md sections 2, 3.6, 6 and 8 and checked against the semantics of
github.com/mrluin/UniRestorer at 88b933c (`basicsr/models/archs/unirestorer_arch.py`,
`init_experts.py`, `da-clip/src/open_clip/{daclip_model,transformer}.py`).

The state_dict keys and their order are upstream's (`torch.save({'params': model.state_dict()})`):
    gamma, beta, mean, std,
    daclip_model.logit_scale, daclip_model.clip.* (open_clip CLIP: text tower + visual),
    daclip_model.visual.* (the same visual tower again), daclip_model.visual_control.* (the
    controller: open_clip VisionTransformer whose transformer is DA-CLIP's ControlTransformer,
    hence `transformer.transformer.resblocks.N.*` and `transformer.zero_modules.N.*`),
    l0_experts.*, l1_experts.*, l2_experts.*, mu.*, sigma.*, lf_gate.0.weight, layer_gate.0.weight.
With `released_experts` the expert tree is init_experts_three_layers' (1 + 7 + 23 modules, the
23rd level-2 module never routed to); Tools/check_unirestorer_reference_keys.py compares the
full-size tree with the published key list.

Inference (UniRestorer.forward in eval, topk=1):
    e = visual_control(daclip_lq)            CLS -> ln_post -> @ proj, no L2 norm; exact GELU
    mu, sigma = MLP_mu(e), MLP_sigma(e)       5 x (Linear no bias), LeakyReLU(0.1) between, BatchNorm1d
    leaf = top1(softmax(lf_gate(mu)[:, :22])), level = top1(softmax(layer_gate(sigma)[:, :3]))
    y = expert_pool[table[leaf][level]](lq)   returned unchanged (the gate factor g/g is 1)
The zero_modules only feed DA-CLIP's image branch, which UniRestorer discards; they do not touch x.
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

PARENTS = [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 6, 6, 7, 7]
# Upstream `expert_indices_dict`: row `leaf` is [0, parent(leaf), 8 + leaf].
PATH_TABLE = [[0, p, 8 + i] for i, p in enumerate(PARENTS)]


# ------------------------------------------------------------------ open_clip ViT (DA-CLIP naming)

class ResidualAttentionBlock(nn.Module):
    """open_clip's block with nn.GELU (ViT-B-32 is not a quick_gelu config)."""

    def __init__(self, width, heads, mlp_ratio=4):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads)  # in_proj rows q | k | v
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, width * mlp_ratio))
        self.mlp.add_module("gelu", nn.GELU())
        self.mlp.add_module("c_proj", nn.Linear(width * mlp_ratio, width))

    def forward(self, x):  # [L, N, D]
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads):
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x):
        for r in self.resblocks:
            x = r(x)
        return x


class ControlTransformer(nn.Module):
    """DA-CLIP's wrapper: the same blocks plus one zero-initialised Linear per block whose output
    (hiddens) only the image branch reads; `x` itself flows through the blocks unchanged."""

    def __init__(self, transformer):
        super().__init__()
        self.transformer = transformer
        self.zero_modules = nn.ModuleList([nn.Linear(transformer.width, transformer.width, bias=True)
                                           for _ in range(transformer.layers)])
        for z in self.zero_modules:
            nn.init.zeros_(z.weight)
            nn.init.zeros_(z.bias)

    def forward(self, x):
        for r in self.transformer.resblocks:
            x = r(x)
        return x


class VisionTransformer(nn.Module):
    def __init__(self, width, layers, heads, patch, image_size, out_dim):
        super().__init__()
        grid = image_size // patch
        self.conv1 = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, out_dim))

    def forward(self, x):
        x = self.conv1(x).flatten(2).permute(0, 2, 1)
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x).permute(1, 0, 2)
        x = self.transformer(x).permute(1, 0, 2)
        pooled = self.ln_post(x[:, 0])  # 'tok' pooling, LN after the pool (per token: the same)
        return pooled @ self.proj


class CLIP(nn.Module):
    """open_clip CLIP: the text tower exists for its keys (UniRestorer never runs it)."""

    def __init__(self, embed_dim, vision, text):
        super().__init__()
        self.visual = VisionTransformer(**vision, out_dim=embed_dim)
        tw = text["width"]
        self.transformer = Transformer(tw, text["layers"], text["heads"])
        self.token_embedding = nn.Embedding(text["vocab"], tw)
        self.positional_embedding = nn.Parameter(torch.randn(text["context"], tw) * 0.01)
        self.ln_final = nn.LayerNorm(tw)
        self.text_projection = nn.Parameter(torch.randn(tw, embed_dim) * tw ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(2.6592))


class DaCLIP(nn.Module):
    def __init__(self, clip):
        super().__init__()
        self.clip = clip
        self.visual = clip.visual  # the same module: its tensors are serialised twice
        self.visual_control = copy.deepcopy(clip.visual)
        self.visual_control.transformer = ControlTransformer(self.visual_control.transformer)
        self.logit_scale = copy.deepcopy(clip.logit_scale)

    def encode_control(self, images):
        return self.visual_control(images)


# ------------------------------------------------------------------ UniRestorer

def estimator_head(d, layers=5, slope=0.1):
    mods = []
    for i in range(layers):
        mods.append(nn.Linear(d, d, bias=False))
        mods.append(nn.LeakyReLU(slope) if i < layers - 1 else nn.BatchNorm1d(d))
    return nn.Sequential(*mods)


class UniRestorer(nn.Module):
    def __init__(self, daclip, l0, l1, l2, embed_dim, num_experts=(1, 7, 22), path_table=PATH_TABLE):
        super().__init__()
        self.daclip_model = daclip
        self.l0_experts = nn.ModuleList(l0)
        self.l1_experts = nn.ModuleList(l1)
        self.l2_experts = nn.ModuleList(l2)
        n0, n1, n2 = num_experts
        # Upstream `expert_pool`: the first num_experts[i] modules of each level (not l2_experts.22).
        self.expert_pool = list(self.l0_experts[:n0]) + list(self.l1_experts[:n1]) + list(self.l2_experts[:n2])
        self.path_table = torch.tensor(path_table, dtype=torch.long)
        self.mu = estimator_head(embed_dim)
        self.sigma = estimator_head(embed_dim)
        self.gamma = nn.Parameter(torch.ones(1) * 1e-4)
        self.beta = nn.Parameter(torch.ones(1) * (-7))
        self.num_leaves, self.num_levels = n2, len(num_experts)
        self.lf_gate = nn.Sequential(nn.Linear(embed_dim, 2 * n2, bias=False))
        self.layer_gate = nn.Sequential(nn.Linear(embed_dim, 2 * self.num_levels, bias=False))
        self.register_buffer("mean", torch.tensor([0.0]))
        self.register_buffer("std", torch.tensor([1.0]))

    def route(self, daclip_lq):
        """The eval-mode router: e, mu, sigma, clean logits, leaf, level, pool index per item."""
        e = self.daclip_model.encode_control(daclip_lq)
        mu, sigma = self.mu(e), self.sigma(e)
        lf_logits, _ = self.lf_gate(mu).chunk(2, dim=-1)
        layer_logits, _ = self.layer_gate(sigma).chunk(2, dim=-1)
        leaf = torch.softmax(lf_logits, dim=-1).topk(1, dim=-1).indices[:, 0]
        level = torch.softmax(layer_logits, dim=-1).topk(1, dim=-1).indices[:, 0]
        pool = self.path_table[leaf, level]
        return dict(e=e, mu=mu, sigma=sigma, lf_logits=lf_logits, layer_logits=layer_logits,
                    leaf=leaf, level=level, pool=pool)

    def forward(self, lq, daclip_lq):
        r = self.route(daclip_lq)
        # SparseDispatcher groups the batch by expert; with top-1 each item gets its expert's output.
        out = torch.zeros_like(lq)
        for p in r["pool"].unique().tolist():
            idx = (r["pool"] == p).nonzero()[:, 0]
            out[idx] = self.expert_pool[p](lq[idx])
        return out, r
