import IRRuntime
import IRRegistry

/// DehazeFormer (arXiv 2204.03883) exactly as the copy UniRestorer ships computes it
/// (github.com/mrluin/UniRestorer `basicsr/models/archs/dehazeformer_arch.py` at 88b933c):
///
///     x = reflect-pad right/bottom to a multiple of 4
///     f = patch_embed → layer1 → patch_merge1 → layer2 → patch_merge2 → layer3 → patch_split1
///         → SKFusion(·, skip2(layer2 out)) → layer4 → patch_split2 → SKFusion(·, skip1(layer1 out))
///         → layer5 → patch_unembed                                          (4 channels)
///     y = K·x − B + x  (K = f[:, :1], B = f[:, 1:]), cropped back
///
/// The network takes RGB in [0, 1] as UniRestorer feeds it (the original DehazeFormer was trained
/// on [−1, 1]; see docs/ARCHITECTURES.md). Window attention reflect-pads each level to window
/// multiples, which torch allows only when the pad is smaller than the side: inputs too small for
/// that are refused with one line (see `sizeProblem`).
public final class DehazeFormerModel: Model {
    public let config: DehazeFormerConfig
    public let context: ComputeContext

    let patchEmbed: ReflectConv2d
    let layers: [[DehazeFormerBlock]]
    let patchMerge1: Conv2dLayer, patchMerge2: Conv2dLayer
    let skip1: Conv2dLayer, skip2: Conv2dLayer
    let patchSplit1: Conv2dLayer, patchSplit2: Conv2dLayer
    let fusion1: SelectiveKernelFusion, fusion2: SelectiveKernelFusion
    let patchUnembed: ReflectConv2d
    let padding = RightBottomReflectPadding(multiple: 4)

    public init(config c: DehazeFormerConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        let e = c.embedDims
        patchEmbed = try ReflectConv2d(w, "patch_embed.proj", out: e[0], in: 3, kernel: 3, padding: 1)
        layers = try (0..<5).map { i in
            let attends = c.attentionBlocks(layer: i)
            return try (0..<c.depths[i]).map { j in
                try DehazeFormerBlock(context, w.scoped("layer\(i + 1).blocks.\(j)"), channels: e[i], hidden: c.hidden(layer: i),
                                      heads: c.heads[i], window: c.windowSize, shift: c.shift(block: j), attends: attends[j])
            }
        }
        patchMerge1 = try Conv2dLayer(w, "patch_merge1.proj", out: e[1], in: e[0], kernel: 2, stride: 2, bias: true)
        patchMerge2 = try Conv2dLayer(w, "patch_merge2.proj", out: e[2], in: e[1], kernel: 2, stride: 2, bias: true)
        skip1 = try Conv2dLayer(w, "skip1", out: e[0], in: e[0], kernel: 1, bias: true)
        skip2 = try Conv2dLayer(w, "skip2", out: e[1], in: e[1], kernel: 1, bias: true)
        patchSplit1 = try Conv2dLayer(w, "patch_split1.proj.0", out: e[3] * 4, in: e[2], kernel: 1, bias: true)
        patchSplit2 = try Conv2dLayer(w, "patch_split2.proj.0", out: e[4] * 4, in: e[3], kernel: 1, bias: true)
        fusion1 = try SelectiveKernelFusion(w.scoped("fusion1"), channels: e[3])
        fusion2 = try SelectiveKernelFusion(w.scoped("fusion2"), channels: e[4])
        patchUnembed = try ReflectConv2d(w, "patch_unembed.proj.0", out: 4, in: e[4], kernel: 3, padding: 1)
    }

    public var family: String { DehazeFormerConfig.family }
    public var inputChannels: Int { 3 }
    public var tiling: TilingSupport {
        .approximate("RLN normalises by whole-image statistics and SKFusion weighs its branches by whole-image means, so a tile sees other statistics than the full image")
    }

    /// The smallest side from which every larger side is accepted.
    public var minimumSide: Int {
        var s = 1
        while !(s..<(s + 64)).allSatisfy({ sizeProblem(side: $0) == nil }) { s += 1 }
        return s
    }

    /// Why one side of the input cannot run (torch's reflect padding needs pad < side), or nil.
    /// The levels run at the 4-padded side s, s/2, s/4, s/2, s.
    public func sizeProblem(side: Int) -> String? {
        let extra = (4 - side % 4) % 4
        if extra >= side { return "a side of \(side) cannot be reflect-padded by \(extra) to a multiple of 4" }
        let s = side + extra
        let sizes = [s, s / 2, s / 4, s / 2, s]
        for i in 0..<5 where config.depths[i] > 0 {
            let n = sizes[i]
            if n < 2 { return "layer\(i + 1) would run at \(n) pixel(s), too few for its reflect-padded 3x3 convs" }
            let attends = config.attentionBlocks(layer: i)
            for j in 0..<config.depths[i] where attends[j] {
                let p = DehazeWindowAttention.pads(side: n, window: config.windowSize, shift: config.shift(block: j))
                if p.before >= n || p.after >= n {
                    return "layer\(i + 1) runs at \(n) pixels, too few to reflect-pad by \(max(p.before, p.after)) to whole \(config.windowSize)-pixel windows"
                }
            }
        }
        return nil
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        for side in [input.shape[2], input.shape[3]] {
            if let problem = sizeProblem(side: side) {
                throw ModelError("dehazeformer cannot run a \(input.shape[3])x\(input.shape[2]) image: \(problem) (use sides of at least \(minimumSide))")
            }
        }
        let ctx = context
        let total = config.depths.reduce(0, +)
        var done = 0
        func layer(_ i: Int, _ x: Tensor) throws -> Tensor {
            var x = x
            for block in layers[i] {
                x = try block(ctx, x)
                done += 1
                progress?(done, total)
            }
            return x
        }
        let image = try padding.pad(ctx, input)
        let f1 = try layer(0, try patchEmbed(ctx, image))
        let f2 = try layer(1, try patchMerge1(ctx, f1))
        var x = try layer(2, try patchMerge2(ctx, f2))
        x = try ctx.pixelShuffle(try patchSplit1(ctx, x), 2)
        x = try layer(3, try fusion1(ctx, x, try skip2(ctx, f2)))
        x = try ctx.pixelShuffle(try patchSplit2(ctx, x), 2)
        x = try layer(4, try fusion2(ctx, x, try skip1(ctx, f1)))
        let head = try patchUnembed(ctx, x)
        let k = try ctx.narrow(head, dim: 1, start: 0, length: 1)
        let b = try ctx.narrow(head, dim: 1, start: 1, length: 3)
        let y = try ctx.add(try ctx.sub(try ctx.mul(k, image), b), image)
        return try padding.crop(ctx, y, height: input.shape[2], width: input.shape[3])
    }
}
