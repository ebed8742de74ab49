import IRRuntime
import IRRegistry

/// Restormer (CVPR 2022) as UniRestorer runs its experts (github.com/mrluin/UniRestorer
/// `restormer_arch.py` @88b933c): reflect-pad right/bottom to a multiple of 8, the 4-level U-Net
/// (`RestormerUNet`) of Restormer blocks, output conv plus the padded input, crop back.
/// LoRA-Restormer experts run here after `LoRAMerge` at import.
public final class RestormerModel: Model {
    public let config: RestormerConfig
    public let context: ComputeContext
    let unet: RestormerUNet<RestormerStack>

    /// Builds the network from weights under upstream names (each checked by shape as it is read).
    public init(config c: RestormerConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        unet = try RestormerUNet(family: RestormerConfig.family, w, config: c, patchEmbedBias: false,
                                 bottleneckChannels: c.channels(level: 3)) { scope, n, channels, heads in
            try RestormerStack(w, scope, count: n, dim: channels, heads: heads, ffnExpansionFactor: c.ffnExpansionFactor,
                               bias: c.bias, layerNorm: c.layerNorm)
        }
    }

    public var family: String { RestormerConfig.family }
    public var inputChannels: Int { config.inputChannels }
    public var minimumSide: Int { unet.padding.minimumSide }
    public var tiling: TilingSupport {
        .approximate("MDTA attends channel x channel over the whole image, so a tile sees other statistics than the full image")
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        let ctx = context
        return try unet.run(ctx, input, progress: progress) { stack, x, step in try stack(ctx, x, step: step) }
    }
}
