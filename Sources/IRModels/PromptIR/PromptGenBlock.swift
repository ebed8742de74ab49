import IRRuntime

/// PromptIR's prompt generator (upstream `PromptGenBlock`, `net/model.py`): a learned bank of
/// `len` prompts [C_p, S, S] mixed per image by softmax(Linear(global mean of x)), resized to the
/// feature map with `F.interpolate(mode="bilinear")` (align_corners=False) and passed through a
/// 3×3 conv. The mixing weights depend on the whole image, so tiles see other prompts.
final class PromptGenBlock {
    let bank: Tensor
    let length: Int, promptChannels: Int, size: Int
    let linear: LinearLayer
    let conv: Conv2dLayer

    init(_ w: Weights, promptChannels: Int, length: Int, size: Int, featureChannels: Int) throws {
        bank = try w.tensor("prompt_param", shape: [1, length, promptChannels, size, size])
        self.length = length
        self.promptChannels = promptChannels
        self.size = size
        linear = try LinearLayer(w, "linear_layer", out: length, in: featureChannels, bias: true)
        conv = try Conv2dLayer(w, "conv3x3", out: promptChannels, in: promptChannels, kernel: 3, padding: 1, bias: false)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        let b = x.shape[0]
        let pooled = try Tensor(shape: [b, x.shape[1]], values: ctx.spatialMeans(x).map { Float($0) })
        let weights = try ctx.softmax(try linear(ctx, pooled), dim: 1)  // [B, len]
        let per = promptChannels * size * size
        let prompt = try ctx.empty([b, promptChannels, size, size])
        let wp = weights.pointer, bp = bank.pointer, dst = prompt.mutablePointer
        let len = length
        ctx.parallelFor(b * per, grain: 16384) { r in
            for i in r {
                let (n, e) = (i / per, i % per)
                // Σ_k w[n, k] · bank[k], summed in k order as torch's sum over dim 1.
                var s = wp[n * len] * bp[e]
                for k in 1..<max(len, 1) { s += wp[n * len + k] * bp[k * per + e] }
                dst[i] = s
            }
        }
        let resized = try ctx.interpolate(prompt, size: Size2(x.shape[2], x.shape[3]), mode: .bilinear, alignCorners: false)
        return try conv(ctx, resized)
    }
}
