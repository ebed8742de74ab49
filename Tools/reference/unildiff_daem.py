"""Our own PyTorch DAEM block (UniLDiff's detail-aware expert module), written from
shared/architectures/clip-sdxl-unildiff.md section 1.3 and checked against the only public code
(Potatonupt/UniLdiff `FaithDiff/models/moe.py`, adapted there from MoCE-IR; read, not copied).

Upstream builds these blocks as `unet.decoder_moe_blocks.N` (DecoderBlock, dims 1280/1280/640/320,
4 heads, GDFN x4, WithBias LayerNorm, bias=False, rank 2, 4 experts, top-1, freq_dim 1280) plus
`unet.moefreq_embed` (FrequencyEmbedding(1280)), but never calls them (`use_moe=False`), and no
code places DAEM in the VAE decoder as the paper says. So this is the block ONLY; where it sits
and what feeds its frequency embedding is unknown (reconstruction, see docs/UNILDIFF.md).

DecoderBlock(x, freq_emb):
    y   = LN0(x)                                      (WithBias channel LayerNorm, eps 1e-5)
    x_s = shared(proj0(y))                            (MDTA: 1x1 qkv, dw3x3, L2-normalised q,k,
                                                       channel softmax * temperature, 1x1 out)
    x_a = adapter(proj1(y), freq_emb, x_s)
    x   = mixer(x_a, x_s) + x                         (q from x_a: 1x1 + dw3x3; k,v from x_s: 1x1 + dw7x7)
    x   = x + GDFN(LN1(x))
adapter(x, f, s): logits = gate(GAP(x)) + freq_gate(f); p = softmax(logits + noise); top-1 expert e;
    out = proj_out(p[e] * expert_e(x, s)).  The factor p[e] cancels in the block output: x_a only
    feeds the mixer's query, whose bias-free projections are L2-normalised over pixels.  Inference here: noise OFF (upstream draws
    N(0, 1/num_experts) noise even in eval, which makes its routing random; irzoo routes on the
    clean logits) and routing per sample (upstream's eval branch only works for batch 1).
expert_i(x, s) = proj2(NAF_i(proj0(x)) * silu(proj1(s))) + x, NAF_i a NAFBlock of width `rank`
    whose depthwise kernel is 3 + 2i. Upstream loops `depth` = 1 + i times but recomputes from the
    same input each time (a bug): the effective depth is 1, which is what this does.
FrequencyEmbedding(f): mean over pixels of GELU(dw3x3 Laplacian(f)) -> Linear 2d -> GELU -> Linear d
    (the Laplacian is a parameter upstream, trainable despite the intent, so it is randomised in goldens).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm(nn.Module):
    """Restormer WithBias channel LayerNorm (key `body.weight`, `body.bias`), eps 1e-5."""

    def __init__(self, dim):
        super().__init__()
        self.body = nn.Module()
        self.body.weight = nn.Parameter(torch.ones(dim))
        self.body.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.body.weight, self.body.bias, 1e-5).permute(0, 3, 1, 2)


class LayerNorm2d(nn.Module):
    """NAFNet LayerNorm2d (keys `weight`, `bias`), eps 1e-6."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, 1e-6).permute(0, 3, 1, 2)


def channel_attention(q, k, v, temperature, heads):
    b, c, h, w = q.shape
    q, k, v = (t.reshape(b, heads, c // heads, h * w) for t in (q, k, v))
    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    a = ((q @ k.transpose(-2, -1)) * temperature).softmax(-1)
    return (a @ v).reshape(b, c, h, w)


def dwconv(c, k):
    return nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False)


class SharedAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, 3 * dim, 1, bias=False)
        self.qkv_dwconv = dwconv(3 * dim, 3)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x):
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, 1)
        return self.project_out(channel_attention(q, k, v, self.temperature, self.heads))


class MixerAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.q = nn.Conv2d(dim, dim, 1, bias=False)
        self.q_dwconv = dwconv(dim, 3)
        self.kv = nn.Conv2d(dim, 2 * dim, 1, bias=False)
        self.kv_dwconv = dwconv(2 * dim, 7)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x, y):
        q = self.q_dwconv(self.q(x))
        k, v = self.kv_dwconv(self.kv(y)).chunk(2, 1)
        return self.project_out(channel_attention(q, k, v, self.temperature, self.heads))


class GDFN(nn.Module):
    def __init__(self, dim, factor):
        super().__init__()
        hidden = int(dim * factor)
        self.project_in = nn.Conv2d(dim, 2 * hidden, 1, bias=False)
        self.dwconv = dwconv(2 * hidden, 3)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=False)

    def forward(self, x):
        a, b = self.dwconv(self.project_in(x)).chunk(2, 1)
        return self.project_out(F.gelu(a) * b)


class NAFBody(nn.Module):
    """Upstream's `FFTAttention` in moe.py, which is in fact a NAFBlock with a chosen dw kernel."""

    def __init__(self, c, kernel):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.conv2 = nn.Conv2d(2 * c, 2 * c, kernel, padding=(kernel - 1) // 2, groups=2 * c)
        self.conv3 = nn.Conv2d(c, c, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp):
        a, b = self.conv2(self.conv1(self.norm1(inp))).chunk(2, 1)
        x = a * b
        x = self.conv3(x * self.sca(x))
        y = inp + x * self.beta
        a, b = self.conv4(self.norm2(y)).chunk(2, 1)
        return y + self.conv5(a * b) * self.gamma


class ModExpert(nn.Module):
    def __init__(self, dim, rank, kernel):
        super().__init__()
        self.proj = nn.ModuleList([nn.Conv2d(dim, rank, 1, bias=False), nn.Conv2d(dim, rank, 1, bias=False),
                                   nn.Conv2d(rank, dim, 1, bias=False)])
        self.body = NAFBody(rank, kernel)

    def forward(self, x, shared):
        return self.proj[2](self.body(self.proj[0](x)) * F.silu(self.proj[1](shared))) + x


class Routing(nn.Module):
    def __init__(self, dim, freq_dim, num_experts):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(dim, num_experts, bias=False))
        self.freq_gate = nn.Linear(freq_dim, num_experts, bias=False)
        # Upstream keeps each expert's relative parameter count as a buffer (unused at inference).
        self.register_buffer("complexity", torch.ones(num_experts))

    def forward(self, x, freq_emb):
        return (self.gate(x) + self.freq_gate(freq_emb)).softmax(-1)


class AdapterLayer(nn.Module):
    def __init__(self, dim, rank, num_experts, freq_dim):
        super().__init__()
        # nn.Sequential of one ModExpert: upstream's MySequential, keys `experts.i.0.*`.
        self.experts = nn.ModuleList([nn.ModuleList([ModExpert(dim, rank, 3 + 2 * i)]) for i in range(num_experts)])
        self.proj_out = nn.Conv2d(dim, dim, 1, bias=False)
        self.routing = Routing(dim, freq_dim, num_experts)
        with torch.no_grad():
            sizes = torch.tensor([float(sum(p.numel() for p in e.parameters())) for e in self.experts])
            self.routing.complexity.copy_(sizes / sizes.max())
        self.last_choice = None

    def forward(self, x, freq_emb, shared):
        p = self.routing(x, freq_emb)
        value, index = p.max(-1)
        self.last_choice = index.tolist()
        outs = [value[i] * self.experts[int(index[i])][0](x[i:i + 1], shared[i:i + 1]) for i in range(x.shape[0])]
        return self.proj_out(torch.cat(outs, 0))


class DecoderBlock(nn.Module):
    def __init__(self, dim, num_heads=4, ffn_expansion_factor=4, rank=2, num_experts=4, freq_dim=1280):
        super().__init__()
        self.norms = nn.ModuleList([LayerNorm(dim), LayerNorm(dim)])
        self.proj = nn.ModuleList([nn.Conv2d(dim, dim, 1), nn.Conv2d(dim, dim, 1)])
        self.shared = SharedAttention(dim, num_heads)
        self.mixer = MixerAttention(dim, num_heads)
        self.ffn = GDFN(dim, ffn_expansion_factor)
        self.adapter = AdapterLayer(dim, rank, num_experts, freq_dim)

    def forward(self, x, freq_emb):
        y = self.norms[0](x)
        x_s = self.shared(self.proj[0](y))
        x_a = self.adapter(self.proj[1](y), freq_emb, x_s)
        self.last_branches = (x_s, x_a)  # for the goldens: the routing weight only shows here
        x = self.mixer(x_a, x_s) + x
        return x + self.ffn(self.norms[1](x))


class FrequencyEmbedding(nn.Module):
    def __init__(self, dim):
        super().__init__()
        hp = nn.Module()
        hp.conv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=False)
        with torch.no_grad():
            lap = torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]])
            hp.conv.weight.copy_(lap.expand(dim, 1, 3, 3))
        self.high_conv = nn.ModuleList([hp])
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        return self.mlp(F.gelu(self.high_conv[0].conv(x)).mean(dim=(-2, -1)))


if __name__ == "__main__":
    for dim in (320, 640, 1280):
        with torch.device("meta"):
            m = DecoderBlock(dim)
        print(dim, len(m.state_dict()), sum(p.numel() for p in m.parameters()))
