import IRRuntime
import IRRegistry

/// How a DAB computes its frequency branch `irfft2(rfft2(A) + rfft2(G), s=(H, W))`.
public enum FrequencyBranch: String, Sendable, CaseIterable {
    /// The sum A + G, which the transform pair equals exactly in exact arithmetic (the FFT is
    /// linear and irfft2 inverts rfft2 for real inputs); about 1e-6 from the FFT path in float32.
    case sum
    /// The FFT path as upstream writes it (for fidelity checks; much slower).
    case fft
}

/// AnyIR's DAB (upstream `TransformerBlock` in `net/anyir.py`) on C channels, C' = C/2:
///
///     y = norm1(x);  A = MDTA(y[:, 0::2]);  G = GatedDA(y[:, 1::2])     even / odd channels
///     Fs = [A + sigmoid(G), G + sigmoid(A)]                              block concatenation
///     Ff = repeat_interleave(irfft2(rfft2(A) + rfft2(G)), 2)             channel j = (A + G)[j / 2]
///     x = x + project_out(lam · Fs + (1 − lam) · Ff)                     lam: one learned scalar
///     x = x + GDFN(norm2(x))
final class DegradationAdaptiveBlock {
    let channels: Int
    let heads: Int
    let norm: ChannelNormVariant
    let norm1Weight: Tensor, norm1Bias: Tensor?
    let temperature: Tensor
    let lam: Float
    let qkv: Conv2dLayer, qkvDepthwise: Conv2dLayer
    let gatedDA: GatedDegradationAdaptation
    let projectOut: Conv2dLayer
    let norm2Weight: Tensor, norm2Bias: Tensor?
    let ffn: GatedDconvFeedForward

    init(_ w: Weights, channels c: Int, heads: Int, config: AnyIRConfig) throws {
        let half = c / 2
        channels = c
        self.heads = heads
        let withBias = config.layerNorm == .withBias
        norm = withBias ? .withBias : .biasFree
        norm1Weight = try w.tensor("norm1.body.weight", shape: [c])
        norm1Bias = withBias ? try w.tensor("norm1.body.bias", shape: [c]) : nil
        temperature = try w.tensor("attn.temperature", shape: [heads, 1, 1])
        lam = try w.scalar("attn.lam")
        qkv = try Conv2dLayer(w, "attn.qkv", out: half * 3, in: half, kernel: 1, bias: config.bias)
        qkvDepthwise = try Conv2dLayer(w, "attn.qkv_dwconv", out: half * 3, in: half * 3, kernel: 3, padding: 1,
                                       groups: half * 3, bias: config.bias)
        gatedDA = try GatedDegradationAdaptation(w.scoped("attn.gatedcnn"), blockChannels: c)
        projectOut = try Conv2dLayer(w, "attn.project_out", out: c, in: c, kernel: 1, bias: config.bias)
        norm2Weight = try w.tensor("norm2.body.weight", shape: [c])
        norm2Bias = withBias ? try w.tensor("norm2.body.bias", shape: [c]) : nil
        ffn = try GatedDconvFeedForward(w.scoped("ffn"), channels: c, expansionFactor: config.ffnExpansionFactor,
                                        bias: config.bias)
    }

    func callAsFunction(_ ctx: ComputeContext, _ input: Tensor, frequency: FrequencyBranch) throws -> Tensor {
        var x = input
        do {
            let y = try ctx.channelLayerNorm(x, weight: norm1Weight, bias: norm1Bias, eps: 1e-5, variant: norm)
            let (even, odd) = try ctx.deinterleaveChannels(y)
            let qkvMap = try qkvDepthwise(ctx, try qkv(ctx, even))
            let a = try ctx.channelAttention(q: try ctx.channelSlice(qkvMap, index: 0, of: 3),
                                             k: try ctx.channelSlice(qkvMap, index: 1, of: 3),
                                             v: try ctx.channelSlice(qkvMap, index: 2, of: 3),
                                             temperature: temperature, heads: heads)
            let g = try gatedDA(ctx, odd)
            x = try ctx.add(x, try projectOut(ctx, try fuse(ctx, a, g, frequency: frequency)))
        }
        let y = try ctx.channelLayerNorm(x, weight: norm2Weight, bias: norm2Bias, eps: 1e-5, variant: norm)
        return try ctx.add(x, try ffn(ctx, y))
    }

    /// lam · [A + σ(G), G + σ(A)] + (1 − lam) · repeat_interleave(Ff, 2), in one pass.
    private func fuse(_ ctx: ComputeContext, _ a: Tensor, _ g: Tensor, frequency: FrequencyBranch) throws -> Tensor {
        let (b, half) = (a.shape[0], a.shape[1])
        let plane = a.shape[2] * a.shape[3]
        let sa = try ctx.sigmoid(a), sg = try ctx.sigmoid(g)
        // Ff before the channel duplication: the sum, or upstream's transform pair.
        let spectral: Tensor? = frequency == .fft
            ? try ctx.irfft2(try ctx.add(try ctx.rfft2(a), try ctx.rfft2(g)), size: Size2(a.shape[2], a.shape[3]))
            : nil
        let out = try ctx.empty([b, 2 * half, a.shape[2], a.shape[3]])
        let ap = a.pointer, gp = g.pointer, sap = sa.pointer, sgp = sg.pointer
        let fp = spectral?.pointer, dst = out.mutablePointer
        let l = lam, rest = 1 - lam
        ctx.parallelFor(b * 2 * half, grain: max(1, 16384 / max(plane, 1))) { r in
            for item in r {
                let (n, j) = (item / (2 * half), item % (2 * half))
                // Spatial half j < C' is attention-led, the rest gate-led; Ff channel j is source j / 2.
                let own = (n * half + j % half) * plane, freq = (n * half + j / 2) * plane
                let first = j < half
                let x = first ? ap + own : gp + own, cross = first ? sgp + own : sap + own
                let d = dst + item * plane
                if let fp {
                    let f = fp + freq
                    for i in 0..<plane { d[i] = l * (x[i] + cross[i]) + rest * f[i] }
                } else {
                    let fa = ap + freq, fg = gp + freq
                    for i in 0..<plane { d[i] = l * (x[i] + cross[i]) + rest * (fa[i] + fg[i]) }
                }
            }
        }
        return out
    }
}

/// A stack of DABs upstream registers as `<scope>.0`, `<scope>.1`, ... (nn.Sequential).
struct DegradationAdaptiveStack {
    let blocks: [DegradationAdaptiveBlock]

    init(_ w: Weights, _ scope: String, count: Int, channels: Int, heads: Int, config: AnyIRConfig) throws {
        blocks = try (0..<count).map { j in
            try DegradationAdaptiveBlock(w.scoped("\(scope).\(j)"), channels: channels, heads: heads, config: config)
        }
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, frequency: FrequencyBranch, step: () -> Void) throws -> Tensor {
        var y = x
        for b in blocks {
            y = try b(ctx, y, frequency: frequency)
            step()
        }
        return y
    }
}

extension ComputeContext {
    /// `x[:, 0::2]` and `x[:, 1::2]` of an NCHW tensor (upstream's skip-split).
    func deinterleaveChannels(_ x: Tensor) throws -> (even: Tensor, odd: Tensor) {
        let (b, c) = (x.shape[0], x.shape[1])
        let half = c / 2
        let plane = x.shape[2] * x.shape[3]
        let even = try empty([b, half, x.shape[2], x.shape[3]]), odd = try empty([b, half, x.shape[2], x.shape[3]])
        let src = x.pointer, ep = even.mutablePointer, op = odd.mutablePointer
        parallelFor(b * c, grain: max(1, 16384 / max(plane, 1))) { r in
            for item in r {
                let (n, j) = (item / c, item % c)
                let d = (j % 2 == 0 ? ep : op) + (n * half + j / 2) * plane
                d.update(from: src + item * plane, count: plane)
            }
        }
        return (even, odd)
    }
}
