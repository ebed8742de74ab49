import IRRuntime
import IRRegistry

/// SRVGGNetCompact (Real-ESRGAN's Compact, BasicSR `srvgg_arch.py` @8d56e3a): 3x3 convs with
/// PReLU (or ReLU, LeakyReLU 0.1) at the input resolution, a last conv to num_out_ch · upscale²
/// channels, PixelShuffle, plus the nearest-upsampled input.
public final class SRVGGModel: Model {
    public let config: SRVGGConfig
    public let context: ComputeContext

    let convs: [Conv2dLayer]
    /// PReLU slopes per activation (empty for ReLU and LeakyReLU).
    let slopes: [Tensor]

    public init(config c: SRVGGConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        var convs = [try Conv2dLayer(w, "body.0", out: c.features, in: c.inChannels, kernel: 3, padding: 1, bias: true)]
        for i in 0..<c.convs {
            convs.append(try Conv2dLayer(w, "body.\(2 * i + 2)", out: c.features, in: c.features, kernel: 3, padding: 1, bias: true))
        }
        convs.append(try Conv2dLayer(w, "body.\(c.lastIndex)", out: c.outChannels * c.upscale * c.upscale, in: c.features,
                                     kernel: 3, padding: 1, bias: true))
        self.convs = convs
        slopes = c.activation == .prelu ? try (0...c.convs).map { try w.tensor("body.\(2 * $0 + 1).weight", shape: [c.features]) } : []
    }

    public var family: String { SRVGGConfig.family }
    public var inputChannels: Int { config.inChannels }
    public var scale: Int { config.upscale }
    public var minimumSide: Int { 1 }
    public var tiling: TilingSupport { .approximate(TilingSupport.convStackNote) }

    func activate(_ ctx: ComputeContext, _ x: Tensor, _ i: Int) throws -> Tensor {
        switch config.activation {
        case .prelu: return try ctx.prelu(x, slopes: slopes[i])
        case .relu: return try ctx.relu(x)
        case .leakyrelu: return try ctx.leakyReLU(x, slope: 0.1)
        }
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        let ctx = context
        var x = input
        for (i, conv) in convs.dropLast().enumerated() {
            x = try activate(ctx, try conv(ctx, x), i)
            progress?(i + 1, convs.count)
        }
        let r = config.upscale
        let out = try ctx.pixelShuffle(try convs[convs.count - 1](ctx, x), r)
        progress?(convs.count, convs.count)
        return try ctx.add(out, try ctx.interpolate(input, scaleFactor: (Double(r), Double(r)), mode: .nearest))
    }
}
