import IRRuntime
import IRRegistry

/// NAFNetLocal (NAFNet, ECCV 2022, with TLSC test-time local pooling) as UniRestorer runs its
/// deblur experts (github.com/mrluin/UniRestorer `nafnet_arch.py`, `nafnet_local_arch.py` @88b933c):
/// zero-pad right/bottom to a multiple of 2^levels, intro conv, encoder levels each followed by a
/// 2×2 stride-2 conv, middle blocks, decoder levels each after a 1×1 conv + PixelShuffle(2) plus
/// the skip (added, not concatenated), ending conv plus the padded input, crop back.
///
/// The TLSC kernel of each level is fixed by the config's train size (`NAFNetConfig.poolKernel`),
/// as upstream's construction-time pass fixes it.
public final class NAFNetModel: Model {
    public let config: NAFNetConfig
    public let context: ComputeContext

    let intro: Conv2dLayer, ending: Conv2dLayer
    let encoders: [[NAFBlock]], decoders: [[NAFBlock]], middle: [NAFBlock]
    let downs: [Conv2dLayer], ups: [Conv2dLayer]

    public init(config c: NAFNetConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        let levels = c.levels
        func kernel(_ level: Int) -> Size2 { let k = c.poolKernel(level: level); return Size2(k.h, k.w) }
        func blocks(_ scope: String, _ n: Int, level: Int) throws -> [NAFBlock] {
            try (0..<n).map { j in try NAFBlock(w.scoped("\(scope).\(j)"), channels: c.channels(level: level), poolKernel: kernel(level)) }
        }
        intro = try Conv2dLayer(w, "intro", out: c.width, in: c.imageChannels, kernel: 3, padding: 1, bias: true)
        ending = try Conv2dLayer(w, "ending", out: c.imageChannels, in: c.width, kernel: 3, padding: 1, bias: true)
        encoders = try c.encoderBlocks.enumerated().map { i, n in try blocks("encoders.\(i)", n, level: i) }
        decoders = try c.decoderBlocks.enumerated().map { i, n in try blocks("decoders.\(i)", n, level: levels - 1 - i) }
        middle = try blocks("middle_blks", c.middleBlocks, level: levels)
        downs = try (0..<levels).map { i in
            try Conv2dLayer(w, "downs.\(i)", out: c.channels(level: i + 1), in: c.channels(level: i), kernel: 2, stride: 2, bias: true)
        }
        ups = try (0..<levels).map { i in
            let ch = c.channels(level: levels - i)
            return try Conv2dLayer(w, "ups.\(i).0", out: ch * 2, in: ch, kernel: 1, bias: false)
        }
    }

    public var family: String { NAFNetConfig.family }
    public var inputChannels: Int { config.imageChannels }
    public var minimumSide: Int { 1 }
    public var tiling: TilingSupport {
        .approximate("the SCA pools over windows of up to 1.5x the training size (global below that), so tiles see other statistics than the whole image")
    }

    var blockCount: Int { config.encoderBlocks.reduce(0, +) + config.middleBlocks + config.decoderBlocks.reduce(0, +) }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        let ctx = context
        let total = blockCount
        var done = 0
        func run(_ blocks: [NAFBlock], _ x: Tensor) throws -> Tensor {
            var y = x
            for b in blocks {
                y = try b(ctx, y)
                done += 1
                progress?(done, total)
            }
            return y
        }
        let (h, w) = (input.shape[2], input.shape[3])
        let m = config.padMultiple
        let ph = (m - h % m) % m, pw = (m - w % m) % m
        let image = ph == 0 && pw == 0 ? input : try ctx.pad(input, [0, pw, 0, ph], mode: .zeros)
        var x = try intro(ctx, image)
        var skips = [Tensor]()
        for (blocks, down) in zip(encoders, downs) {
            x = try run(blocks, x)
            skips.append(x)
            x = try down(ctx, x)
        }
        x = try run(middle, x)
        for (i, (blocks, up)) in zip(decoders, ups).enumerated() {
            x = try ctx.add(try ctx.pixelShuffle(try up(ctx, x), 2), skips[skips.count - 1 - i])
            x = try run(blocks, x)
        }
        let y = try ctx.add(try ending(ctx, x), image)
        if ph == 0 && pw == 0 { return y }
        return try ctx.crop(y, top: 0, left: 0, height: h, width: w)
    }
}
