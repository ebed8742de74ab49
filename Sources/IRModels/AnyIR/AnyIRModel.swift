import IRRuntime
import IRRegistry

/// AnyIR (arXiv 2504.14249; github.com/Amazingren/AnyIR `net/anyir.py` at 098dcd1 / 864b784),
/// exactly as the upstream code computes it: the shared 4-level `RestormerUNet` with DABs as its
/// stages and the extra 1×1 `reduce_dim_level3` before the first upsample.
///
/// Sides that are not multiples of 8 are reflect-padded right and bottom and cropped back
/// (irzoo's choice; upstream refuses them). See docs/ARCHITECTURES.md.
public final class AnyIRModel: Model {
    public let config: AnyIRConfig
    public let context: ComputeContext
    /// How the DABs compute their frequency branch (`.sum` unless checking fidelity).
    public var frequencyBranch: FrequencyBranch

    let unet: RestormerUNet<DegradationAdaptiveStack>
    let reduceDimLevel3: Conv2dLayer

    /// Builds the network from weights under upstream names (each checked by shape as it is read).
    public init(config c: AnyIRConfig, weights w: Weights, context: ComputeContext = ComputeContext(),
                frequencyBranch: FrequencyBranch = .sum) throws {
        try c.validate()
        config = c
        self.context = context
        self.frequencyBranch = frequencyBranch
        unet = try RestormerUNet(family: AnyIRConfig.family, w, config: c, patchEmbedBias: c.bias,
                                 bottleneckChannels: c.channels(level: 2)) { scope, n, channels, heads in
            try DegradationAdaptiveStack(w, scope, count: n, channels: channels, heads: heads, config: c)
        }
        reduceDimLevel3 = try Conv2dLayer(w, "reduce_dim_level3", out: c.channels(level: 2), in: c.channels(level: 3),
                                          kernel: 1, bias: c.bias)
    }

    public var family: String { AnyIRConfig.family }
    public var inputChannels: Int { config.inputChannels }
    public var minimumSide: Int { unet.padding.minimumSide }
    public var tiling: TilingSupport {
        .approximate("MDTA attends channel x channel over the whole image and GatedDA scales by whole-image mean and deviation, so a tile sees other statistics than the full image")
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        let ctx = context
        let f = frequencyBranch
        return try unet.run(ctx, input, progress: progress,
                            stage: { stack, x, step in try stack(ctx, x, frequency: f, step: step) },
                            bottleneck: { x, _ in try reduceDimLevel3(ctx, x) })
    }
}
