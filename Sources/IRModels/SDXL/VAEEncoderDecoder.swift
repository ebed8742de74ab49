import IRRuntime
import IRRegistry

/// The VAE's mid block (`UNetMidBlock2D`): resnet → single-head attention → resnet.
struct VAEMidBlock {
    let resnet0: ResnetBlock2D
    let attention: SpatialSelfAttention
    let resnet1: ResnetBlock2D

    init(_ w: Weights, _ name: String, channels c: Int, groups: Int) throws {
        let eps = SDXLVAEConfig.normEps
        resnet0 = try ResnetBlock2D(w, name + ".resnets.0", in: c, out: c, groups: groups, eps: eps)
        attention = try SpatialSelfAttention(w, name + ".attentions.0", channels: c, groups: groups, eps: eps)
        resnet1 = try ResnetBlock2D(w, name + ".resnets.1", in: c, out: c, groups: groups, eps: eps)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try resnet1(ctx, try attention(ctx, try resnet0(ctx, x)))
    }
}

/// diffusers `Encoder` (double_z): conv_in → down blocks (resnets, then a stride-2 downsampler
/// on every level but the last) → mid block → GroupNorm → SiLU → conv_out to 2·latent channels.
///
/// `withOutput: false` builds it without conv_norm_out/conv_out: UniLDiff's LQ encoder
/// (`denoise_encoder`, a copy of the VAE encoder minus those layers) returns the mid-block
/// features, `features(_:_:)`; `scope` names where the weights live ("encoder", "denoise_encoder").
public struct VAEEncoder {
    let convIn: Conv2dLayer
    let levels: [(resnets: [ResnetBlock2D], down: Downsample2D?)]
    let mid: VAEMidBlock
    let output: (norm: GroupNormLayer, conv: Conv2dLayer)?

    public init(_ w: Weights, config c: SDXLVAEConfig, scope: String = "encoder", withOutput: Bool = true) throws {
        let eps = SDXLVAEConfig.normEps, g = c.normNumGroups, top = c.blockOutChannels[c.levels - 1]
        convIn = try Conv2dLayer(w, "\(scope).conv_in", out: c.blockOutChannels[0], in: c.inChannels, kernel: 3, padding: 1, bias: true)
        var prev = c.blockOutChannels[0]
        var built = [(resnets: [ResnetBlock2D], down: Downsample2D?)]()
        for (i, ch) in c.blockOutChannels.enumerated() {
            let level = "\(scope).down_blocks.\(i)"
            let resnets = try (0..<c.layersPerBlock).map {
                try ResnetBlock2D(w, "\(level).resnets.\($0)", in: $0 == 0 ? prev : ch, out: ch, groups: g, eps: eps)
            }
            let down = i < c.levels - 1 ? try Downsample2D(w, "\(level).downsamplers.0", channels: ch, asymmetricPad: true) : nil
            built.append((resnets, down))
            prev = ch
        }
        levels = built
        mid = try VAEMidBlock(w, "\(scope).mid_block", channels: top, groups: g)
        output = withOutput ? (try GroupNormLayer(w, "\(scope).conv_norm_out", channels: top, groups: g, eps: eps),
                               try Conv2dLayer(w, "\(scope).conv_out", out: 2 * c.latentChannels, in: top, kernel: 3, padding: 1, bias: true)) : nil
    }

    /// The mid block's output [B, top channels, H/f, W/f].
    public func features(_ ctx: ComputeContext, _ image: Tensor) throws -> Tensor {
        var x = try convIn(ctx, image)
        for level in levels {
            for r in level.resnets { x = try r(ctx, x) }
            if let down = level.down { x = try down(ctx, x) }
        }
        return try mid(ctx, x)
    }

    public func callAsFunction(_ ctx: ComputeContext, _ image: Tensor) throws -> Tensor {
        guard let output else { throw ModelError("this VAE encoder was built without conv_norm_out/conv_out: use its features") }
        return try output.conv(ctx, try ctx.silu(try output.norm(ctx, try features(ctx, image))))
    }
}

/// diffusers `Decoder`: conv_in → mid block → up blocks (layers_per_block + 1 resnets, then a
/// nearest ×2 + conv upsampler on every level but the last; up_blocks.0 is the lowest resolution)
/// → GroupNorm → SiLU → conv_out.
struct VAEDecoder {
    let convIn: Conv2dLayer
    let mid: VAEMidBlock
    let levels: [(resnets: [ResnetBlock2D], up: Upsample2D?)]
    let normOut: GroupNormLayer
    let convOut: Conv2dLayer

    init(_ w: Weights, config c: SDXLVAEConfig) throws {
        let eps = SDXLVAEConfig.normEps, g = c.normNumGroups, top = c.blockOutChannels[c.levels - 1]
        convIn = try Conv2dLayer(w, "decoder.conv_in", out: top, in: c.latentChannels, kernel: 3, padding: 1, bias: true)
        mid = try VAEMidBlock(w, "decoder.mid_block", channels: top, groups: g)
        var prev = top
        var built = [(resnets: [ResnetBlock2D], up: Upsample2D?)]()
        for (i, ch) in c.blockOutChannels.reversed().enumerated() {
            let scope = "decoder.up_blocks.\(i)"
            let resnets = try (0...c.layersPerBlock).map {
                try ResnetBlock2D(w, "\(scope).resnets.\($0)", in: $0 == 0 ? prev : ch, out: ch, groups: g, eps: eps)
            }
            let up = i < c.levels - 1 ? try Upsample2D(w, "\(scope).upsamplers.0", channels: ch) : nil
            built.append((resnets, up))
            prev = ch
        }
        levels = built
        normOut = try GroupNormLayer(w, "decoder.conv_norm_out", channels: c.blockOutChannels[0], groups: g, eps: eps)
        convOut = try Conv2dLayer(w, "decoder.conv_out", out: c.outChannels, in: c.blockOutChannels[0], kernel: 3, padding: 1, bias: true)
    }

    func callAsFunction(_ ctx: ComputeContext, _ z: Tensor) throws -> Tensor {
        var x = try mid(ctx, try convIn(ctx, z))
        for level in levels {
            for r in level.resnets { x = try r(ctx, x) }
            if let up = level.up { x = try up(ctx, x) }
        }
        return try convOut(ctx, try ctx.silu(try normOut(ctx, x)))
    }
}
