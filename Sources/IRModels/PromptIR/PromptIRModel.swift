import IRRuntime
import IRRegistry

/// PromptIR (NeurIPS 2023; github.com/va1shn9v/PromptIR `net/model.py` at 20eff77), the released
/// `decoder=True` network, exactly as upstream computes it: Restormer's 4-level U-Net whose three
/// decoder levels first concatenate a generated prompt and run a transformer block on the result
/// (`noise_level*`, all with heads[2]) and a 1×1 reduction. `chnl_reduce*` and
/// `reduce_noise_channel_*` are built upstream but never used; the registry drops them at import.
///
/// Sides that are not multiples of 8 are reflect-padded right and bottom and cropped back
/// (irzoo's choice; upstream refuses them). See docs/ARCHITECTURES.md.
public final class PromptIRModel: Model {
    public let config: PromptIRConfig
    public let context: ComputeContext

    let unet: RestormerUNet<RestormerStack>
    let prompts: [PromptGenBlock]   // prompt1 (level 2), prompt2 (level 3), prompt3 (latent)
    let noiseBlocks: [RestormerBlock]
    let reduceNoise: [Conv2dLayer]

    /// Builds the network from weights under upstream names (each checked by shape as it is read).
    public init(config c: PromptIRConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        let d = (0..<4).map { c.channels(level: $0) }
        // The prompted latent comes back at the level-3 width before up4_3.
        unet = try RestormerUNet(family: PromptIRConfig.family, w, config: c, patchEmbedBias: c.bias,
                                 bottleneckChannels: d[2]) { scope, n, channels, heads in
            try RestormerStack(w, scope, count: n, dim: channels, heads: heads, ffnExpansionFactor: c.ffnExpansionFactor,
                               bias: c.bias, layerNorm: c.layerNorm)
        }
        prompts = try (0..<3).map { k in
            try PromptGenBlock(w.scoped("prompt\(k + 1)"), promptChannels: c.promptDims[k], length: c.promptLength,
                               size: c.promptSizes[k], featureChannels: d[k + 1])
        }
        let noise = c.noiseLevelChannels
        noiseBlocks = try (0..<3).map { k in
            try RestormerBlock(w.scoped("noise_level\(k + 1)"), dim: noise[k], heads: c.heads[2],
                               ffnExpansionFactor: c.ffnExpansionFactor, bias: c.bias, layerNorm: c.layerNorm)
        }
        // noise_level1 returns to the level-2 width, noise_level2 and 3 to the level-3 width.
        reduceNoise = try (0..<3).map { k in
            try Conv2dLayer(w, "reduce_noise_level\(k + 1)", out: k == 0 ? d[1] : d[2], in: noise[k], kernel: 1, bias: c.bias)
        }
    }

    public var family: String { PromptIRConfig.family }
    public var inputChannels: Int { config.inputChannels }
    public var minimumSide: Int { unet.padding.minimumSide }
    public var tiling: TilingSupport {
        .approximate("MDTA attends channel x channel over the whole image and the prompt weights come from whole-image means, so a tile sees other statistics than the full image")
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        let ctx = context
        /// Concatenates the prompt generated from `x`, runs noise_level{k+1} and its reduction.
        func prompted(_ x: Tensor, _ k: Int, _ step: () -> Void) throws -> Tensor {
            let joined = try ctx.concat([x, try prompts[k](ctx, x)], dim: 1)
            let y = try reduceNoise[k](ctx, try noiseBlocks[k](ctx, joined))
            step()
            return y
        }
        // prompt3 after the latent, prompt2 after decoder_level3, prompt1 after decoder_level2.
        return try unet.run(ctx, input, extraSteps: 3, progress: progress,
                            stage: { stack, x, step in try stack(ctx, x, step: step) },
                            bottleneck: { x, step in try prompted(x, 2, step) },
                            afterDecoder: { level, x, step in try prompted(x, level - 2, step) })
    }
}
