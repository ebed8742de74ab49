import IRRuntime
import IRRegistry

/// UniLDiff's LQ encoder (`denoise_encoder`): a trained copy of the SDXL VAE encoder that stops
/// after the mid block (no conv_norm_out / conv_out), giving the top-width feature at the
/// latent's size that DAFF's condition_embedding reads. Same blocks as `VAEEncoder`.
public struct UniLDiffLQEncoder {
    let convIn: Conv2dLayer
    let levels: [(resnets: [ResnetBlock2D], down: Downsample2D?)]
    let mid: VAEMidBlock

    public init(_ w: Weights, config c: SDXLVAEConfig) throws {
        let eps = SDXLVAEConfig.normEps, g = c.normNumGroups
        convIn = try Conv2dLayer(w, "conv_in", out: c.blockOutChannels[0], in: c.inChannels, kernel: 3, padding: 1, bias: true)
        var prev = c.blockOutChannels[0]
        var built = [(resnets: [ResnetBlock2D], down: Downsample2D?)]()
        for (i, ch) in c.blockOutChannels.enumerated() {
            let scope = "down_blocks.\(i)"
            let resnets = try (0..<c.layersPerBlock).map {
                try ResnetBlock2D(w, "\(scope).resnets.\($0)", in: $0 == 0 ? prev : ch, out: ch, groups: g, eps: eps)
            }
            let down = i < c.levels - 1 ? try Downsample2D(w, "\(scope).downsamplers.0", channels: ch, asymmetricPad: true) : nil
            built.append((resnets, down))
            prev = ch
        }
        levels = built
        mid = try VAEMidBlock(w, "mid_block", channels: c.blockOutChannels[c.levels - 1], groups: g)
    }

    /// image in [−1, 1] → [B, top width, H/f, W/f].
    public func callAsFunction(_ ctx: ComputeContext, _ image: Tensor) throws -> Tensor {
        var x = try convIn(ctx, image)
        for level in levels {
            for r in level.resnets { x = try r(ctx, x) }
            if let down = level.down { x = try down(ctx, x) }
        }
        return try mid(ctx, x)
    }
}
