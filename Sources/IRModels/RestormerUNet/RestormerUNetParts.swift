import IRRuntime

// The pieces of the Restormer U-Net that PromptIR and AnyIR share (upstream `Downsample`,
// `Upsample`, `FeedForward`), and the right/bottom reflect padding irzoo adds for sides that
// are not multiples of 8 (upstream refuses those; see docs/ARCHITECTURES.md).

/// `Downsample(C)`: conv3x3 C → C/2 (no bias), then PixelUnshuffle(2) → 2C channels at half size.
struct PixelUnshuffleDownsample {
    let conv: Conv2dLayer

    init(_ w: Weights, _ name: String, channels c: Int) throws {
        conv = try Conv2dLayer(w, name + ".body.0", out: c / 2, in: c, kernel: 3, padding: 1, bias: false)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try ctx.pixelUnshuffle(try conv(ctx, x), 2)
    }
}

/// `Upsample(C)`: conv3x3 C → 2C (no bias), then PixelShuffle(2) → C/2 channels at double size.
struct PixelShuffleUpsample {
    let conv: Conv2dLayer

    init(_ w: Weights, _ name: String, channels c: Int) throws {
        conv = try Conv2dLayer(w, name + ".body.0", out: c * 2, in: c, kernel: 3, padding: 1, bias: false)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try ctx.pixelShuffle(try conv(ctx, x), 2)
    }
}

/// GDFN (upstream `FeedForward`): 1×1 C → 2F, 3×3 depthwise, gelu(first F) · second F (exact
/// erf GELU), 1×1 F → C, with F = int(C · factor) as Python truncates it. Large maps run in row
/// bands (`inRowBands`), so the 2F-wide hidden map exists for one band at a time.
struct GatedDconvFeedForward {
    let channels: Int
    let projectIn: Conv2dLayer, depthwise: Conv2dLayer, projectOut: Conv2dLayer

    init(_ w: Weights, channels c: Int, expansionFactor: Double, bias: Bool) throws {
        channels = c
        let hidden = Int((Double(c) * expansionFactor).rounded(.towardZero))
        projectIn = try Conv2dLayer(w, "project_in", out: hidden * 2, in: c, kernel: 1, bias: bias)
        depthwise = try Conv2dLayer(w, "dwconv", out: hidden * 2, in: hidden * 2, kernel: 3, padding: 1,
                                    groups: hidden * 2, bias: bias)
        projectOut = try Conv2dLayer(w, "project_out", out: c, in: hidden, kernel: 1, bias: bias)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try ctx.inRowBands(x, outChannels: channels, halo: 1) { band in
            let hidden = try depthwise(ctx, try projectIn(ctx, band))
            return try projectOut(ctx, try ctx.gated(hidden, activation: .gelu, dim: 1))
        }
    }
}

/// Reflect padding on the right and bottom up to a multiple of `multiple`, cropped back after
/// the network. Reflect mirrors without the edge sample, so it needs pad < side.
struct RightBottomReflectPadding {
    let multiple: Int

    /// The smallest side this padding accepts: one that needs no padding, or less than itself.
    var minimumSide: Int {
        var s = 1
        while true {
            let p = (multiple - s % multiple) % multiple
            if p == 0 || p < s { return s }
            s += 1
        }
    }

    func pad(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        let (h, w) = (x.shape[2], x.shape[3])
        let ph = (multiple - h % multiple) % multiple, pw = (multiple - w % multiple) % multiple
        if ph == 0 && pw == 0 { return x }
        return try ctx.pad(x, [0, pw, 0, ph], mode: .reflect)
    }

    func crop(_ ctx: ComputeContext, _ y: Tensor, height: Int, width: Int) throws -> Tensor {
        if y.shape[2] == height && y.shape[3] == width { return y }
        return try ctx.crop(y, top: 0, left: 0, height: height, width: width)
    }
}

extension ComputeContext {
    /// The per-(image, channel) mean over H·W of an NCHW tensor, accumulated in Double (torch's
    /// cascaded float sums are that accurate; a plain float sum over 65k pixels is not).
    func spatialMeans(_ x: Tensor) -> [Double] {
        let planes = x.shape[0] * x.shape[1], n = x.shape[2] * x.shape[3]
        var out = [Double](repeating: 0, count: planes)
        let src = x.pointer
        out.withUnsafeMutableBufferPointer { dst in
            let d = dst.baseAddress!
            parallelFor(planes, grain: max(1, 16384 / max(n, 1))) { r in
                for plane in r {
                    let p = src + plane * n
                    var s = 0.0
                    for i in 0..<n { s += Double(p[i]) }
                    d[plane] = s / Double(max(n, 1))
                }
            }
        }
        return out
    }
}
