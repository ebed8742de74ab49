import IRRuntime
import IRRegistry

/// RetinexFormer (ICCV 2023, arXiv 2303.06705) exactly as the copy UniRestorer ships computes it
/// (`basicsr/models/archs/retinexformer_arch.py` at 88b933c; one stage, `body.0`):
///
///     illu_fea, illu_map = estimator(cat[img, mean_C(img)])      1x1 → 5x5 (4 groups) → 1x1
///     lit = img·illu_map + img
///     denoiser: embedding 3x3 → [IGABs, 4x4/2 down of features and of illu_fea] × 2 → bottleneck IGABs
///               → [ConvTranspose 2x2/2, 1x1 of cat[up, skip], IGABs with that level's illu_fea] × 2
///     y = mapping 3x3 + lit
///
/// Upstream has no padding and fails unless both sides are multiples of 4. irzoo reflect-pads the
/// right and bottom to a multiple of 4 and crops back (as it does for Restormer-style models);
/// multiples of 4 run exactly as upstream. See docs/ARCHITECTURES.md.
public final class RetinexFormerModel: Model {
    public let config: RetinexFormerConfig
    public let context: ComputeContext

    let conv1: Conv2dLayer, depthConv: Conv2dLayer, conv2: Conv2dLayer
    let embedding: Conv2dLayer
    let encoders: [[IlluminationGuidedBlock]]
    let featureDowns: [Conv2dLayer], illuminationDowns: [Conv2dLayer]
    let bottleneck: [IlluminationGuidedBlock]
    let ups: [(weight: Tensor, bias: Tensor)]
    let fusions: [Conv2dLayer]
    let decoders: [[IlluminationGuidedBlock]]
    let mapping: Conv2dLayer
    let padding = RightBottomReflectPadding(multiple: 4)

    public init(config c: RetinexFormerConfig, weights root: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        let w = root.scoped("body.0")
        let nf = c.features
        conv1 = try Conv2dLayer(w, "estimator.conv1", out: nf, in: 4, kernel: 1, bias: true)
        depthConv = try Conv2dLayer(w, "estimator.depth_conv", out: nf, in: nf, kernel: 5, padding: 2, groups: 4, bias: true)
        conv2 = try Conv2dLayer(w, "estimator.conv2", out: 3, in: nf, kernel: 1, bias: true)
        let d = w.scoped("denoiser")
        func igab(_ scope: String, _ count: Int, level: Int) throws -> [IlluminationGuidedBlock] {
            try (0..<count).map {
                try IlluminationGuidedBlock(d.scoped("\(scope).blocks.\($0)"), channels: c.channels(level: level), heads: 1 << level)
            }
        }
        embedding = try Conv2dLayer(d, "embedding", out: nf, in: 3, kernel: 3, padding: 1, bias: false)
        let levels = RetinexFormerConfig.levels
        encoders = try (0..<levels).map { try igab("encoder_layers.\($0).0", c.blocks[$0], level: $0) }
        featureDowns = try (0..<levels).map {
            try Conv2dLayer(d, "encoder_layers.\($0).1", out: 2 * c.channels(level: $0), in: c.channels(level: $0), kernel: 4,
                            stride: 2, padding: 1, bias: false)
        }
        illuminationDowns = try (0..<levels).map {
            try Conv2dLayer(d, "encoder_layers.\($0).2", out: 2 * c.channels(level: $0), in: c.channels(level: $0), kernel: 4,
                            stride: 2, padding: 1, bias: false)
        }
        bottleneck = try igab("bottleneck", c.blocks[levels], level: levels)
        ups = try (0..<levels).map { i in
            let ch = c.channels(level: levels - i)
            return (try d.tensor("decoder_layers.\(i).0.weight", shape: [ch, ch / 2, 2, 2]),
                    try d.tensor("decoder_layers.\(i).0.bias", shape: [ch / 2]))
        }
        fusions = try (0..<levels).map { i in
            let ch = c.channels(level: levels - i)
            return try Conv2dLayer(d, "decoder_layers.\(i).1", out: ch / 2, in: ch, kernel: 1, bias: false)
        }
        decoders = try (0..<levels).map { i in
            try igab("decoder_layers.\(i).2", c.blocks[levels - 1 - i], level: levels - 1 - i)
        }
        mapping = try Conv2dLayer(d, "mapping", out: 3, in: nf, kernel: 3, padding: 1, bias: false)
    }

    public var family: String { RetinexFormerConfig.family }
    public var inputChannels: Int { 3 }
    public var minimumSide: Int { padding.minimumSide }
    public var tiling: TilingSupport {
        .approximate("IG-MSA attends channel x channel over the whole image, so a tile sees other statistics than the full image")
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        let ctx = context
        let total = 2 * config.blocks[0..<2].reduce(0, +) + config.blocks[2]
        var done = 0
        func apply(_ blocks: [IlluminationGuidedBlock], _ x: Tensor, _ illumination: Tensor) throws -> Tensor {
            var x = x
            for block in blocks {
                x = try block(ctx, x, illumination: illumination)
                done += 1
                progress?(done, total)
            }
            return x
        }
        let image = try padding.pad(ctx, input)
        var illumination = try conv1(ctx, try ctx.concat([image, try channelMean(image)], dim: 1))
        illumination = try depthConv(ctx, illumination)
        let lit = try ctx.add(try ctx.mul(image, try conv2(ctx, illumination)), image)

        var x = try embedding(ctx, lit)
        var skips = [Tensor](), illuminations = [Tensor]()
        for l in 0..<RetinexFormerConfig.levels {
            x = try apply(encoders[l], x, illumination)
            skips.append(x)
            illuminations.append(illumination)
            x = try featureDowns[l](ctx, x)
            illumination = try illuminationDowns[l](ctx, illumination)
        }
        x = try apply(bottleneck, x, illumination)
        for i in 0..<RetinexFormerConfig.levels {
            let level = RetinexFormerConfig.levels - 1 - i
            let up = try ctx.convTranspose2d(x, weight: ups[i].weight, bias: ups[i].bias, stride: 2)
            x = try fusions[i](ctx, try ctx.concat([up, skips[level]], dim: 1))
            x = try apply(decoders[i], x, illuminations[level])
        }
        let y = try ctx.add(try mapping(ctx, x), lit)
        return try padding.crop(ctx, y, height: input.shape[2], width: input.shape[3])
    }

    /// mean over the channels, [B, 1, H, W], summed in channel order as torch does for 3 values.
    private func channelMean(_ x: Tensor) throws -> Tensor {
        let (b, c) = (x.shape[0], x.shape[1])
        let plane = x.shape[2] * x.shape[3]
        let out = try context.empty([b, 1, x.shape[2], x.shape[3]])
        let src = x.pointer, dst = out.mutablePointer
        for s in 0..<b {
            for p in 0..<plane {
                var sum: Float = 0
                for ch in 0..<c { sum += src[(s * c + ch) * plane + p] }
                dst[s * plane + p] = sum / Float(c)
            }
        }
        return out
    }
}
