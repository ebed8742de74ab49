"""diffusers -> original single-file (LDM VAE / SGM UNet) key names, written by inverting the
index formulas of diffusers' single_file_utils converters (convert_ldm_vae_checkpoint,
convert_ldm_unet_checkpoint). Used by the SDXL golden generators; each generator checks the
result by running diffusers' own converter on it and comparing with the original state_dict.
"""
import re


def vae_diffusers_to_ldm(sd, levels):
    """diffusers AutoencoderKL state_dict -> LDM names (1x1-conv attention kernels [C, C, 1, 1])."""
    out = {}
    for k, v in sd.items():
        n = k
        n = re.sub(r"^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.", r"encoder.down.\1.block.\2.", n)
        n = re.sub(r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", r"encoder.down.\1.downsample.", n)
        n = re.sub(r"^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.",
                   lambda m: "decoder.up.%d.block.%s." % (levels - 1 - int(m[1]), m[2]), n)
        n = re.sub(r"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.",
                   lambda m: "decoder.up.%d.upsample." % (levels - 1 - int(m[1])), n)
        n = n.replace(".conv_shortcut.", ".nin_shortcut.")
        n = re.sub(r"\.mid_block\.resnets\.0\.", ".mid.block_1.", n)
        n = re.sub(r"\.mid_block\.resnets\.1\.", ".mid.block_2.", n)
        n = n.replace(".mid_block.attentions.0.group_norm.", ".mid.attn_1.norm.")
        attn = {"to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
        m = re.match(r"^(encoder|decoder)\.mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$", n)
        if m:
            n = "%s.mid.attn_1.%s.%s" % (m[1], attn[m[2]], m[3])
            if m[3] == "weight":
                v = v.reshape(*v.shape, 1, 1)
        n = re.sub(r"^(encoder|decoder)\.conv_norm_out\.", r"\1.norm_out.", n)
        out[n] = v
    return out


def _unet_resnet(n):
    """diffusers ResnetBlock2D suffix -> SGM ResBlock suffix."""
    for a, b in [("norm1.", "in_layers.0."), ("conv1.", "in_layers.2."), ("time_emb_proj.", "emb_layers.1."),
                 ("norm2.", "out_layers.0."), ("conv2.", "out_layers.3."), ("conv_shortcut.", "skip_connection.")]:
        if n.startswith(a):
            return b + n[len(a):]
    raise KeyError(n)


def unet_diffusers_to_sgm(sd, layers_per_block, levels):
    """diffusers UNet2DConditionModel state_dict -> SGM `model.diffusion_model.*` names.

    input_blocks.{1 + level*(L+1) + r}.0 = down_blocks.{level}.resnets.{r} (.1 = attentions.{r}),
    input_blocks.{(level+1)*(L+1)}.0.op = down_blocks.{level}.downsamplers.0.conv,
    output_blocks.{level*(L+1) + r}.0 = up_blocks.{level}.resnets.{r} (r = 0..L; .1 = attentions.{r}),
    the upsampler in output_blocks.{level*(L+1) + L} at .1.conv (no attention) or .2.conv;
    middle_block.{0,1,2}.
    """
    L = layers_per_block
    out = {}
    for k, v in sd.items():
        n = None
        m = re.match(r"^down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)$", k)
        if m:
            i = 1 + int(m[1]) * (L + 1) + int(m[3])
            rest = _unet_resnet(m[4]) if m[2] == "resnets" else m[4]
            n = "input_blocks.%d.%d.%s" % (i, 0 if m[2] == "resnets" else 1, rest)
        mm = re.match(r"^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)$", k)
        if mm:
            n = "input_blocks.%d.0.op.%s" % ((int(mm[1]) + 1) * (L + 1), mm[2])
        mm = re.match(r"^up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)$", k)
        if mm:
            i = int(mm[1]) * (L + 1) + int(mm[3])
            rest = _unet_resnet(mm[4]) if mm[2] == "resnets" else mm[4]
            n = "output_blocks.%d.%d.%s" % (i, 0 if mm[2] == "resnets" else 1, rest)
        mm = re.match(r"^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)$", k)
        if mm:
            b = int(mm[1])
            has_attn = any(x.startswith("up_blocks.%d.attentions." % b) for x in sd)
            n = "output_blocks.%d.%d.conv.%s" % (b * (L + 1) + L, 2 if has_attn else 1, mm[2])
        mm = re.match(r"^mid_block\.resnets\.(\d)\.(.*)$", k)
        if mm:
            n = "middle_block.%d.%s" % (0 if mm[1] == "0" else 2, _unet_resnet(mm[2]))
        mm = re.match(r"^mid_block\.attentions\.0\.(.*)$", k)
        if mm:
            n = "middle_block.1." + mm[1]
        fixed = {"conv_in.": "input_blocks.0.0.", "time_embedding.linear_1.": "time_embed.0.",
                 "time_embedding.linear_2.": "time_embed.2.", "add_embedding.linear_1.": "label_emb.0.0.",
                 "add_embedding.linear_2.": "label_emb.0.2.", "conv_norm_out.": "out.0.", "conv_out.": "out.2."}
        for a, b in fixed.items():
            if k.startswith(a):
                n = b + k[len(a):]
        if n is None:
            raise KeyError(k)
        out["model.diffusion_model." + n] = v
    return out


RESNET_SGM_TO_DIFFUSERS = [("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("emb_layers.1", "time_emb_proj"),
                           ("out_layers.0", "norm2"), ("out_layers.3", "conv2"), ("skip_connection", "conv_shortcut")]


def sgm_unet_rename_rules(layers_per_block=2, levels=3):
    """The `sgm` layout's rename rules of Zoo/sdxl-unet.json (after `model.diffusion_model.` is
    stripped): one rule per index the formulas above produce, since a manifest rule cannot do
    arithmetic. Rules for `levels` also cover every smaller UNet with the same layers_per_block.
    Only the first matching rule applies, so the upsampler rules come before the attention ones.
    """
    L = layers_per_block
    rules = [("input_blocks.0.0.{p}", "conv_in.{p}"),
             ("time_embed.0.{p}", "time_embedding.linear_1.{p}"), ("time_embed.2.{p}", "time_embedding.linear_2.{p}"),
             ("label_emb.0.0.{p}", "add_embedding.linear_1.{p}"), ("label_emb.0.2.{p}", "add_embedding.linear_2.{p}"),
             ("out.0.{p}", "conv_norm_out.{p}"), ("out.2.{p}", "conv_out.{p}")]

    def resnet(src, dst):
        return [("%s.%s.{p}" % (src, a), "%s.%s.{p}" % (dst, b)) for a, b in RESNET_SGM_TO_DIFFUSERS]

    for level in range(levels):
        for r in range(L):
            i = 1 + level * (L + 1) + r
            rules += resnet("input_blocks.%d.0" % i, "down_blocks.%d.resnets.%d" % (level, r))
            rules.append(("input_blocks.%d.1.{rest*}" % i, "down_blocks.%d.attentions.%d.{rest}" % (level, r)))
        if level < levels - 1:
            rules.append(("input_blocks.%d.0.op.{p}" % ((level + 1) * (L + 1)), "down_blocks.%d.downsamplers.0.conv.{p}" % level))
    rules += resnet("middle_block.0", "mid_block.resnets.0")
    rules.append(("middle_block.1.{rest*}", "mid_block.attentions.0.{rest}"))
    rules += resnet("middle_block.2", "mid_block.resnets.1")
    for level in range(levels):
        if level < levels - 1:
            i = level * (L + 1) + L
            for slot in (1, 2):
                rules.append(("output_blocks.%d.%d.conv.{p}" % (i, slot), "up_blocks.%d.upsamplers.0.conv.{p}" % level))
        for r in range(L + 1):
            i = level * (L + 1) + r
            rules += resnet("output_blocks.%d.0" % i, "up_blocks.%d.resnets.%d" % (level, r))
            rules.append(("output_blocks.%d.1.{rest*}" % i, "up_blocks.%d.attentions.%d.{rest}" % (level, r)))
    return [{"from": a, "to": b} for a, b in rules]


if __name__ == "__main__":
    # Rewrites the sgm layout's renames in Zoo/sdxl-unet.json (the next build embeds it).
    import collections
    import json
    import os
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Zoo", "sdxl-unet.json")
    with open(path) as f:
        d = json.load(f, object_pairs_hook=collections.OrderedDict)
    for layout in d["layouts"]:
        if layout["name"] == "sgm":
            layout["renames"] = sgm_unet_rename_rules()
    with open(path, "w") as f:
        json.dump(d, f, indent=2, ensure_ascii=False)
        f.write("\n")
