import IRRuntime

/// The VAE mid-block attention (diffusers `Attention` with `group_norm`, LDM `AttnBlock`):
/// GroupNorm → q, k, v Linear over the h·w pixel tokens → single-head softmax attention
/// (scale 1/√C) → `to_out.0` → + the input. `heads` is C / attention_head_dim (1 in the VAE).
struct SpatialSelfAttention {
    let norm: GroupNormLayer
    let toQ: LinearLayer
    let toK: LinearLayer
    let toV: LinearLayer
    let toOut: LinearLayer
    let heads: Int

    init(_ w: Weights, _ name: String, channels c: Int, groups: Int, eps: Float, heads: Int = 1) throws {
        norm = try GroupNormLayer(w, name + ".group_norm", channels: c, groups: groups, eps: eps)
        toQ = try LinearLayer(w, name + ".to_q", out: c, in: c, bias: true)
        toK = try LinearLayer(w, name + ".to_k", out: c, in: c, bias: true)
        toV = try LinearLayer(w, name + ".to_v", out: c, in: c, bias: true)
        toOut = try LinearLayer(w, name + ".to_out.0", out: c, in: c, bias: true)
        self.heads = heads
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        // [B, C, H, W] → tokens [B, HW, C]
        let tokens = try ctx.permute(try norm(ctx, x).reshaped([b, c, h * w]), [0, 2, 1])
        let d = c / heads
        let a = try ctx.multiHeadAttention(q: try toQ(ctx, tokens), k: try toK(ctx, tokens), v: try toV(ctx, tokens),
                                           heads: heads, scale: 1 / Float(d).squareRoot())
        let out = try ctx.permute(try toOut(ctx, a), [0, 2, 1]).reshaped([b, c, h, w])
        return try ctx.add(out, x)
    }
}
