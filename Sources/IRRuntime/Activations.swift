import Foundation
import IRKernels

/// Point-wise nonlinearities with a vectorised kernel.
public enum Activation: Sendable, CaseIterable {
    case relu
    /// Exact GELU, x·Φ(x) with erf (torch's default `approximate='none'`).
    case gelu
    /// GELU with the tanh approximation (`approximate='tanh'`).
    case geluTanh
    /// x·sigmoid(1.702x), as in OpenAI CLIP.
    case quickGELU
    /// x·sigmoid(x) (SiLU / swish).
    case silu
    case sigmoid
    case tanh

    var kernelKind: Int32 {
        switch self {
        case .relu: return Int32(IRK_ACT_RELU)
        case .gelu: return Int32(IRK_ACT_GELU_ERF)
        case .geluTanh: return Int32(IRK_ACT_GELU_TANH)
        case .quickGELU: return Int32(IRK_ACT_QUICK_GELU)
        case .silu: return Int32(IRK_ACT_SILU)
        case .sigmoid: return Int32(IRK_ACT_SIGMOID)
        case .tanh: return Int32(IRK_ACT_TANH)
        }
    }
}

extension ComputeContext {
    /// Applies `activation` element-wise.
    public func activation(_ x: Tensor, _ activation: Activation) throws -> Tensor {
        let out = try empty(x.shape)
        let src = x.pointer, dst = out.mutablePointer, kind = activation.kernelKind
        parallelFor(x.count, grain: 16384) { r in
            irk_activation(kind, src + r.lowerBound, dst + r.lowerBound, r.count)
        }
        return out
    }

    public func relu(_ x: Tensor) throws -> Tensor { try activation(x, .relu) }
    /// GELU; `approximateTanh` selects torch's `approximate='tanh'`.
    public func gelu(_ x: Tensor, approximateTanh: Bool = false) throws -> Tensor { try activation(x, approximateTanh ? .geluTanh : .gelu) }
    public func quickGELU(_ x: Tensor) throws -> Tensor { try activation(x, .quickGELU) }
    public func silu(_ x: Tensor) throws -> Tensor { try activation(x, .silu) }
    public func sigmoid(_ x: Tensor) throws -> Tensor { try activation(x, .sigmoid) }
    public func tanh(_ x: Tensor) throws -> Tensor { try activation(x, .tanh) }

    /// LeakyReLU: x > 0 ? x : slope·x.
    public func leakyReLU(_ x: Tensor, slope: Float = 0.01) throws -> Tensor {
        let out = try empty(x.shape)
        let src = x.pointer, dst = out.mutablePointer
        parallelFor(x.count, grain: 65536) { r in irk_leaky_relu(src + r.lowerBound, dst + r.lowerBound, r.count, slope) }
        return out
    }

    /// nn.PReLU over [N, C, H, W]: x > 0 ? x : slope[c]·x, one slope per channel (or one for all).
    public func prelu(_ x: Tensor, slopes: Tensor) throws -> Tensor {
        try require(x.rank >= 2, "prelu", "expected [N, C, ...], got \(x.shape)")
        let (n, c) = (x.shape[0], x.shape[1])
        try require(slopes.count == c || slopes.count == 1, "prelu", "\(slopes.count) slopes for \(c) channels")
        let plane = x.count / max(n * c, 1)
        let out = try empty(x.shape)
        let src = x.pointer, dst = out.mutablePointer, a = slopes.pointer, shared = slopes.count == 1
        parallelFor(n * c, grain: max(1, 65536 / max(plane, 1))) { r in
            for p in r {
                irk_leaky_relu(src + p * plane, dst + p * plane, plane, a[shared ? 0 : p % c])
            }
        }
        return out
    }

    /// Softplus as torch computes it: log1p(exp(β·x))/β, and x itself where β·x > threshold.
    public func softplus(_ x: Tensor, beta: Float = 1, threshold: Float = 20) throws -> Tensor {
        try require(beta != 0, "softplus", "beta must be non-zero")
        let out = try empty(x.shape)
        let src = x.pointer, dst = out.mutablePointer
        parallelFor(x.count, grain: 16384) { r in
            for i in r {
                let v = src[i], bx = v * beta
                dst[i] = bx > threshold ? v : Foundation.log1p(Foundation.exp(bx)) / beta
            }
        }
        return out
    }

    /// The gated unit of GDFN / GEGLU / NAFNet's SimpleGate: splits `dim` in two halves a, b and
    /// returns activation(a) · b (`activation` nil: a · b). Fused: no intermediate tensors.
    public func gated(_ x: Tensor, activation: Activation?, dim: Int = 1) throws -> Tensor {
        let op = "gated"
        let d = try normalizeDim(dim, rank: x.rank, op: op)
        let size = x.shape[d]
        try require(size % 2 == 0, op, "dimension \(dim) of \(x.shape) has odd size \(size)")
        var outShape = x.shape
        outShape[d] = size / 2
        let out = try empty(outShape)
        let inner = x.shape[(d + 1)...].reduce(1, *)
        let outer = x.shape[..<d].reduce(1, *)
        let half = size / 2 * inner
        let src = x.pointer, dst = out.mutablePointer
        let kind = activation?.kernelKind
        // Work in pieces of the half-block so both cores stay busy for batch 1.
        let pieces = max(1, min(half / 4096, threads * 4))
        parallelFor(outer * pieces) { r in
            for item in r {
                let o = item / pieces, p = item % pieces
                let lo = half * p / pieces, hi = half * (p + 1) / pieces
                let a = src + o * 2 * half + lo, b = a + half, y = dst + o * half + lo
                if let kind {
                    irk_gated_activation(kind, a, b, y, hi - lo)
                } else {
                    for i in 0..<(hi - lo) { y[i] = a[i] * b[i] }
                }
            }
        }
        return out
    }
}

/// Resolves a possibly negative dimension index.
func normalizeDim(_ dim: Int, rank: Int, op: String) throws -> Int {
    let d = dim < 0 ? dim + rank : dim
    try require(d >= 0 && d < max(rank, 1), op, "dimension \(dim) out of range for rank \(rank)")
    return d
}
