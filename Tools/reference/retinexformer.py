"""Our own PyTorch RetinexFormer (ICCV 2023, arXiv 2303.06705), written from
shared/architectures/unirestorer.md section 3.4 and checked against the semantics of the copy
UniRestorer ships (github.com/mrluin/UniRestorer `basicsr/models/archs/retinexformer_arch.py` at
88b933c, the same as github.com/caiyuanhao1998/Retinexformer).

The state_dict keys, shapes and order are exactly upstream's: the UniRestorer expert
(n_feat 40, stage 1, num_blocks [1, 2, 2]) has 122 keys and 1,605,701 parameters
(Tools/check_expert_reference_keys.py checks both).

Forward (one stage, `body.0`):
    illu_fea, illu_map = estimator(cat[img, mean_c(img)])     1x1 -> 5x5 grouped (4) -> 1x1
    lit = img * illu_map + img
    denoiser(lit, illu_fea): embedding 3x3 -> [IGAB, 4x4/2 down of features and of illu_fea] x 2
        -> bottleneck IGAB -> [ConvTranspose 2x2/2, 1x1 fusion of cat[up, skip], IGAB] x 2 -> mapping 3x3 + lit
IGAB block:  x = IG-MSA(x, illu) + x;  x = FFN(LayerNorm(x)) + x
IG-MSA:      q, k, v = x Wq, x Wk, x Wv (per pixel);  v' = v * illu
             per head (d = dim_head channels): q̂, k̂ = L2-normalised along the pixels
             A = softmax(k̂ q̂ᵀ · rescale[h]) (d x d);  out = proj(A v') + pos_emb(v)
             pos_emb = depthwise 3x3 -> GELU -> depthwise 3x3 on v (before the illumination product)
FFN:         1x1 (4C) -> GELU -> depthwise 3x3 -> GELU -> 1x1, all without bias

Upstream has no padding: both sides must be multiples of 4. irzoo (and `reference_output` in
Tools/gen_expert_goldens.py) reflect-pads right and bottom to a multiple of 4 and crops back.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

UNIRESTORER = dict(n_feat=40, stage=1, num_blocks=(1, 2, 2))


class IlluminationEstimator(nn.Module):
    def __init__(self, mid, cin=4, cout=3):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, mid, 1)
        self.depth_conv = nn.Conv2d(mid, mid, 5, padding=2, groups=cin)
        self.conv2 = nn.Conv2d(mid, cout, 1)

    def forward(self, img):
        fea = self.depth_conv(self.conv1(torch.cat([img, img.mean(dim=1, keepdim=True)], dim=1)))
        return fea, self.conv2(fea)


class IGMSA(nn.Module):
    """Illumination-guided multi-head self-attention, transposed (channel x channel per head)."""

    def __init__(self, dim, dim_head, heads):
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        self.to_q = nn.Linear(dim, dim_head * heads, bias=False)
        self.to_k = nn.Linear(dim, dim_head * heads, bias=False)
        self.to_v = nn.Linear(dim, dim_head * heads, bias=False)
        self.rescale = nn.Parameter(torch.ones(heads, 1, 1))
        self.proj = nn.Linear(dim_head * heads, dim)
        self.pos_emb = nn.Sequential(nn.Conv2d(dim, dim, 3, 1, 1, bias=False, groups=dim), nn.GELU(),
                                     nn.Conv2d(dim, dim, 3, 1, 1, bias=False, groups=dim))

    def forward(self, x, illu):  # x, illu: [b, h, w, c]
        b, h, w, c = x.shape
        tokens = x.reshape(b, h * w, c)
        q, k, v_inp = self.to_q(tokens), self.to_k(tokens), self.to_v(tokens)

        def heads_first(t):  # [b, n, heads·d] -> [b, heads, d, n]
            return t.reshape(b, h * w, self.heads, self.dim_head).permute(0, 2, 3, 1)

        q, k = F.normalize(heads_first(q), dim=-1), F.normalize(heads_first(k), dim=-1)
        v = heads_first(v_inp * illu.reshape(b, h * w, c))
        attn = torch.softmax((k @ q.transpose(-2, -1)) * self.rescale, dim=-1)
        out = (attn @ v).permute(0, 3, 1, 2).reshape(b, h * w, self.heads * self.dim_head)
        out = self.proj(out).view(b, h, w, c)
        pos = self.pos_emb(v_inp.reshape(b, h, w, c).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return out + pos


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(dim, dim * mult, 1, bias=False), nn.GELU(),
                                 nn.Conv2d(dim * mult, dim * mult, 3, 1, 1, bias=False, groups=dim * mult), nn.GELU(),
                                 nn.Conv2d(dim * mult, dim, 1, bias=False))

    def forward(self, x):  # [b, h, w, c]
        return self.net(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.fn = fn
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.fn(self.norm(x))


class IGAB(nn.Module):
    def __init__(self, dim, dim_head, heads, num_blocks):
        super().__init__()
        self.blocks = nn.ModuleList([nn.ModuleList([IGMSA(dim, dim_head, heads), PreNorm(dim, FeedForward(dim))])
                                     for _ in range(num_blocks)])

    def forward(self, x, illu):  # NCHW in and out
        x, illu = x.permute(0, 2, 3, 1), illu.permute(0, 2, 3, 1)
        for attn, ff in self.blocks:
            x = attn(x, illu) + x
            x = ff(x) + x
        return x.permute(0, 3, 1, 2)


class Denoiser(nn.Module):
    def __init__(self, dim, num_blocks, level=2, in_dim=3, out_dim=3):
        super().__init__()
        self.level = level
        self.embedding = nn.Conv2d(in_dim, dim, 3, 1, 1, bias=False)
        self.encoder_layers = nn.ModuleList()
        d = dim
        for i in range(level):
            self.encoder_layers.append(nn.ModuleList([IGAB(d, dim, d // dim, num_blocks[i]),
                                                      nn.Conv2d(d, d * 2, 4, 2, 1, bias=False),
                                                      nn.Conv2d(d, d * 2, 4, 2, 1, bias=False)]))
            d *= 2
        self.bottleneck = IGAB(d, dim, d // dim, num_blocks[-1])
        self.decoder_layers = nn.ModuleList()
        for i in range(level):
            self.decoder_layers.append(nn.ModuleList([nn.ConvTranspose2d(d, d // 2, 2, stride=2),
                                                      nn.Conv2d(d, d // 2, 1, bias=False),
                                                      IGAB(d // 2, dim, (d // 2) // dim, num_blocks[level - 1 - i])]))
            d //= 2
        self.mapping = nn.Conv2d(dim, out_dim, 3, 1, 1, bias=False)

    def forward(self, x, illu):
        fea = self.embedding(x)
        skips, illus = [], []
        for igab, down, illu_down in self.encoder_layers:
            fea = igab(fea, illu)
            illus.append(illu)
            skips.append(fea)
            fea, illu = down(fea), illu_down(illu)
        fea = self.bottleneck(fea, illu)
        for i, (up, fuse, igab) in enumerate(self.decoder_layers):
            fea = fuse(torch.cat([up(fea), skips[self.level - 1 - i]], dim=1))
            fea = igab(fea, illus[self.level - 1 - i])
        return self.mapping(fea) + x


class SingleStage(nn.Module):
    def __init__(self, n_feat, num_blocks):
        super().__init__()
        self.estimator = IlluminationEstimator(n_feat)
        self.denoiser = Denoiser(n_feat, num_blocks)

    def forward(self, img):
        illu_fea, illu_map = self.estimator(img)
        return self.denoiser(img * illu_map + img, illu_fea)


class RetinexFormer(nn.Module):
    """One single stage under `body.0` (UniRestorer builds stage=1). Upstream's nn.Sequential
    would hand a stage's (output, illu_map) tuple to the next stage, so only one stage runs."""

    def __init__(self, n_feat=40, stage=1, num_blocks=(1, 2, 2)):
        super().__init__()
        if stage != 1:
            raise ValueError("upstream RetinexFormer runs only with stage=1")
        self.body = nn.Sequential(*[SingleStage(n_feat, num_blocks) for _ in range(stage)])

    def forward(self, x):
        return self.body(x)
