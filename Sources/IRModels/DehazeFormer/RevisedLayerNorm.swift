import IRRuntime

/// DehazeFormer's RLN: normalises each sample over (C, H, W) and hands back the statistics'
/// affine images `rescale = meta1(std)`, `rebias = meta2(mean)` ([B, C, 1, 1]), which the block
/// applies to its token mixer's output so the normalisation does not lose the image's contrast.
struct RevisedLayerNorm {
    let channels: Int
    let weight: Tensor, bias: Tensor         // [1, C, 1, 1]
    let meta1Weight: Tensor, meta1Bias: Tensor  // 1x1 conv 1 -> C: [C, 1, 1, 1], [C]
    let meta2Weight: Tensor, meta2Bias: Tensor
    static let eps = 1e-5

    init(_ w: Weights, channels c: Int) throws {
        channels = c
        weight = try w.tensor("weight", shape: [1, c, 1, 1])
        bias = try w.tensor("bias", shape: [1, c, 1, 1])
        meta1Weight = try w.tensor("meta1.weight", shape: [c, 1, 1, 1])
        meta1Bias = try w.tensor("meta1.bias", shape: [c])
        meta2Weight = try w.tensor("meta2.weight", shape: [c, 1, 1, 1])
        meta2Bias = try w.tensor("meta2.bias", shape: [c])
    }

    /// (normalised x · weight + bias, rescale, rebias).
    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> (Tensor, Tensor, Tensor) {
        let (b, c) = (x.shape[0], x.shape[1])
        let plane = x.shape[2] * x.shape[3], count = c * plane
        let out = try ctx.empty(x.shape)
        let rescale = try ctx.empty([b, c, 1, 1]), rebias = try ctx.empty([b, c, 1, 1])
        let src = x.pointer, dst = out.mutablePointer
        let wp = weight.pointer, bp = bias.pointer
        for s in 0..<b {
            // Mean and variance in double (torch's cascaded float sums are about as exact).
            let xs = src + s * count
            var sum = 0.0
            for i in 0..<count { sum += Double(xs[i]) }
            let mean = Float(sum / Double(max(count, 1)))
            var sq = 0.0
            for i in 0..<count { let d = Double(xs[i] - mean); sq += d * d }
            let std = Float((sq / Double(max(count, 1)) + Self.eps).squareRoot())
            let ds = dst + s * count
            ctx.parallelFor(c, grain: max(1, 16384 / max(plane, 1))) { r in
                for ch in r {
                    let (wc, bc) = (wp[ch], bp[ch])
                    for p in 0..<plane { ds[ch * plane + p] = (xs[ch * plane + p] - mean) / std * wc + bc }
                }
            }
            let r = rescale.mutablePointer + s * c, o = rebias.mutablePointer + s * c
            for ch in 0..<c {
                r[ch] = meta1Weight.pointer[ch] * std + meta1Bias.pointer[ch]
                o[ch] = meta2Weight.pointer[ch] * mean + meta2Bias.pointer[ch]
            }
        }
        return (out, rescale, rebias)
    }
}
