import IRRuntime
import IRRegistry

/// Restormer (CVPR 2022) as UniRestorer runs its experts (github.com/mrluin/UniRestorer
/// `restormer_arch.py` @88b933c): reflect-pad right/bottom to a multiple of 8, the 4-level U-Net
/// of Restormer blocks (the shared `RestormerStack` and U-Net parts PromptIR uses too), output conv
/// plus the padded input, crop back. LoRA-Restormer experts run here after `LoRAMerge` at import.
public final class RestormerModel: Model {
    public let config: RestormerConfig
    public let context: ComputeContext

    let patchEmbed: Conv2dLayer
    let encoders: [RestormerStack]  // encoder_level1...3, then latent
    let downs: [PixelUnshuffleDownsample]
    let up43: PixelShuffleUpsample, up32: PixelShuffleUpsample, up21: PixelShuffleUpsample
    let reduceChanLevel3: Conv2dLayer, reduceChanLevel2: Conv2dLayer
    let decoderLevel3: RestormerStack, decoderLevel2: RestormerStack, decoderLevel1: RestormerStack
    let refinement: RestormerStack
    let output: Conv2dLayer
    let padding = RightBottomReflectPadding(multiple: 8)

    /// Builds the network from weights under upstream names (each checked by shape as it is read).
    public init(config c: RestormerConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        let d = (0..<4).map { c.channels(level: $0) }
        func stack(_ scope: String, _ n: Int, _ channels: Int, _ heads: Int) throws -> RestormerStack {
            try RestormerStack(w, scope, count: n, dim: channels, heads: heads, ffnExpansionFactor: c.ffnExpansionFactor,
                               bias: c.bias, layerNorm: c.layerNorm)
        }
        patchEmbed = try Conv2dLayer(w, "patch_embed.proj", out: d[0], in: c.inputChannels, kernel: 3, padding: 1, bias: false)
        encoders = try [stack("encoder_level1", c.blocks[0], d[0], c.heads[0]),
                        stack("encoder_level2", c.blocks[1], d[1], c.heads[1]),
                        stack("encoder_level3", c.blocks[2], d[2], c.heads[2]),
                        stack("latent", c.blocks[3], d[3], c.heads[3])]
        downs = try [PixelUnshuffleDownsample(w, "down1_2", channels: d[0]),
                     PixelUnshuffleDownsample(w, "down2_3", channels: d[1]),
                     PixelUnshuffleDownsample(w, "down3_4", channels: d[2])]
        up43 = try PixelShuffleUpsample(w, "up4_3", channels: d[3])
        reduceChanLevel3 = try Conv2dLayer(w, "reduce_chan_level3", out: d[2], in: d[3], kernel: 1, bias: c.bias)
        decoderLevel3 = try stack("decoder_level3", c.blocks[2], d[2], c.heads[2])
        up32 = try PixelShuffleUpsample(w, "up3_2", channels: d[2])
        reduceChanLevel2 = try Conv2dLayer(w, "reduce_chan_level2", out: d[1], in: d[2], kernel: 1, bias: c.bias)
        decoderLevel2 = try stack("decoder_level2", c.blocks[1], d[1], c.heads[1])
        up21 = try PixelShuffleUpsample(w, "up2_1", channels: d[1])
        decoderLevel1 = try stack("decoder_level1", c.blocks[0], d[1], c.heads[0])
        refinement = try stack("refinement", c.refinementBlocks, d[1], c.heads[0])
        output = try Conv2dLayer(w, "output", out: c.outputChannels, in: d[1], kernel: 3, padding: 1, bias: c.bias)
    }

    public var family: String { RestormerConfig.family }
    public var inputChannels: Int { config.inputChannels }
    public var outputKind: ModelOutputKind { .image }
    public var minimumSide: Int { padding.minimumSide }
    public var auxInputNames: [String] { [] }
    public var tiling: TilingSupport {
        .approximate("MDTA attends channel x channel over the whole image, so a tile sees other statistics than the full image")
    }

    var blockCount: Int { 2 * config.blocks[0..<3].reduce(0, +) + config.blocks[3] + config.refinementBlocks }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        guard config.outputChannels == config.inputChannels else {
            throw ModelError("restormer: the global residual needs out_channels (\(config.outputChannels)) = inp_channels (\(config.inputChannels))")
        }
        let ctx = context
        let total = blockCount
        var done = 0
        let step = { done += 1; progress?(done, total) }
        let image = try padding.pad(ctx, input)
        var skips = [Tensor]()
        var x = try patchEmbed(ctx, image)
        for level in 0..<3 {
            x = try encoders[level](ctx, x, step: step)
            skips.append(x)
            x = try downs[level](ctx, x)
        }
        x = try encoders[3](ctx, x, step: step)
        x = try reduceChanLevel3(ctx, try ctx.concat([try up43(ctx, x), skips[2]], dim: 1))
        x = try decoderLevel3(ctx, x, step: step)
        x = try reduceChanLevel2(ctx, try ctx.concat([try up32(ctx, x), skips[1]], dim: 1))
        x = try decoderLevel2(ctx, x, step: step)
        x = try ctx.concat([try up21(ctx, x), skips[0]], dim: 1)
        x = try decoderLevel1(ctx, x, step: step)
        x = try refinement(ctx, x, step: step)
        let y = try ctx.add(try output(ctx, x), image)
        return try padding.crop(ctx, y, height: input.shape[2], width: input.shape[3])
    }
}
