import IRRuntime

/// diffusers `Attention` without norms or biases on q/k/v (the UNet's attn1/attn2): heads of
/// C / heads channels, scale 1/√head_dim, `to_out.0` with a bias. Self-attention when `context` is nil.
struct ProjectedAttention {
    let toQ: LinearLayer, toK: LinearLayer, toV: LinearLayer, toOut: LinearLayer
    let heads: Int

    init(_ w: Weights, _ name: String, channels c: Int, contextDim: Int, heads: Int) throws {
        toQ = try LinearLayer(w, name + ".to_q", out: c, in: c, bias: false)
        toK = try LinearLayer(w, name + ".to_k", out: c, in: contextDim, bias: false)
        toV = try LinearLayer(w, name + ".to_v", out: c, in: contextDim, bias: false)
        toOut = try LinearLayer(w, name + ".to_out.0", out: c, in: c, bias: true)
        self.heads = heads
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, context: Tensor? = nil) throws -> Tensor {
        let kv = context ?? x
        let d = x.shape[x.rank - 1] / heads
        let a = try ctx.multiHeadAttention(q: try toQ(ctx, x), k: try toK(ctx, kv), v: try toV(ctx, kv),
                                           heads: heads, scale: 1 / Float(d).squareRoot())
        return try toOut(ctx, a)
    }
}

/// diffusers `FeedForward` with GEGLU: proj [8C ← C] gives value | gate halves, value · GELU(gate)
/// (exact erf GELU), then net.2 [C ← 4C].
struct GEGLUFeedForward {
    let proj: LinearLayer
    let out: LinearLayer

    init(_ w: Weights, _ name: String, channels c: Int, mult: Int = 4) throws {
        proj = try LinearLayer(w, name + ".net.0.proj", out: 2 * mult * c, in: c, bias: true)
        out = try LinearLayer(w, name + ".net.2", out: c, in: mult * c, bias: true)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        let h = try proj(ctx, x)
        let halves = try ctx.chunk(h, 2, dim: -1)
        return try out(ctx, try ctx.mul(halves[0], try ctx.gelu(halves[1])))
    }
}

/// diffusers `BasicTransformerBlock` (norm_type "layer_norm", SDXL's): pre-LN self-attention,
/// pre-LN cross-attention to the text tokens, pre-LN GEGLU feed-forward, each with a residual.
struct BasicTransformerBlock {
    let norm1: LayerNormLayer, attn1: ProjectedAttention
    let norm2: LayerNormLayer, attn2: ProjectedAttention
    let norm3: LayerNormLayer, ff: GEGLUFeedForward

    init(_ w: Weights, _ name: String, channels c: Int, contextDim: Int, heads: Int, eps: Float) throws {
        norm1 = try LayerNormLayer(w, name + ".norm1", c, eps: eps)
        attn1 = try ProjectedAttention(w, name + ".attn1", channels: c, contextDim: c, heads: heads)
        norm2 = try LayerNormLayer(w, name + ".norm2", c, eps: eps)
        attn2 = try ProjectedAttention(w, name + ".attn2", channels: c, contextDim: contextDim, heads: heads)
        norm3 = try LayerNormLayer(w, name + ".norm3", c, eps: eps)
        ff = try GEGLUFeedForward(w, name + ".ff", channels: c)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, context: Tensor) throws -> Tensor {
        var h = try ctx.add(try attn1(ctx, try norm1(ctx, x)), x)
        h = try ctx.add(try attn2(ctx, try norm2(ctx, h), context: context), h)
        return try ctx.add(try ff(ctx, try norm3(ctx, h)), h)
    }
}

/// diffusers `Transformer2DModel` with `use_linear_projection` (SDXL's spatial transformer):
/// GroupNorm (eps 1e-6) → pixel tokens → proj_in Linear → blocks → proj_out Linear → + the input.
struct SpatialTransformer {
    let norm: GroupNormLayer
    let projIn: LinearLayer
    let blocks: [BasicTransformerBlock]
    let projOut: LinearLayer

    init(_ w: Weights, _ name: String, channels c: Int, depth: Int, heads: Int, contextDim: Int, groups: Int, eps: Float) throws {
        norm = try GroupNormLayer(w, name + ".norm", channels: c, groups: groups, eps: 1e-6)
        projIn = try LinearLayer(w, name + ".proj_in", out: c, in: c, bias: true)
        blocks = try (0..<depth).map {
            try BasicTransformerBlock(w, "\(name).transformer_blocks.\($0)", channels: c, contextDim: contextDim, heads: heads, eps: eps)
        }
        projOut = try LinearLayer(w, name + ".proj_out", out: c, in: c, bias: true)
    }

    /// x: [B, C, H, W]; context: [B, N, contextDim].
    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, context: Tensor) throws -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var t = try projIn(ctx, try ctx.permute(try norm(ctx, x).reshaped([b, c, h * w]), [0, 2, 1]))
        for block in blocks { t = try block(ctx, t, context: context) }
        let out = try ctx.permute(try projOut(ctx, t), [0, 2, 1]).reshaped([b, c, h, w])
        return try ctx.add(out, x)
    }
}
