import Foundation
import IRRuntime
import IRRegistry

/// GatedDA (upstream `GatedDegradationAdaption`, AnyIR `net/anyir.py`) on the C' odd channels of a
/// DAB, as the code computes it (the paper differs; anyir.md §2.3, §2.6):
///
///     y  = BatchNorm2d(x)                          eval mode: running statistics
///     μ, σ² = mean and population variance of y over H·W, per image and channel
///     τ' = tau · sigmoid(μ + sqrt(σ² + 1e-6))     [B, C']
///     γ | β | α = W_exp(y)                         C' | C' | hidden − 2C' channels
///     α' = W_depth(α) · (1 + τ'[:, :α])            7×7 depthwise, zero padding 3
///     out = W_proj(sigmoid(γ) · W_gate([β, α']) + x)
///
/// The statistics are global over the image, so tiles see other values than the whole image.
final class GatedDegradationAdaptation {
    let channels: Int
    let alpha: Int
    let tau: Tensor
    let normWeight: Tensor, normBias: Tensor, runningMean: Tensor, runningVar: Tensor
    let expand: Conv2dLayer, depthwise: Conv2dLayer, gate: Conv2dLayer, project: Conv2dLayer

    /// `w` is scoped to the block's `attn.gatedcnn`; `blockChannels` is the DAB's C (= 2C').
    init(_ w: Weights, blockChannels: Int) throws {
        let sizes = AnyIRConfig.gatedSizes(blockChannels: blockChannels)
        let c = sizes.half
        channels = c
        alpha = sizes.alpha
        tau = try w.tensor("tau", shape: [1, c, 1, 1])
        normWeight = try w.tensor("norm.weight", shape: [c])
        normBias = try w.tensor("norm.bias", shape: [c])
        runningMean = try w.tensor("norm.running_mean", shape: [c])
        runningVar = try w.tensor("norm.running_var", shape: [c])
        expand = try Conv2dLayer(w, "W_exp", out: sizes.hidden, in: c, kernel: 1, bias: false)
        depthwise = try Conv2dLayer(w, "W_depth", out: alpha, in: alpha, kernel: 7, padding: 3, groups: alpha, bias: false)
        gate = try Conv2dLayer(w, "W_gate", out: c, in: c + alpha, kernel: 1, bias: false)
        project = try Conv2dLayer(w, "W_proj", out: c, in: c, kernel: 1, bias: false)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        let (b, c) = (x.shape[0], channels)
        let y = try ctx.batchNorm(x, runningMean: runningMean, runningVar: runningVar, weight: normWeight,
                                  bias: normBias, eps: 1e-5)
        let temperature = adaptedTemperature(ctx, y)
        // γ | β | α in one fresh tensor; α' is written back over α so [β, α'] stays one slice.
        let f = try expand(ctx, y)
        let alphaScaled = try depthwise(ctx, try ctx.narrow(f, dim: 1, start: 2 * c, length: alpha))
        let plane = x.shape[2] * x.shape[3]
        let hidden = f.shape[1]
        let src = alphaScaled.pointer, dst = f.mutablePointer
        ctx.parallelFor(b * alpha, grain: max(1, 16384 / max(plane, 1))) { r in
            for item in r {
                let (n, j) = (item / alpha, item % alpha)
                // Upstream tiles τ' along channels ceil(α/C') times and keeps the first α.
                let scale = 1 + temperature[n * c + j % c]
                let s = src + item * plane, d = dst + (n * hidden + 2 * c + j) * plane
                for i in 0..<plane { d[i] = s[i] * scale }
            }
        }
        let gated = try gate(ctx, try ctx.narrow(f, dim: 1, start: c, length: c + alpha))
        let gamma = try ctx.sigmoid(try ctx.narrow(f, dim: 1, start: 0, length: c))
        let sum = try ctx.empty(x.shape)
        let gp = gamma.pointer, vp = gated.pointer, xp = x.pointer, out = sum.mutablePointer
        ctx.parallelFor(sum.count, grain: 16384) { r in
            for i in r { out[i] = gp[i] * vp[i] + xp[i] }
        }
        return try project(ctx, sum)
    }

    /// τ' = tau · sigmoid(μ + σ) per image and channel, from the normalised map's own statistics.
    private func adaptedTemperature(_ ctx: ComputeContext, _ y: Tensor) -> [Float] {
        let c = channels
        let planes = y.shape[0] * c, n = y.shape[2] * y.shape[3]
        let means = ctx.spatialMeans(y)
        var out = [Float](repeating: 0, count: planes)
        let src = y.pointer, tp = tau.pointer
        means.withUnsafeBufferPointer { mp in
            out.withUnsafeMutableBufferPointer { dst in
                let d = dst.baseAddress!
                ctx.parallelFor(planes, grain: max(1, 16384 / max(n, 1))) { r in
                    for plane in r {
                        let p = src + plane * n, mean = mp[plane]
                        var ss = 0.0
                        for i in 0..<n { let v = Double(p[i]) - mean; ss += v * v }
                        let sigma = (ss / Double(max(n, 1)) + 1e-6).squareRoot()
                        let delta = 1 / (1 + Foundation.exp(-(mean + sigma)))
                        d[plane] = tp[plane % c] * Float(delta)
                    }
                }
            }
        }
        return out
    }
}
