import IRRuntime

/// One IGAB block of RetinexFormer (upstream `IGAB.blocks[j]`), computed in NCHW throughout:
///
///     q, k, v = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ per pixel (1x1 convs with the Linear weights)
///     A = softmax(k̂·q̂ᵀ · rescale[h]) per head (d = n_feat channels; q̂, k̂ L2-normalised over pixels)
///     x = x + proj(A·(v ⊙ illu)) + pos_emb(v)        pos_emb = dw 3x3 → GELU → dw 3x3, on v before ⊙ illu
///     x = x + FFN(LayerNorm_C(x))                     FFN = 1x1 (4C) → GELU → dw 3x3 → GELU → 1x1
///
/// Upstream's `k @ qᵀ` is Restormer's channel attention with q and k swapped.
struct IlluminationGuidedBlock {
    let channels: Int, heads: Int
    let rescale: Tensor
    let toQ: Tensor, toK: Tensor, toV: Tensor  // [C, C, 1, 1] views of the Linear weights
    let proj: Tensor, projBias: Tensor
    let pos0: Conv2dLayer, pos2: Conv2dLayer
    let norm: LayerNormLayer
    let ffn0: Conv2dLayer, ffn2: Conv2dLayer, ffn4: Conv2dLayer

    init(_ w: Weights, channels c: Int, heads: Int) throws {
        channels = c
        self.heads = heads
        rescale = try w.tensor("0.rescale", shape: [heads, 1, 1])
        func pointwise(_ name: String) throws -> Tensor { try w.tensor(name, shape: [c, c]).reshaped([c, c, 1, 1]) }
        toQ = try pointwise("0.to_q.weight")
        toK = try pointwise("0.to_k.weight")
        toV = try pointwise("0.to_v.weight")
        proj = try pointwise("0.proj.weight")
        projBias = try w.tensor("0.proj.bias", shape: [c])
        pos0 = try Conv2dLayer(w, "0.pos_emb.0", out: c, in: c, kernel: 3, padding: 1, groups: c, bias: false)
        pos2 = try Conv2dLayer(w, "0.pos_emb.2", out: c, in: c, kernel: 3, padding: 1, groups: c, bias: false)
        norm = try LayerNormLayer(w, "1.norm", c)
        ffn0 = try Conv2dLayer(w, "1.fn.net.0", out: 4 * c, in: c, kernel: 1, bias: false)
        ffn2 = try Conv2dLayer(w, "1.fn.net.2", out: 4 * c, in: 4 * c, kernel: 3, padding: 1, groups: 4 * c, bias: false)
        ffn4 = try Conv2dLayer(w, "1.fn.net.4", out: c, in: 4 * c, kernel: 1, bias: false)
    }

    func callAsFunction(_ ctx: ComputeContext, _ input: Tensor, illumination: Tensor) throws -> Tensor {
        let q = try ctx.conv2d(input, weight: toQ)
        let k = try ctx.conv2d(input, weight: toK)
        let v = try ctx.conv2d(input, weight: toV)
        let attended = try ctx.channelAttention(q: k, k: q, v: try ctx.mul(v, illumination), temperature: rescale, heads: heads)
        let projected = try ctx.conv2d(attended, weight: proj, bias: projBias)
        let position = try pos2(ctx, try ctx.gelu(try pos0(ctx, v)))
        var x = try ctx.add(try ctx.add(projected, position), input)
        let y = try ctx.channelLayerNorm(x, weight: norm.weight, bias: norm.bias, eps: norm.eps, variant: .withBias)
        let hidden = try ctx.gelu(try ffn2(ctx, try ctx.gelu(try ffn0(ctx, y))))
        x = try ctx.add(try ffn4(ctx, hidden), x)
        return x
    }
}
