"""Our own PyTorch SRVGGNetCompact (Real-ESRGAN's "Compact"), written from
github.com/XPixelGroup/BasicSR `basicsr/archs/srvgg_arch.py` @8d56e3a (the same module as
github.com/xinntao/Real-ESRGAN `realesrgan/archs/srvgg_arch.py`).

State_dict keys: `body.{2i}` convs and `body.{2i+1}` PReLU weights [num_feat] (ReLU and
LeakyReLU(0.1) have none), the last conv `body.{2 num_conv + 2}` with num_out_ch * upscale^2
outputs. Forward: body, PixelShuffle(upscale), plus the nearest-upsampled input.
"""
import torch.nn as nn
import torch.nn.functional as F

# realesr-general-x4v3 (S) and realesr-animevideov3 (XS), inference_realesrgan.py @a4abfb2.
PUBLISHED = {
    "realesr-general-x4v3": dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=32, upscale=4, act_type="prelu"),
    "realesr-animevideov3": dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type="prelu"),
}


def activation(act_type, num_feat):
    if act_type == "prelu":
        return nn.PReLU(num_parameters=num_feat)
    if act_type == "relu":
        return nn.ReLU()
    if act_type == "leakyrelu":
        return nn.LeakyReLU(0.1)
    raise ValueError(act_type)


class SRVGGNetCompact(nn.Module):
    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type="prelu"):
        super().__init__()
        self.upscale = upscale
        layers = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), activation(act_type, num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), activation(act_type, num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.body = nn.ModuleList(layers)

    def forward(self, x):
        out = x
        for layer in self.body:
            out = layer(out)
        return F.pixel_shuffle(out, self.upscale) + F.interpolate(x, scale_factor=self.upscale, mode="nearest")
