"""Our own PyTorch Restormer and LoRA-Restormer as UniRestorer builds its experts
(github.com/mrluin/UniRestorer @88b933c, `basicsr/models/archs/restormer_arch.py` and
`restormer_lora_arch.py`), written from shared/architectures/unirestorer.md sections 3.1-3.2.

The Restormer block, down/upsampling and patch embedding are the ones in promptir.py (shared
with PromptIR and AnyIR); only the plain U-Net wiring and the LoRA wrapper live here.

State_dict keys, shapes and order are exactly upstream's (checked by
Tools/check_unirestorer_expert_keys.py against the published key list):
- `Restormer` WithBias: 494 keys, 26,126,644 parameters; BiasFree: 406 keys, 26,111,668;
- `LoRARestormer` (r=8, alpha=16 on every conv): 1,042 keys, 31,771,300 parameters.

Upstream behaviour reproduced:
- sides are reflect-padded right/bottom to a multiple of 8 and the output is cropped back
  (`check_image_size`), the global residual adds the *padded* input before the crop;
- loralib's ConvLoRA: lora_A [r*k, in*k], lora_B [out/groups*k, r*k] registered before the
  wrapped conv (`<site>.conv.weight`); the effective weight is
  W + (alpha/r) * (B @ A).view(W.shape), a raw row-major reinterpretation (also for depthwise convs).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from promptir import Downsample, OverlapPatchEmbed, RestormerBlock, Upsample, parameter_count, stack  # noqa: F401

PUBLISHED = dict(dim=48, num_blocks=(4, 6, 6, 8), num_refinement_blocks=4, heads=(1, 2, 4, 8),
                 ffn_expansion_factor=2.66, bias=False)


class Restormer(nn.Module):
    """Restormer (CVPR 2022) with UniRestorer's reflect padding to a multiple of 8."""

    def __init__(self, inp_channels=3, out_channels=3, dim=48, num_blocks=(4, 6, 6, 8), num_refinement_blocks=4,
                 heads=(1, 2, 4, 8), ffn_expansion_factor=2.66, bias=False, LayerNorm_type="WithBias"):
        super().__init__()
        d1, d2, d3, d4 = dim, dim * 2, dim * 4, dim * 8

        def blocks(n, c, h):
            return stack(n, lambda: RestormerBlock(c, h, ffn_expansion_factor, bias, LayerNorm_type))

        # Registration order is the state_dict order; it follows upstream's constructor.
        self.patch_embed = OverlapPatchEmbed(inp_channels, d1)
        self.encoder_level1 = blocks(num_blocks[0], d1, heads[0])
        self.down1_2 = Downsample(d1)
        self.encoder_level2 = blocks(num_blocks[1], d2, heads[1])
        self.down2_3 = Downsample(d2)
        self.encoder_level3 = blocks(num_blocks[2], d3, heads[2])
        self.down3_4 = Downsample(d3)
        self.latent = blocks(num_blocks[3], d4, heads[3])
        self.up4_3 = Upsample(d4)
        self.reduce_chan_level3 = nn.Conv2d(d4, d3, 1, bias=bias)
        self.decoder_level3 = blocks(num_blocks[2], d3, heads[2])
        self.up3_2 = Upsample(d3)
        self.reduce_chan_level2 = nn.Conv2d(d3, d2, 1, bias=bias)
        self.decoder_level2 = blocks(num_blocks[1], d2, heads[1])
        self.up2_1 = Upsample(d2)
        self.decoder_level1 = blocks(num_blocks[0], d2, heads[0])
        self.refinement = blocks(num_refinement_blocks, d2, heads[0])
        self.output = nn.Conv2d(d2, out_channels, 3, padding=1, bias=bias)

    def forward(self, image):
        h, w = image.shape[-2:]
        ph, pw = (-h) % 8, (-w) % 8
        image = F.pad(image, (0, pw, 0, ph), mode="reflect")
        e1 = self.encoder_level1(self.patch_embed(image))
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        x = self.latent(self.down3_4(e3))
        x = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(x), e3], 1)))
        x = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(x), e2], 1)))
        x = self.decoder_level1(torch.cat([self.up2_1(x), e1], 1))
        return (self.output(self.refinement(x)) + image)[:, :, :h, :w]


class ConvLoRA(nn.Module):
    """loralib 0.1.2 `ConvLoRA` semantics, our own code: the wrapped conv plus low-rank factors whose
    product, reinterpreted row-major as the conv weight, is added with scale alpha / r."""

    def __init__(self, conv, r, lora_alpha):
        super().__init__()
        k = conv.kernel_size[0]
        out_c, in_c, groups = conv.out_channels, conv.in_channels, conv.groups
        self.lora_A = nn.Parameter(torch.zeros(r * k, in_c * k))
        self.lora_B = nn.Parameter(torch.zeros(out_c // groups * k, r * k))
        self.conv = conv
        self.scaling = lora_alpha / r
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def effective_weight(self):
        """What `model.eval()` merges into conv.weight upstream."""
        return self.conv.weight + (self.lora_B @ self.lora_A).view(self.conv.weight.shape) * self.scaling

    def forward(self, x):
        return self.conv._conv_forward(x, self.effective_weight(), self.conv.bias)


def _wrap_convs(module, r, lora_alpha):
    # Replacing a child in place keeps its position in _modules, hence the state_dict order.
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Conv2d):
            setattr(module, name, ConvLoRA(child, r, lora_alpha))
        else:
            _wrap_convs(child, r, lora_alpha)


class LoRARestormer(Restormer):
    """UniRestorer's `LoRARestormer`: every nn.Conv2d of the Restormer wrapped by ConvLoRA.
    Upstream takes per-level lists r=[8]*4, lora_alpha=[16]*4; every level is the same in the release."""

    def __init__(self, r=8, lora_alpha=16, **kwargs):
        super().__init__(**kwargs)
        _wrap_convs(self, r, lora_alpha)


def merged_state_dict(net):
    """The LoRA-Restormer's weights as a plain Restormer state_dict (W + scale * view(B @ A))."""
    out = {}
    sites = {name: m for name, m in net.named_modules() if isinstance(m, ConvLoRA)}
    with torch.no_grad():
        for key, value in net.state_dict().items():
            site = key.rsplit(".", 1)[0]
            if key.endswith((".lora_A", ".lora_B")) and site in sites:
                continue
            if key.endswith(".conv.weight") and key[: -len(".conv.weight")] in sites:
                name = key[: -len(".conv.weight")]
                out[name + ".weight"] = sites[name].effective_weight().detach().clone()
                continue
            out[key] = value
    return out
