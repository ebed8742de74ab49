import IRRuntime
import IRRegistry

/// Restormer's `TransformerBlock` (SymUNet, PromptIR, ...): `x + MDTA(LN(x))`, then `+ GDFN(LN(·))`.
///
/// - LN: channel LayerNorm per pixel (WithBias, or BiasFree: not centred, no bias).
/// - MDTA: 1×1 qkv conv, 3×3 depthwise conv, split q | k | v along channels, L2-normalise q and k
///   over the pixels, per-head softmax(q̂·k̂ᵀ·temperature) over channels, times v, 1×1 projection.
/// - GDFN: 1×1 conv to 2F, 3×3 depthwise, gelu(first half) · second half (exact erf GELU), 1×1 to C,
///   with F = int(C · expansion) as Python truncates it.
final class RestormerBlock {
    let dim: Int
    let heads: Int
    let norm: ChannelNormVariant
    let norm1Weight: Tensor, norm1Bias: Tensor?
    let temperature: Tensor
    let qkv: Conv2dLayer, qkvDepthwise: Conv2dLayer, attentionOut: Conv2dLayer
    let norm2Weight: Tensor, norm2Bias: Tensor?
    let ffnIn: Conv2dLayer, ffnDepthwise: Conv2dLayer, ffnOut: Conv2dLayer

    init(_ w: Weights, dim: Int, heads: Int, ffnExpansionFactor: Double, bias: Bool, layerNorm: LayerNormKind) throws {
        self.dim = dim
        self.heads = heads
        // Python's int(dim * factor): a double product truncated toward zero (48 * 2.66 -> 127).
        let hidden = Int((Double(dim) * ffnExpansionFactor).rounded(.towardZero))
        let withBias = layerNorm == .withBias
        norm = withBias ? .withBias : .biasFree
        norm1Weight = try w.tensor("norm1.body.weight", shape: [dim])
        norm1Bias = withBias ? try w.tensor("norm1.body.bias", shape: [dim]) : nil
        temperature = try w.tensor("attn.temperature", shape: [heads, 1, 1])
        qkv = try Conv2dLayer(w, "attn.qkv", out: dim * 3, in: dim, kernel: 1, bias: bias)
        qkvDepthwise = try Conv2dLayer(w, "attn.qkv_dwconv", out: dim * 3, in: dim * 3, kernel: 3, padding: 1,
                                       groups: dim * 3, bias: bias)
        attentionOut = try Conv2dLayer(w, "attn.project_out", out: dim, in: dim, kernel: 1, bias: bias)
        norm2Weight = try w.tensor("norm2.body.weight", shape: [dim])
        norm2Bias = withBias ? try w.tensor("norm2.body.bias", shape: [dim]) : nil
        ffnIn = try Conv2dLayer(w, "ffn.project_in", out: hidden * 2, in: dim, kernel: 1, bias: bias)
        ffnDepthwise = try Conv2dLayer(w, "ffn.dwconv", out: hidden * 2, in: hidden * 2, kernel: 3, padding: 1,
                                       groups: hidden * 2, bias: bias)
        ffnOut = try Conv2dLayer(w, "ffn.project_out", out: dim, in: hidden, kernel: 1, bias: bias)
    }

    /// Large maps run the GDFN in row bands (`inRowBands`; its depthwise conv reaches one row), so
    /// its 2F-wide hidden maps never exist for the whole image.
    func callAsFunction(_ ctx: ComputeContext, _ input: Tensor) throws -> Tensor {
        var x = input
        do {
            // Not banded: copying each band into the 3C-wide map cost more time than the C- and
            // 3C-wide intermediates it saves are worth (docs/BENCHMARKS.md, bench-scale).
            let n = try ctx.channelLayerNorm(x, weight: norm1Weight, bias: norm1Bias, eps: 1e-5, variant: norm)
            let qkvMap = try qkvDepthwise(ctx, try qkv(ctx, n))
            let q = try ctx.channelSlice(qkvMap, index: 0, of: 3)
            let k = try ctx.channelSlice(qkvMap, index: 1, of: 3)
            let v = try ctx.channelSlice(qkvMap, index: 2, of: 3)
            let a = try ctx.channelAttention(q: q, k: k, v: v, temperature: temperature, heads: heads)
            x = try ctx.add(x, try attentionOut(ctx, a))
        }
        return try ctx.inRowBands(x, outChannels: dim, halo: 1) { band in
            let n = try ctx.channelLayerNorm(band, weight: norm2Weight, bias: norm2Bias, eps: 1e-5, variant: norm)
            let hiddenMap = try ffnDepthwise(ctx, try ffnIn(ctx, n))
            return try ctx.add(band, try ffnOut(ctx, try ctx.gated(hiddenMap, activation: .gelu, dim: 1)))
        }
    }
}

/// A stack of blocks upstream registers as `<scope>.0`, `<scope>.1`, ... (nn.Sequential).
struct RestormerStack {
    let blocks: [RestormerBlock]

    init(_ w: Weights, _ scope: String, count: Int, dim: Int, heads: Int, ffnExpansionFactor: Double, bias: Bool,
         layerNorm: LayerNormKind) throws {
        blocks = try (0..<count).map { j in
            try RestormerBlock(w.scoped("\(scope).\(j)"), dim: dim, heads: heads, ffnExpansionFactor: ffnExpansionFactor,
                               bias: bias, layerNorm: layerNorm)
        }
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, step: () -> Void = {}) throws -> Tensor {
        var y = x
        for b in blocks {
            y = try b(ctx, y)
            step()
        }
        return y
    }
}
