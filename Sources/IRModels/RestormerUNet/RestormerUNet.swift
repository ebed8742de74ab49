import IRRuntime
import IRRegistry

/// Restormer's 4-level U-Net (CVPR 2022, `restormer_arch.py`) under its upstream names, with the
/// transformer stage left to the family: Restormer runs Restormer blocks, PromptIR the same plus
/// prompts on the decoder path, AnyIR its DABs. patch_embed; encoder_level1...3 each followed by
/// down1_2...down3_4; latent; then up4_3, concat skip, reduce_chan_level3, decoder_level3; up3_2,
/// concat skip, reduce_chan_level2, decoder_level2; up2_1, concat skip, decoder_level1 (at 2·dim);
/// refinement; output conv plus the input. Sides that are not multiples of 8 are reflect-padded
/// right and bottom and cropped back (irzoo's choice; upstream refuses them).
struct RestormerUNet<Stage> {
    let family: String
    let inputChannels: Int, outputChannels: Int
    let patchEmbed: Conv2dLayer
    let encoders: [Stage]  // encoder_level1...3, then latent
    let downs: [PixelUnshuffleDownsample]  // down1_2, down2_3, down3_4
    let up43: PixelShuffleUpsample, up32: PixelShuffleUpsample, up21: PixelShuffleUpsample
    let reduceChanLevel3: Conv2dLayer, reduceChanLevel2: Conv2dLayer
    let decoderLevel3: Stage, decoderLevel2: Stage, decoderLevel1: Stage
    let refinement: Stage
    let output: Conv2dLayer
    let padding = RightBottomReflectPadding(multiple: 8)
    /// Stage blocks in one run, for progress.
    let blockCount: Int

    /// - Parameters:
    ///   - patchEmbedBias: Restormer's patch_embed has no bias whatever `bias` says.
    ///   - bottleneckChannels: the width the family's bottleneck hands to up4_3 (the latent's
    ///     8·dim in Restormer, 4·dim where PromptIR and AnyIR reduce it first).
    ///   - stage: builds the `count` blocks of one level under `scope`.
    init(family: String, _ w: Weights, config c: some RestormerUNetConfig, patchEmbedBias: Bool, bottleneckChannels: Int,
         stage: (_ scope: String, _ count: Int, _ channels: Int, _ heads: Int) throws -> Stage) throws {
        self.family = family
        (inputChannels, outputChannels) = (c.inputChannels, c.outputChannels)
        let d = (0..<4).map { c.channels(level: $0) }
        patchEmbed = try Conv2dLayer(w, "patch_embed.proj", out: d[0], in: c.inputChannels, kernel: 3, padding: 1, bias: patchEmbedBias)
        encoders = try [stage("encoder_level1", c.blocks[0], d[0], c.heads[0]),
                        stage("encoder_level2", c.blocks[1], d[1], c.heads[1]),
                        stage("encoder_level3", c.blocks[2], d[2], c.heads[2]),
                        stage("latent", c.blocks[3], d[3], c.heads[3])]
        downs = try [PixelUnshuffleDownsample(w, "down1_2", channels: d[0]),
                     PixelUnshuffleDownsample(w, "down2_3", channels: d[1]),
                     PixelUnshuffleDownsample(w, "down3_4", channels: d[2])]
        up43 = try PixelShuffleUpsample(w, "up4_3", channels: bottleneckChannels)
        reduceChanLevel3 = try Conv2dLayer(w, "reduce_chan_level3", out: d[2], in: bottleneckChannels / 2 + d[2], kernel: 1, bias: c.bias)
        decoderLevel3 = try stage("decoder_level3", c.blocks[2], d[2], c.heads[2])
        up32 = try PixelShuffleUpsample(w, "up3_2", channels: d[2])
        reduceChanLevel2 = try Conv2dLayer(w, "reduce_chan_level2", out: d[1], in: d[2], kernel: 1, bias: c.bias)
        decoderLevel2 = try stage("decoder_level2", c.blocks[1], d[1], c.heads[1])
        up21 = try PixelShuffleUpsample(w, "up2_1", channels: d[1])
        // Level 1 of the decoder and the refinement run at 2·dim with heads[0].
        decoderLevel1 = try stage("decoder_level1", c.blocks[0], d[1], c.heads[0])
        refinement = try stage("refinement", c.refinementBlocks, d[1], c.heads[0])
        output = try Conv2dLayer(w, "output", out: c.outputChannels, in: d[1], kernel: 3, padding: 1, bias: c.bias)
        blockCount = 2 * c.blocks[0..<3].reduce(0, +) + c.blocks[3] + c.refinementBlocks
    }

    /// Runs the network on `input`.
    /// - Parameters:
    ///   - extraSteps: progress steps the family's hooks add (each calls `step` once per step).
    ///   - stage: runs one level's blocks, calling `step` after each block.
    ///   - bottleneck: what the family does between latent and up4_3.
    ///   - afterDecoder: what the family does after decoder_level3 (3) and decoder_level2 (2).
    func run(_ ctx: ComputeContext, _ input: Tensor, extraSteps: Int = 0, progress: ProgressHandler?,
             stage: (Stage, Tensor, _ step: () -> Void) throws -> Tensor,
             bottleneck: (Tensor, _ step: () -> Void) throws -> Tensor = { x, _ in x },
             afterDecoder: (_ level: Int, Tensor, _ step: () -> Void) throws -> Tensor = { _, x, _ in x }) throws -> Tensor {
        guard outputChannels == inputChannels else {
            throw ModelError("\(family): the global residual needs out_channels (\(outputChannels)) = inp_channels (\(inputChannels))")
        }
        let total = blockCount + extraSteps
        var done = 0
        let step = { done += 1; progress?(done, total) }
        let image = try padding.pad(ctx, input)
        var skips = [Tensor]()
        var x = try patchEmbed(ctx, image)
        for level in 0..<3 {
            x = try stage(encoders[level], x, step)
            skips.append(x)
            x = try downs[level](ctx, x)
        }
        x = try bottleneck(try stage(encoders[3], x, step), step)
        x = try reduceChanLevel3(ctx, try ctx.concat([try up43(ctx, x), skips[2]], dim: 1))
        x = try afterDecoder(3, try stage(decoderLevel3, x, step), step)
        x = try reduceChanLevel2(ctx, try ctx.concat([try up32(ctx, x), skips[1]], dim: 1))
        x = try afterDecoder(2, try stage(decoderLevel2, x, step), step)
        x = try ctx.concat([try up21(ctx, x), skips[0]], dim: 1)
        x = try stage(decoderLevel1, x, step)
        x = try stage(refinement, x, step)
        let y = try ctx.add(try output(ctx, x), image)
        return try padding.crop(ctx, y, height: input.shape[2], width: input.shape[3])
    }
}
