import IRRuntime
import IRRegistry

/// RRDBNet (ESRGAN, Real-ESRGAN) as BasicSR runs it (`rrdbnet_arch.py` @8d56e3a): an optional
/// pixel-unshuffle (the 1x/2x Real-ESRGAN models; the image is first reflect-padded right and
/// bottom to a multiple of the factor, as RealESRGANer's mod pad does, and the output cropped
/// back), conv_first, RRDB blocks and conv_body around a residual, then per 2x stage a nearest
/// upsampling, conv and LeakyReLU(0.2), then conv_hr with LeakyReLU and conv_last.
public final class RRDBNetModel: Model {
    public let config: RRDBNetConfig
    public let context: ComputeContext

    let first: Conv2dLayer, trunk: Conv2dLayer, hr: Conv2dLayer, last: Conv2dLayer
    let blocks: [RRDB]
    let ups: [Conv2dLayer]

    public init(config c: RRDBNetConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        let nf = c.features, s = c.shuffleFactor
        first = try Conv2dLayer(w, "conv_first", out: nf, in: c.inChannels * s * s, kernel: 3, padding: 1, bias: true)
        blocks = try (0..<c.blocks).map { try RRDB(w.scoped("body.\($0)"), features: nf, growth: c.growth) }
        trunk = try Conv2dLayer(w, "conv_body", out: nf, in: nf, kernel: 3, padding: 1, bias: true)
        ups = try (0..<c.upsamplings).map { try Conv2dLayer(w, "conv_up\($0 + 1)", out: nf, in: nf, kernel: 3, padding: 1, bias: true) }
        hr = try Conv2dLayer(w, "conv_hr", out: nf, in: nf, kernel: 3, padding: 1, bias: true)
        last = try Conv2dLayer(w, "conv_last", out: c.outChannels, in: nf, kernel: 3, padding: 1, bias: true)
    }

    public var family: String { RRDBNetConfig.family }
    public var inputChannels: Int { config.inChannels }
    public var scale: Int { config.scale }
    /// Reflect padding by up to shuffle - 1 pixels needs sides of at least the factor.
    public var minimumSide: Int { config.shuffleFactor }
    public var tiling: TilingSupport { .approximate(TilingSupport.convStackNote) }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        let ctx = context
        let (h, w) = (input.shape[2], input.shape[3])
        let s = config.shuffleFactor
        var x = input
        if s > 1 {
            let ph = (s - h % s) % s, pw = (s - w % s) % s
            if ph > 0 || pw > 0 { x = try ctx.pad(x, [0, pw, 0, ph], mode: .reflect) }
            x = try ctx.pixelUnshuffle(x, s)
        }
        var feat = try first(ctx, x)
        var body = feat
        for (i, b) in blocks.enumerated() {
            body = try b(ctx, body)
            progress?(i + 1, blocks.count)
        }
        feat = try ctx.add(feat, try trunk(ctx, body))
        for up in ups {
            let doubled = try ctx.interpolate(feat, scaleFactor: (2, 2), mode: .nearest)
            feat = try ctx.leakyReLU(try up(ctx, doubled), slope: 0.2)
        }
        let y = try last(ctx, try ctx.leakyReLU(try hr(ctx, feat), slope: 0.2))
        let (oh, ow) = (h * config.scale, w * config.scale)
        return y.shape[2] == oh && y.shape[3] == ow ? y : try ctx.crop(y, top: 0, left: 0, height: oh, width: ow)
    }
}
