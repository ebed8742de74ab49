"""Our own PyTorch NAFNet / NAFNetLocal (ECCV 2022, github.com/megvii-research/NAFNet, as copied
into github.com/mrluin/UniRestorer @88b933c `basicsr/models/archs/nafnet_arch.py`,
`nafnet_local_arch.py`), written from shared/architectures/unirestorer.md section 3.5.

State_dict keys, shapes and order are exactly upstream's: NAFNetLocal width 64, enc [1,1,1,28],
middle 1, dec [1,1,1,1] has 664 keys and 67,888,835 parameters (Tools/check_unirestorer_expert_keys.py).

Upstream behaviour reproduced:
- zero padding right/bottom to a multiple of 2**len(encoders), cropped back after `ending(x) + inp`;
- decoders add the skip (no concatenation); LayerNorm2d over channels with eps 1e-6;
- NAFNetLocal (TLSC) replaces each SCA's AdaptiveAvgPool2d(1) by a local box mean whose kernel is
  fixed once, by a forward pass of a random train_size image at construction:
  kernel = feature_side * base // train_side with base = int(1.5 * train_side); at run time a
  feature map no larger than the kernel in both sides gets the global mean, a larger one the valid
  box mean of k = min(side, kernel) from an integral image, replicate-padded back (floor before,
  ceil after). fast_imp=False (the default UniRestorer uses).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

PUBLISHED = dict(width=64, enc_blk_nums=(1, 1, 1, 28), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))


class LayerNorm2d(nn.Module):
    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


def simple_gate(x):
    x1, x2 = x.chunk(2, dim=1)
    return x1 * x2


class NAFBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        dw = c * 2
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp):
        x = simple_gate(self.conv2(self.conv1(self.norm1(inp))))
        x = self.conv3(x * self.sca(x))
        y = inp + x * self.beta
        x = self.conv5(simple_gate(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFNet(nn.Module):
    def __init__(self, img_channel=3, width=16, middle_blk_num=1, enc_blk_nums=(), dec_blk_nums=()):
        super().__init__()
        self.intro = nn.Conv2d(img_channel, width, 3, padding=1)
        self.ending = nn.Conv2d(width, img_channel, 3, padding=1)
        self.encoders, self.decoders = nn.ModuleList(), nn.ModuleList()
        self.middle_blks, self.ups, self.downs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        chan = width
        for n in enc_blk_nums:
            self.encoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(n)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            chan *= 2
        self.middle_blks = nn.Sequential(*[NAFBlock(chan) for _ in range(middle_blk_num)])
        for n in dec_blk_nums:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(n)]))
        self.padder_size = 2 ** len(self.encoders)

    def forward(self, inp):
        h, w = inp.shape[-2:]
        m = self.padder_size
        inp = F.pad(inp, (0, (m - w % m) % m, 0, (m - h % m) % m))
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = decoder(up(x) + skip)
        return (self.ending(x) + inp)[:, :, :h, :w]


class LocalAvgPool2d(nn.Module):
    """TLSC's local average pooling (upstream `AvgPool2d` with auto_pad, fast_imp=False)."""

    def __init__(self, base_size, train_size):
        super().__init__()
        self.base_size = base_size
        self.train_size = train_size
        self.kernel_size = None

    def forward(self, x):
        if self.kernel_size is None:  # the construction-time pass fixes the kernel
            self.kernel_size = [x.shape[2] * self.base_size[0] // self.train_size[-2],
                                x.shape[3] * self.base_size[1] // self.train_size[-1]]
        n, c, h, w = x.shape
        if self.kernel_size[0] >= h and self.kernel_size[1] >= w:
            return F.adaptive_avg_pool2d(x, 1)
        s = F.pad(x.cumsum(dim=-1).cumsum(dim=-2), (1, 0, 1, 0))
        k1, k2 = min(h, self.kernel_size[0]), min(w, self.kernel_size[1])
        out = (s[:, :, k1:, k2:] + s[:, :, :-k1, :-k2] - s[:, :, :-k1, k2:] - s[:, :, k1:, :-k2]) / (k1 * k2)
        dh, dw = h - out.shape[2], w - out.shape[3]
        return F.pad(out, (dw // 2, (dw + 1) // 2, dh // 2, (dh + 1) // 2), mode="replicate")


class NAFNetLocal(NAFNet):
    def __init__(self, *args, train_size=(1, 3, 256, 256), **kwargs):
        super().__init__(*args, **kwargs)
        _, _, th, tw = train_size
        base = (int(th * 1.5), int(tw * 1.5))
        for block in self.modules():
            if isinstance(block, NAFBlock):
                block.sca[0] = LocalAvgPool2d(base, train_size)
        self.eval()
        if not next(self.parameters()).is_meta:
            with torch.no_grad():
                self.forward(torch.rand(train_size))

    def kernel_sizes(self):
        return [b.sca[0].kernel_size for b in self.modules() if isinstance(b, NAFBlock)]


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())
