import IRRuntime

/// Sizes of UniLDiff's DAFF and its two helper modules (upstream `DiTBlock` defaults in `full`).
public struct DAFFConfig: Sendable, Equatable {
    /// Channels of the UNet's conv_in output (and of condition_embedding's output).
    public var latentChannels: Int
    /// Channels of the LQ encoder feature fed to condition_embedding.
    public var conditioningChannels: Int
    public var hidden: Int
    public var heads: Int
    public var mlpRatio: Double
    public var doubleBlocks: Int
    public var singleBlocks: Int

    public init(latentChannels: Int, conditioningChannels: Int, hidden: Int, heads: Int, mlpRatio: Double = 4,
                doubleBlocks: Int = 1, singleBlocks: Int = 1) {
        self.latentChannels = latentChannels
        self.conditioningChannels = conditioningChannels
        self.hidden = hidden
        self.heads = heads
        self.mlpRatio = mlpRatio
        self.doubleBlocks = doubleBlocks
        self.singleBlocks = singleBlocks
    }

    /// The published layout: 320 channels, 512-channel LQ feature, hidden 1024, 16 heads, depth 1 + 1.
    public static let full = DAFFConfig(latentChannels: 320, conditioningChannels: 512, hidden: 1024, heads: 16)

    /// Width of the FLUX timestep sinusoid the time MLPs read.
    public static let timestepDimension = 256
    /// GroupNorm groups of condition_embedding.
    public static let conditioningGroups = 32
}

/// `condition_embedding` (ControlNetConditioningEmbedding(320, 512)): GroupNorm(32, eps 1e-6)
/// first, then conv3×3, SiLU, conv3×3 to the latent width (zero-initialised upstream).
public struct DAFFConditionEmbedding {
    let normWeight: Tensor, normBias: Tensor
    let convIn: Conv2dLayer, convOut: Conv2dLayer

    public init(_ w: Weights, config c: DAFFConfig) throws {
        guard c.conditioningChannels % DAFFConfig.conditioningGroups == 0 else {
            throw ModelError("condition_embedding: \(c.conditioningChannels) channels do not split into 32 groups")
        }
        normWeight = try w.tensor("norm_in.weight", shape: [c.conditioningChannels])
        normBias = try w.tensor("norm_in.bias", shape: [c.conditioningChannels])
        convIn = try Conv2dLayer(w, "conv_in", out: c.conditioningChannels, in: c.conditioningChannels, kernel: 3,
                                 padding: 1, bias: true)
        convOut = try Conv2dLayer(w, "conv_out", out: c.latentChannels, in: c.conditioningChannels, kernel: 3,
                                  padding: 1, bias: true)
    }

    public func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        let n = try ctx.groupNorm(x, groups: DAFFConfig.conditioningGroups, weight: normWeight, bias: normBias, eps: 1e-6)
        return try convOut(ctx, try ctx.silu(try convIn(ctx, n)))
    }
}

/// UniLDiff's DAFF transformer (`information_transformer_layers`, upstream `DiTBlock`).
///
///     img = latent_in(tokens(x)), txt = cond_in(tokens(contexts))         [B, hw, hidden]
///     vec = time_in(e), vec2 = time_in2(e), e = [cos, sin](1000·t · f_k)    f_k = 10000^(−k/128)
///     for each double block: txt = block(img = latent_in, txt).txt          (img output dropped)
///     y = cat([txt, latent_in], channels)                                   [B, hw, 2·hidden]
///     y = single blocks(y, vec2); return final_layer(y, vec2)               [B, hw, hidden]
///
/// These are upstream's quirks, kept because trained weights expect them: the ×1000 time factor
/// on integer DDPM steps, no positional embedding, the discarded img stream.
public final class DAFFTransformer {
    public let config: DAFFConfig
    let latentIn: LinearLayer, condIn: LinearLayer
    let timeIn: MLPEmbedder, timeIn2: MLPEmbedder
    let doubleBlocks: [DoubleStreamBlock]
    let singleBlocks: [SingleStreamBlock]
    let finalLayer: DAFFFinalLayer

    public init(_ w: Weights, config c: DAFFConfig) throws {
        guard c.hidden % c.heads == 0 else { throw ModelError("DAFF: hidden \(c.hidden) does not split into \(c.heads) heads") }
        config = c
        let h = c.hidden
        let t = DAFFConfig.timestepDimension
        latentIn = try LinearLayer(w, "latent_in", out: h, in: c.latentChannels, bias: true)
        condIn = try LinearLayer(w, "cond_in", out: h, in: c.latentChannels, bias: true)
        timeIn = try MLPEmbedder(w.scoped("time_in"), in: t, hidden: h)
        timeIn2 = try MLPEmbedder(w.scoped("time_in2"), in: t, hidden: 2 * h)
        // Python's int(hidden * mlp_ratio).
        let mlp = Int((Double(h) * c.mlpRatio).rounded(.towardZero))
        let mlp2 = Int((Double(2 * h) * c.mlpRatio).rounded(.towardZero))
        doubleBlocks = try (0..<c.doubleBlocks).map {
            try DoubleStreamBlock(w.scoped("double_blocks.\($0)"), dim: h, heads: c.heads, mlpHidden: mlp)
        }
        singleBlocks = try (0..<c.singleBlocks).map {
            try SingleStreamBlock(w.scoped("single_blocks.\($0)"), dim: 2 * h, heads: c.heads, mlpHidden: mlp2)
        }
        finalLayer = try DAFFFinalLayer(w.scoped("final_layer"), dim: 2 * h)
    }

    /// x, contexts: [B, latentChannels, h, w]; timesteps: one for the batch, or one per sample
    /// (the UNet timestep, 0...999). Returns [B, h·w, hidden].
    public func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, timesteps: [Float], contexts: Tensor) throws -> Tensor {
        let c = config.latentChannels
        guard x.rank == 4, x.shape[1] == c, contexts.shape == x.shape else {
            throw ModelError("DAFF expects the conv_in output and the condition embedding as two [B, \(c), h, w] tensors of one shape, got \(x.shape) and \(contexts.shape)")
        }
        guard timesteps.count == 1 || timesteps.count == x.shape[0] else {
            throw ModelError("DAFF takes one timestep or one per sample, got \(timesteps.count) for a batch of \(x.shape[0])")
        }
        let latent = try latentIn(ctx, try ctx.imageTokens(x))
        var cond = try condIn(ctx, try ctx.imageTokens(contexts))
        let e = try ctx.timestepEmbedding(timesteps, dim: DAFFConfig.timestepDimension, downscaleFreqShift: 0,
                                          flipSinToCos: true, timeFactor: 1000)
        let vec = try timeIn(ctx, e), vec2 = try timeIn2(ctx, e)
        for block in doubleBlocks {
            cond = try block(ctx, img: latent, txt: cond, vec: vec).txt
        }
        var y = try ctx.concat([cond, latent], dim: 2)
        for block in singleBlocks {
            y = try block(ctx, y, vec: vec2)
        }
        return try finalLayer(ctx, y, vec: vec2)
    }
}

/// The three modules UniLDiff adds to the SDXL UNet, applied right after `conv_in`:
/// sample = x + spatial_ch_projs(DAFF(x, t, condition_embedding(LQ feature))) as [B, C, h, w].
/// Weights are read under `information_transformer_layers.`, `condition_embedding.` and
/// `spatial_ch_projs.` (the UNet-relative upstream names).
public final class DAFFInjection {
    public let config: DAFFConfig
    public let conditionEmbedding: DAFFConditionEmbedding
    public let transformer: DAFFTransformer
    let spatialProjection: LinearLayer

    public init(_ w: Weights, config c: DAFFConfig = .full) throws {
        config = c
        conditionEmbedding = try DAFFConditionEmbedding(w.scoped("condition_embedding"), config: c)
        transformer = try DAFFTransformer(w.scoped("information_transformer_layers"), config: c)
        spatialProjection = try LinearLayer(w, "spatial_ch_projs", out: c.latentChannels, in: c.hidden, bias: true)
    }

    /// sample: conv_in output [B, C, h, w]; lqFeature: LQ encoder output [B, conditioningChannels, h, w].
    /// The same LQ feature serves both halves of a CFG batch (upstream duplicates it).
    public func callAsFunction(_ ctx: ComputeContext, sample: Tensor, timesteps: [Float], lqFeature: Tensor) throws -> Tensor {
        guard lqFeature.rank == 4, lqFeature.shape[1] == config.conditioningChannels, sample.rank == 4,
              lqFeature.shape[0] == sample.shape[0], Array(lqFeature.shape[2...]) == Array(sample.shape[2...]) else {
            throw ModelError("DAFF: the LQ feature must be [\(sample.shape.first ?? 1), \(config.conditioningChannels), h, w] at the latent's size, got \(lqFeature.shape) for a latent of \(sample.shape)")
        }
        let contexts = try conditionEmbedding(ctx, lqFeature)
        let y = try transformer(ctx, sample, timesteps: timesteps, contexts: contexts)
        let (b, c, h, w) = (sample.shape[0], sample.shape[1], sample.shape[2], sample.shape[3])
        let update = try ctx.transpose(try spatialProjection(ctx, y), 1, 2).reshaped([b, c, h, w])
        return try ctx.add(sample, update)
    }
}

extension ComputeContext {
    /// [B, C, H, W] → [B, H·W, C] (`x.view(B, C, HW).permute(0, 2, 1)`).
    func imageTokens(_ x: Tensor) throws -> Tensor {
        let (b, c) = (x.shape[0], x.shape[1])
        return try transpose(try x.reshaped([b, c, x.shape[2] * x.shape[3]]), 1, 2)
    }
}
