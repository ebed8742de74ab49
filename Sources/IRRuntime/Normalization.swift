import Foundation
import IRKernels

/// Restormer's two channel LayerNorms (`LayerNorm_type`).
public enum ChannelNormVariant: Sendable {
    /// (x − μ)/√(σ² + ε)·w + b: Restormer `WithBias_LayerNorm`, NAFNet `LayerNorm2d`.
    case withBias
    /// x/√(σ² + ε)·w with σ² taken about the mean but x **not** centred: Restormer `BiasFree_LayerNorm`.
    case biasFree
}

extension ComputeContext {
    /// LayerNorm over the trailing dimensions given by `normalizedShape` (default: the weight's
    /// shape, else the last dimension), biased variance, as torch.nn.functional.layer_norm.
    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
                          normalizedShape: [Int]? = nil) throws -> Tensor {
        let op = "layerNorm"
        let ns = normalizedShape ?? weight?.shape ?? [x.shape.last ?? 1]
        try require(!ns.isEmpty && ns.count <= x.rank && Array(x.shape.suffix(ns.count)) == ns, op,
                    "normalized shape \(ns) does not match the end of input \(x.shape)")
        let n = ns.reduce(1, *)
        if let weight { try require(weight.count == n, op, "weight has shape \(weight.shape), expected \(ns)") }
        if let bias { try require(bias.count == n, op, "bias has shape \(bias.shape), expected \(ns)") }
        let out = try empty(x.shape)
        let rows = x.count / max(n, 1)
        let src = x.pointer, dst = out.mutablePointer
        let w = weight?.pointer, b = bias?.pointer
        parallelFor(rows, grain: max(1, 8192 / max(n, 1))) { r in
            irk_layernorm_rows(src + r.lowerBound * n, dst + r.lowerBound * n, r.count, n, w, b, eps)
        }
        return out
    }

    /// LayerNorm over the channels of each pixel of an NCHW tensor (Restormer/AnyIR/SymUNet
    /// blocks, NAFNet's LayerNorm2d), without the to_3d/to_4d transposes.
    public func channelLayerNorm(_ x: Tensor, weight: Tensor, bias: Tensor?, eps: Float = 1e-5,
                                 variant: ChannelNormVariant = .withBias) throws -> Tensor {
        let op = "channelLayerNorm"
        try require(x.rank == 4, op, "expected [N, C, H, W], got \(x.shape)")
        let (n, c) = (x.shape[0], x.shape[1])
        let hw = x.shape[2] * x.shape[3]
        try require(weight.count == c, op, "weight has shape \(weight.shape), expected [\(c)]")
        if let bias { try require(bias.count == c, op, "bias has shape \(bias.shape), expected [\(c)]") }
        if variant == .biasFree { try require(bias == nil, op, "the BiasFree variant takes no bias") }
        let out = try empty(x.shape)
        let src = x.pointer, dst = out.mutablePointer
        let w = weight.pointer, b = bias?.pointer
        let mode: Int32 = variant == .withBias ? 0 : 1
        let block = 64
        let blocks = (hw + block - 1) / block
        parallelFor(n * blocks, grain: 4) { r in
            for item in r {
                let s = item / blocks, p0 = (item % blocks) * block
                irk_channel_layernorm(src + s * c * hw, dst + s * c * hw, c, hw, p0, min(hw, p0 + block), w, b, eps, mode)
            }
        }
        return out
    }

    /// RMSNorm over the last dimension: x / √(mean(x²) + ε) · weight.
    public func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float = 1e-6) throws -> Tensor {
        let op = "rmsNorm"
        try require(x.rank >= 1, op, "input must have at least one dimension")
        let n = x.shape[x.rank - 1]
        if let weight { try require(weight.count == n, op, "weight has shape \(weight.shape), expected [\(n)]") }
        let out = try empty(x.shape)
        let src = x.pointer, dst = out.mutablePointer, w = weight?.pointer
        parallelFor(x.count / max(n, 1), grain: max(1, 8192 / max(n, 1))) { r in
            for row in r {
                let xr = src + row * n, yr = dst + row * n
                var q: Double = 0
                for i in 0..<n { q += Double(xr[i]) * Double(xr[i]) }
                let rs = 1 / (Float(q / Double(n)) + eps).squareRoot()
                for i in 0..<n { yr[i] = xr[i] * rs * (w?[i] ?? 1) }
            }
        }
        return out
    }

    /// torch.nn.functional.group_norm on [N, C, *]: statistics per sample and group of C/groups channels.
    public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) throws -> Tensor {
        let op = "groupNorm"
        try require(x.rank >= 2, op, "expected [N, C, *], got \(x.shape)")
        let (n, c) = (x.shape[0], x.shape[1])
        try require(groups >= 1 && c % groups == 0, op, "\(c) channels cannot be split into \(groups) groups")
        if let weight { try require(weight.count == c, op, "weight has shape \(weight.shape), expected [\(c)]") }
        if let bias { try require(bias.count == c, op, "bias has shape \(bias.shape), expected [\(c)]") }
        let spatial = x.count / max(n * c, 1)
        let cg = c / groups
        let out = try empty(x.shape)
        let src = x.pointer, dst = out.mutablePointer, w = weight?.pointer, b = bias?.pointer
        parallelFor(n * groups) { r in
            for item in r {
                let g = item % groups
                let base = item * cg * spatial
                let len = cg * spatial
                var s: Double = 0
                for i in 0..<len { s += Double(src[base + i]) }
                let mean = s / Double(max(len, 1))
                var q: Double = 0
                for i in 0..<len { let d = Double(src[base + i]) - mean; q += d * d }
                let rstd = Float(1 / (q / Double(max(len, 1)) + Double(eps)).squareRoot())
                let m = Float(mean)
                for ci in 0..<cg {
                    let ch = g * cg + ci
                    let scale = rstd * (w?[ch] ?? 1), shift = b?[ch] ?? 0
                    let p = base + ci * spatial
                    for i in 0..<spatial { dst[p + i] = (src[p + i] - m) * scale + shift }
                }
            }
        }
        return out
    }

    /// BatchNorm in eval mode over [N, C, *] (also BatchNorm1d on [N, C]) with running statistics,
    /// computed as torch does: y = x·α + β with α = w/√(var + ε), β = b − mean·α.
    public func batchNorm(_ x: Tensor, runningMean: Tensor, runningVar: Tensor, weight: Tensor?, bias: Tensor?,
                          eps: Float = 1e-5) throws -> Tensor {
        let op = "batchNorm"
        try require(x.rank >= 2, op, "expected [N, C, *], got \(x.shape)")
        let (n, c) = (x.shape[0], x.shape[1])
        for (name, t) in [("running_mean", runningMean), ("running_var", runningVar)] {
            try require(t.count == c, op, "\(name) has shape \(t.shape), expected [\(c)]")
        }
        if let weight { try require(weight.count == c, op, "weight has shape \(weight.shape), expected [\(c)]") }
        if let bias { try require(bias.count == c, op, "bias has shape \(bias.shape), expected [\(c)]") }
        let spatial = x.count / max(n * c, 1)
        var alpha = [Float](repeating: 0, count: c), beta = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            let invstd = 1 / (runningVar.pointer[ch] + eps).squareRoot()
            alpha[ch] = invstd * (weight?.pointer[ch] ?? 1)
            beta[ch] = (bias?.pointer[ch] ?? 0) - runningMean.pointer[ch] * alpha[ch]
        }
        let out = try empty(x.shape)
        let src = x.pointer, dst = out.mutablePointer
        alpha.withUnsafeBufferPointer { al in beta.withUnsafeBufferPointer { be in
            parallelFor(n * c, grain: max(1, 16384 / max(spatial, 1))) { r in
                for plane in r {
                    let ch = plane % c, a = al[ch], bb = be[ch], p = plane * spatial
                    for i in 0..<spatial { dst[p + i] = src[p + i] * a + bb }
                }
            }
        } }
        return out
    }

    /// Softmax along `dim`.
    public func softmax(_ x: Tensor, dim: Int = -1) throws -> Tensor {
        let d = try normalizeDim(dim, rank: x.rank, op: "softmax")
        let out = try empty(x.shape)
        guard x.count > 0 else { return out }
        let size = x.rank == 0 ? 1 : x.shape[d]
        let inner = x.rank == 0 ? 1 : x.shape[(d + 1)...].reduce(1, *)
        let outer = x.count / max(size * inner, 1)
        let src = x.pointer, dst = out.mutablePointer
        if inner == 1 {
            parallelFor(outer, grain: max(1, 4096 / max(size, 1))) { r in
                irk_softmax_rows(src + r.lowerBound * size, dst + r.lowerBound * size, r.count, size, 1)
            }
            return out
        }
        parallelFor(outer * inner, grain: 256) { r in
            for item in r {
                let o = item / inner, i = item % inner
                let base = o * size * inner + i
                var m = -Float.infinity
                for j in 0..<size { m = Swift.max(m, src[base + j * inner]) }
                if m == -.infinity { m = 0 }
                var s: Float = 0
                for j in 0..<size { let e = Foundation.exp(src[base + j * inner] - m); dst[base + j * inner] = e; s += e }
                let inv = 1 / s
                for j in 0..<size { dst[base + j * inner] *= inv }
            }
        }
        return out
    }

    /// torch.nn.functional.normalize with p = 2: x / max(‖x‖₂, eps) along `dim`.
    public func l2Normalize(_ x: Tensor, dim: Int = -1, eps: Float = 1e-12) throws -> Tensor {
        let d = try normalizeDim(dim, rank: x.rank, op: "l2Normalize")
        let out = try empty(x.shape)
        guard x.count > 0 else { return out }
        let size = x.rank == 0 ? 1 : x.shape[d]
        let inner = x.rank == 0 ? 1 : x.shape[(d + 1)...].reduce(1, *)
        let outer = x.count / max(size * inner, 1)
        let src = x.pointer, dst = out.mutablePointer
        parallelFor(outer * inner, grain: 64) { r in
            for item in r {
                let o = item / inner, i = item % inner
                let base = o * size * inner + i
                var q: Double = 0
                for j in 0..<size { let v = Double(src[base + j * inner]); q += v * v }
                let denom = l2NormDenominator(sumOfSquares: q, eps: eps)
                for j in 0..<size { dst[base + j * inner] = src[base + j * inner] / denom }
            }
        }
        return out
    }
}

/// torch's `max(‖x‖₂, eps)` from a sum of squares taken in double: the norm is rounded as torch's
/// float32 reduction gives it (a sum of squares past the float range is inf, so x/inf = 0 as in
/// torch), and NaN stays NaN (clamp_min propagates it).
func l2NormDenominator(sumOfSquares q: Double, eps: Float) -> Float {
    let norm = Float(q).squareRoot()
    return norm.isNaN ? norm : Swift.max(norm, eps)
}
