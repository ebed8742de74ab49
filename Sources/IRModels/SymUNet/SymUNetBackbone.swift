import IRRuntime
import IRRegistry

/// The SymUNet network without any guidance: NAFNet's skeleton (`intro`, `encoders`, `downs`,
/// `middle_blks`, `ups`, `decoders`, `ending`) with Restormer blocks, additive skips and a global
/// residual. SE-SymUNet runs the same parts with its cross-attention in between.
/// Upstream: basicsr/models/archs/SymUNet_arch.py (WenlongJiao/SymUNet at c3f0aac).
final class SymUNetBackbone {
    let config: SymUNetConfig
    let intro: Conv2dLayer
    let ending: Conv2dLayer
    let encoders: [RestormerStack]
    let downs: [Conv2dLayer]
    let middle: RestormerStack
    /// 1×1 conv to 2C without bias; PixelShuffle(2) follows.
    let ups: [Conv2dLayer]
    let decoders: [RestormerStack]

    init(_ w: Weights, config c: SymUNetConfig) throws {
        config = c
        let stack = { (scope: String, n: Int, dim: Int, heads: Int) in
            try RestormerStack(w, scope, count: n, dim: dim, heads: heads, ffnExpansionFactor: c.ffnExpansionFactor,
                               bias: c.bias, layerNorm: c.layerNorm)
        }
        intro = try Conv2dLayer(w, "intro", out: c.width, in: c.imageChannels, kernel: 3, padding: 1, bias: true)
        ending = try Conv2dLayer(w, "ending", out: c.imageChannels, in: c.width, kernel: 3, padding: 1, bias: true)
        encoders = try (0..<c.levels).map { i in try stack("encoders.\(i)", c.encoderBlocks[i], c.channels(level: i), c.heads[i]) }
        downs = try (0..<c.levels).map { i in
            try Conv2dLayer(w, "downs.\(i)", out: c.channels(level: i) * 2, in: c.channels(level: i), kernel: 2, stride: 2, bias: true)
        }
        middle = try stack("middle_blks", c.middleBlocks, c.middleChannels, c.middleHeads)
        ups = try (0..<c.levels).map { d in
            let ch = c.channels(level: c.levels - d)
            return try Conv2dLayer(w, "ups.\(d).0", out: ch * 2, in: ch, kernel: 1, bias: false)
        }
        decoders = try (0..<c.levels).map { d in
            try stack("decoders.\(d)", c.decoderBlocks[d], c.channels(level: c.levels - 1 - d), c.decoderHeads(d))
        }
    }

    var blockCount: Int { config.encoderBlocks.reduce(0, +) + config.middleBlocks + config.decoderBlocks.reduce(0, +) }

    /// Upstream's `check_image_size`: reflect padding at the right and bottom up to a multiple of
    /// `padder_size` (2^levels · 4); reflect excludes the edge sample, so pad < side is required.
    func padInput(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        let m = config.padMultiple
        let (h, w) = (x.shape[2], x.shape[3])
        let ph = (m - h % m) % m, pw = (m - w % m) % m
        if ph == 0 && pw == 0 { return x }
        return try ctx.pad(x, [0, pw, 0, ph], mode: .reflect)
    }

    /// The smallest side reflect padding accepts: pad(s) < s, or no padding at all.
    static func minimumSide(padMultiple m: Int) -> Int {
        var s = 1
        while true {
            let p = (m - s % m) % m
            if p == 0 || p < s { return s }
            s += 1
        }
    }

    /// The encoder half: features after `intro` and every encoder level, and the bottleneck input.
    func encode(_ ctx: ComputeContext, _ padded: Tensor, step: () -> Void) throws -> (x: Tensor, skips: [Tensor]) {
        var x = try intro(ctx, padded)
        var skips = [Tensor]()
        for i in 0..<config.levels {
            x = try encoders[i](ctx, x, step: step)
            skips.append(x)
            x = try downs[i](ctx, x)
        }
        return (x, skips)
    }

    /// `ups[d]` then the additive skip of the mirrored encoder level.
    func upsample(_ ctx: ComputeContext, _ x: Tensor, level d: Int, skips: [Tensor]) throws -> Tensor {
        let up = try ctx.pixelShuffle(try ups[d](ctx, x), 2)
        return try ctx.add(up, skips[config.levels - 1 - d])
    }

    /// `ending(x) + padded input`, cropped back to the input's size; no clamp (upstream has none).
    func finish(_ ctx: ComputeContext, _ x: Tensor, padded: Tensor, height: Int, width: Int) throws -> Tensor {
        let y = try ctx.add(try ending(ctx, x), padded)
        if y.shape[2] == height && y.shape[3] == width { return y }
        return try ctx.crop(y, top: 0, left: 0, height: height, width: width)
    }
}

/// SymUNet (arXiv 2512.10581), exactly as upstream computes it.
public final class SymUNet: Model {
    public let config: SymUNetConfig
    public let context: ComputeContext
    let net: SymUNetBackbone

    /// Builds the network from weights under upstream names (checked by shape as they are read).
    public init(config: SymUNetConfig, weights: Weights, context: ComputeContext = ComputeContext()) throws {
        try config.validate()
        self.config = config
        self.context = context
        net = try SymUNetBackbone(weights, config: config)
    }

    public var family: String { SymUNetConfig.family }
    public var inputChannels: Int { config.imageChannels }
    public var minimumSide: Int { SymUNetBackbone.minimumSide(padMultiple: config.padMultiple) }
    public var tiling: TilingSupport {
        .approximate("MDTA attends channel x channel over the whole image, so a tile sees other statistics than the full image")
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        let ctx = context
        let total = net.blockCount
        var done = 0
        let step = { done += 1; progress?(done, total) }
        let padded = try net.padInput(ctx, input)
        var (x, skips) = try net.encode(ctx, padded, step: step)
        x = try net.middle(ctx, x, step: step)
        for d in 0..<config.levels {
            x = try net.upsample(ctx, x, level: d, skips: skips)
            x = try net.decoders[d](ctx, x, step: step)
        }
        return try net.finish(ctx, x, padded: padded, height: input.shape[2], width: input.shape[3])
    }
}
