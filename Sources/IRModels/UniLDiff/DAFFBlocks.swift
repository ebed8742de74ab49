import IRRuntime

// The FLUX-style pieces of UniLDiff's DAFF (upstream FaithDiff/models/DAFF.py): timestep MLPs,
// adaLN modulation, the double-stream and single-stream blocks and the final layer. Tokens are
// [B, L, D]; modulation vectors are [N, D] with N = 1 (one timestep for the batch) or N = B.

/// `MLPEmbedder`: out_layer(SiLU(in_layer(x))).
struct MLPEmbedder {
    let inLayer: LinearLayer, outLayer: LinearLayer

    init(_ w: Weights, in inDim: Int, hidden: Int) throws {
        inLayer = try LinearLayer(w, "in_layer", out: hidden, in: inDim, bias: true)
        outLayer = try LinearLayer(w, "out_layer", out: hidden, in: hidden, bias: true)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try outLayer(ctx, try ctx.silu(try inLayer(ctx, x)))
    }
}

/// `Modulation`: lin(SiLU(vec)) split into `count` vectors of width D, each [N, 1, D] so they
/// broadcast over the tokens.
struct Modulation {
    let lin: LinearLayer
    let count: Int

    init(_ w: Weights, dim: Int, count: Int) throws {
        lin = try LinearLayer(w, "lin", out: count * dim, in: dim, bias: true)
        self.count = count
    }

    func callAsFunction(_ ctx: ComputeContext, _ vec: Tensor) throws -> [Tensor] {
        let m = try lin(ctx, try ctx.silu(vec))
        return try ctx.chunk(try m.reshaped([m.shape[0], 1, m.shape[1]]), count, dim: 2)
    }
}

extension ComputeContext {
    /// (1 + scale) · LayerNorm(x) + shift, LayerNorm without affine parameters, eps 1e-6.
    func modulatedNorm(_ x: Tensor, shift: Tensor, scale: Tensor) throws -> Tensor {
        let n = try layerNorm(x, weight: nil, bias: nil, eps: 1e-6)
        return try add(try mul(n, try add(scale, 1)), shift)
    }

    /// x + gate · y.
    func gatedResidual(_ x: Tensor, gate: Tensor, _ y: Tensor) throws -> Tensor {
        try add(x, try mul(gate, y))
    }
}

/// Fused q|k|v tokens ("B L (K H D)") with the per-head RMSNorm (`QKNorm`: learnable scale of
/// head width, eps 1e-6) applied to q and k.
struct QKVSplit {
    let heads: Int
    let queryScale: Tensor, keyScale: Tensor

    init(_ w: Weights, dim: Int, heads: Int) throws {
        self.heads = heads
        queryScale = try w.tensor("query_norm.scale", shape: [dim / heads])
        keyScale = try w.tensor("key_norm.scale", shape: [dim / heads])
    }

    /// qkv [B, L, 3D] → q, k, v [B, L, D] (heads still merged).
    func callAsFunction(_ ctx: ComputeContext, _ qkv: Tensor) throws -> (q: Tensor, k: Tensor, v: Tensor) {
        let parts = try ctx.chunk(qkv, 3, dim: 2)
        return (try headNorm(ctx, parts[0], queryScale), try headNorm(ctx, parts[1], keyScale), parts[2])
    }

    private func headNorm(_ ctx: ComputeContext, _ x: Tensor, _ scale: Tensor) throws -> Tensor {
        let (b, l, d) = (x.shape[0], x.shape[1], x.shape[2])
        return try ctx.rmsNorm(try x.reshaped([b, l, heads, d / heads]), weight: scale, eps: 1e-6).reshaped([b, l, d])
    }
}

/// One stream of a double block (`img_*` or `txt_*`): its modulation, norms, attention
/// projections and MLP (D → ratio·D → GELU(tanh) → D).
struct DoubleStreamHalf {
    let mod: Modulation
    let qkv: LinearLayer, qk: QKVSplit, proj: LinearLayer
    let mlpIn: LinearLayer, mlpOut: LinearLayer

    init(_ w: Weights, _ side: String, dim: Int, heads: Int, mlpHidden: Int) throws {
        mod = try Modulation(w.scoped(side + "_mod"), dim: dim, count: 6)
        qkv = try LinearLayer(w, side + "_attn.qkv", out: 3 * dim, in: dim, bias: true)
        qk = try QKVSplit(w.scoped(side + "_attn.norm"), dim: dim, heads: heads)
        proj = try LinearLayer(w, side + "_attn.proj", out: dim, in: dim, bias: true)
        mlpIn = try LinearLayer(w, side + "_mlp.0", out: mlpHidden, in: dim, bias: true)
        mlpOut = try LinearLayer(w, side + "_mlp.2", out: dim, in: mlpHidden, bias: true)
    }

    /// The first half of the stream: modulation vectors and normalised q, k, v.
    func attentionInputs(_ ctx: ComputeContext, _ x: Tensor, vec: Tensor) throws -> (m: [Tensor], q: Tensor, k: Tensor, v: Tensor) {
        let m = try mod(ctx, vec)
        let (q, k, v) = try qk(ctx, try qkv(ctx, try ctx.modulatedNorm(x, shift: m[0], scale: m[1])))
        return (m, q, k, v)
    }

    /// The second half: gated attention projection and gated MLP residuals.
    func finish(_ ctx: ComputeContext, _ x: Tensor, attention: Tensor, m: [Tensor]) throws -> Tensor {
        let y = try ctx.gatedResidual(x, gate: m[2], try proj(ctx, attention))
        let h = try ctx.gelu(try mlpIn(ctx, try ctx.modulatedNorm(y, shift: m[3], scale: m[4])), approximateTanh: true)
        return try ctx.gatedResidual(y, gate: m[5], try mlpOut(ctx, h))
    }
}

/// `DoubleStreamBlock`: both streams attend jointly over the sequence [txt; img] (no positional
/// term); each keeps its own weights.
struct DoubleStreamBlock {
    let heads: Int
    let img: DoubleStreamHalf, txt: DoubleStreamHalf

    init(_ w: Weights, dim: Int, heads: Int, mlpHidden: Int) throws {
        self.heads = heads
        img = try DoubleStreamHalf(w, "img", dim: dim, heads: heads, mlpHidden: mlpHidden)
        txt = try DoubleStreamHalf(w, "txt", dim: dim, heads: heads, mlpHidden: mlpHidden)
    }

    func callAsFunction(_ ctx: ComputeContext, img x: Tensor, txt c: Tensor, vec: Tensor) throws -> (img: Tensor, txt: Tensor) {
        let i = try img.attentionInputs(ctx, x, vec: vec)
        let t = try txt.attentionInputs(ctx, c, vec: vec)
        let d = x.shape[2] / heads
        let a = try ctx.multiHeadAttention(q: try ctx.concat([t.q, i.q], dim: 1), k: try ctx.concat([t.k, i.k], dim: 1),
                                           v: try ctx.concat([t.v, i.v], dim: 1), heads: heads,
                                           scale: Float(1 / Double(d).squareRoot()))
        let nt = c.shape[1]
        let ta = try ctx.narrow(a, dim: 1, start: 0, length: nt)
        let ia = try ctx.narrow(a, dim: 1, start: nt, length: x.shape[1])
        return (try img.finish(ctx, x, attention: ia, m: i.m), try txt.finish(ctx, c, attention: ta, m: t.m))
    }
}

/// `SingleStreamBlock`: linear1 gives q|k|v and the MLP input in parallel; linear2 maps
/// [attention, GELU(tanh)(mlp)] back; x + gate · that.
struct SingleStreamBlock {
    let dim: Int, heads: Int, mlpHidden: Int
    let modulation: Modulation
    let linear1: LinearLayer, linear2: LinearLayer
    let qk: QKVSplit

    init(_ w: Weights, dim: Int, heads: Int, mlpHidden: Int) throws {
        self.dim = dim
        self.heads = heads
        self.mlpHidden = mlpHidden
        modulation = try Modulation(w.scoped("modulation"), dim: dim, count: 3)
        linear1 = try LinearLayer(w, "linear1", out: 3 * dim + mlpHidden, in: dim, bias: true)
        linear2 = try LinearLayer(w, "linear2", out: dim, in: dim + mlpHidden, bias: true)
        qk = try QKVSplit(w.scoped("norm"), dim: dim, heads: heads)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, vec: Tensor) throws -> Tensor {
        let m = try modulation(ctx, vec)
        let parts = try ctx.split(try linear1(ctx, try ctx.modulatedNorm(x, shift: m[0], scale: m[1])),
                                  sizes: [3 * dim, mlpHidden], dim: 2)
        let (q, k, v) = try qk(ctx, parts[0])
        let a = try ctx.multiHeadAttention(q: q, k: k, v: v, heads: heads, scale: Float(1 / Double(dim / heads).squareRoot()))
        let joined = try ctx.concat([a, try ctx.gelu(parts[1], approximateTanh: true)], dim: 2)
        return try ctx.gatedResidual(x, gate: m[2], try linear2(ctx, joined))
    }
}

/// `LastLayer`: adaLN (shift, scale) from SiLU(vec), LayerNorm without affine, Linear D → D/2.
struct DAFFFinalLayer {
    let modulation: LinearLayer, linear: LinearLayer

    init(_ w: Weights, dim: Int) throws {
        modulation = try LinearLayer(w, "adaLN_modulation.1", out: 2 * dim, in: dim, bias: true)
        linear = try LinearLayer(w, "linear", out: dim / 2, in: dim, bias: true)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, vec: Tensor) throws -> Tensor {
        let m = try modulation(ctx, try ctx.silu(vec))
        let parts = try ctx.chunk(try m.reshaped([m.shape[0], 1, m.shape[1]]), 2, dim: 2)
        return try linear(ctx, try ctx.modulatedNorm(x, shift: parts[0], scale: parts[1]))
    }
}
