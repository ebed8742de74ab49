import IRRuntime
import IRRegistry

/// AnyIR (arXiv 2504.14249; github.com/Amazingren/AnyIR `net/anyir.py` at 098dcd1 / 864b784),
/// exactly as the upstream code computes it: a 4-level U-Net of DABs with PixelUnshuffle /
/// PixelShuffle resampling, concatenated skips `[upsampled, skip]`, the extra 1×1
/// `reduce_dim_level3` before the first upsample, a refinement stage at 2·dim and a global residual.
///
/// Sides that are not multiples of 8 are reflect-padded right and bottom and cropped back
/// (irzoo's choice; upstream refuses them). See docs/ARCHITECTURES.md.
public final class AnyIRModel: Model {
    public let config: AnyIRConfig
    public let context: ComputeContext
    /// How the DABs compute their frequency branch (`.sum` unless checking fidelity).
    public var frequencyBranch: FrequencyBranch

    let patchEmbed: Conv2dLayer
    let encoders: [DegradationAdaptiveStack]  // encoder_level1...3, then latent
    let downs: [PixelUnshuffleDownsample]     // down1_2, down2_3, down3_4
    let reduceDimLevel3: Conv2dLayer
    let up43: PixelShuffleUpsample, up32: PixelShuffleUpsample, up21: PixelShuffleUpsample
    let reduceChanLevel3: Conv2dLayer, reduceChanLevel2: Conv2dLayer
    let decoderLevel3: DegradationAdaptiveStack, decoderLevel2: DegradationAdaptiveStack
    let decoderLevel1: DegradationAdaptiveStack, refinement: DegradationAdaptiveStack
    let output: Conv2dLayer
    let padding = RightBottomReflectPadding(multiple: 8)

    /// Builds the network from weights under upstream names (each checked by shape as it is read).
    public init(config c: AnyIRConfig, weights w: Weights, context: ComputeContext = ComputeContext(),
                frequencyBranch: FrequencyBranch = .sum) throws {
        try c.validate()
        config = c
        self.context = context
        self.frequencyBranch = frequencyBranch
        let d = (0..<4).map { c.channels(level: $0) }
        func stack(_ scope: String, _ n: Int, _ channels: Int, _ heads: Int) throws -> DegradationAdaptiveStack {
            try DegradationAdaptiveStack(w, scope, count: n, channels: channels, heads: heads, config: c)
        }
        patchEmbed = try Conv2dLayer(w, "patch_embed.proj", out: d[0], in: c.inputChannels, kernel: 3, padding: 1, bias: c.bias)
        encoders = try [stack("encoder_level1", c.blocks[0], d[0], c.heads[0]),
                        stack("encoder_level2", c.blocks[1], d[1], c.heads[1]),
                        stack("encoder_level3", c.blocks[2], d[2], c.heads[2]),
                        stack("latent", c.blocks[3], d[3], c.heads[3])]
        downs = try [PixelUnshuffleDownsample(w, "down1_2", channels: d[0]),
                     PixelUnshuffleDownsample(w, "down2_3", channels: d[1]),
                     PixelUnshuffleDownsample(w, "down3_4", channels: d[2])]
        reduceDimLevel3 = try Conv2dLayer(w, "reduce_dim_level3", out: d[2], in: d[3], kernel: 1, bias: c.bias)
        up43 = try PixelShuffleUpsample(w, "up4_3", channels: d[2])
        reduceChanLevel3 = try Conv2dLayer(w, "reduce_chan_level3", out: d[2], in: d[1] + d[2], kernel: 1, bias: c.bias)
        decoderLevel3 = try stack("decoder_level3", c.blocks[2], d[2], c.heads[2])
        up32 = try PixelShuffleUpsample(w, "up3_2", channels: d[2])
        reduceChanLevel2 = try Conv2dLayer(w, "reduce_chan_level2", out: d[1], in: d[2], kernel: 1, bias: c.bias)
        decoderLevel2 = try stack("decoder_level2", c.blocks[1], d[1], c.heads[1])
        up21 = try PixelShuffleUpsample(w, "up2_1", channels: d[1])
        // Level 1 of the decoder and the refinement run at 2·dim with heads[0].
        decoderLevel1 = try stack("decoder_level1", c.blocks[0], d[1], c.heads[0])
        refinement = try stack("refinement", c.refinementBlocks, d[1], c.heads[0])
        output = try Conv2dLayer(w, "output", out: c.outputChannels, in: d[1], kernel: 3, padding: 1, bias: c.bias)
    }

    public var family: String { AnyIRConfig.family }
    public var inputChannels: Int { config.inputChannels }
    public var outputKind: ModelOutputKind { .image }
    public var minimumSide: Int { padding.minimumSide }
    public var auxInputNames: [String] { [] }
    public var tiling: TilingSupport {
        .approximate("MDTA attends channel x channel over the whole image and GatedDA scales by whole-image mean and deviation, so a tile sees other statistics than the full image")
    }

    var blockCount: Int { 2 * config.blocks[0..<3].reduce(0, +) + config.blocks[3] + config.refinementBlocks }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        guard config.outputChannels == config.inputChannels else {
            throw ModelError("anyir: the global residual needs out_channels (\(config.outputChannels)) = inp_channels (\(config.inputChannels))")
        }
        let ctx = context
        let total = blockCount
        var done = 0
        let step = { done += 1; progress?(done, total) }
        let f = frequencyBranch
        let image = try padding.pad(ctx, input)
        var skips = [Tensor]()
        var x = try patchEmbed(ctx, image)
        for level in 0..<3 {
            x = try encoders[level](ctx, x, frequency: f, step: step)
            skips.append(x)
            x = try downs[level](ctx, x)
        }
        x = try encoders[3](ctx, x, frequency: f, step: step)
        x = try up43(ctx, try reduceDimLevel3(ctx, x))
        x = try reduceChanLevel3(ctx, try ctx.concat([x, skips[2]], dim: 1))
        x = try decoderLevel3(ctx, x, frequency: f, step: step)
        x = try reduceChanLevel2(ctx, try ctx.concat([try up32(ctx, x), skips[1]], dim: 1))
        x = try decoderLevel2(ctx, x, frequency: f, step: step)
        x = try ctx.concat([try up21(ctx, x), skips[0]], dim: 1)
        x = try decoderLevel1(ctx, x, frequency: f, step: step)
        x = try refinement(ctx, x, frequency: f, step: step)
        let y = try ctx.add(try output(ctx, x), image)
        return try padding.crop(ctx, y, height: input.shape[2], width: input.shape[3])
    }
}
