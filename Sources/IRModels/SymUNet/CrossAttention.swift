import IRRuntime

/// SE-SymUNet's `CrossAttention(query_dim, context_dim, inner_dim, num_heads)`: LayerNorm on the
/// query and on the context, bias-free q/k/v projections to `inner`, `heads` heads of width
/// inner/heads with scale (inner/heads)^-0.5, and `to_out.0` (with bias) back to the query width.
/// It returns only the update; the guidance/refinement wrappers add the residual.
struct CrossAttention {
    let heads: Int
    let scale: Float
    let normQuery: LayerNormLayer, normContext: LayerNormLayer
    let toQ: LinearLayer, toK: LinearLayer, toV: LinearLayer, toOut: LinearLayer

    init(_ w: Weights, query: Int, context: Int, inner: Int, heads: Int) throws {
        self.heads = heads
        // Python: (inner_dim // num_heads) ** -0.5, a double rounded to float when it scales a tensor.
        scale = Float(1 / Double(inner / heads).squareRoot())
        normQuery = try LayerNormLayer(w, "attention.norm_query", query)
        normContext = try LayerNormLayer(w, "attention.norm_context", context)
        toQ = try LinearLayer(w, "attention.to_q", out: inner, in: query, bias: false)
        toK = try LinearLayer(w, "attention.to_k", out: inner, in: context, bias: false)
        toV = try LinearLayer(w, "attention.to_v", out: inner, in: context, bias: false)
        toOut = try LinearLayer(w, "attention.to_out.0", out: query, in: inner, bias: true)
    }

    /// query [B, Nq, Dq], context [B, Nk, Dc] → [B, Nq, Dq].
    func callAsFunction(_ ctx: ComputeContext, query: Tensor, context: Tensor) throws -> Tensor {
        let q = try toQ(ctx, try normQuery(ctx, query))
        let c = try normContext(ctx, context)
        let k = try toK(ctx, c), v = try toV(ctx, c)
        let out = try ctx.multiHeadAttention(q: q, k: k, v: v, heads: heads, scale: scale)
        return try toOut(ctx, out)
    }
}

extension ComputeContext {
    /// einops `b c (h p1) (w p2) -> b (h w) (c p1 p2)`: token `hb·(W/p) + wb`, feature `c·p² + i·p + j`.
    func patchify(_ x: Tensor, patch p: Int) throws -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard h % p == 0 && w % p == 0 else {
            throw ModelError("patchify: a \(h)x\(w) feature map does not split into \(p)x\(p) patches")
        }
        let t = try permute(try x.reshaped([b, c, h / p, p, w / p, p]), [0, 2, 4, 1, 3, 5])
        return try t.reshaped([b, (h / p) * (w / p), c * p * p])
    }

    /// The exact inverse of `patchify` for a `channels`×`height`×`width` map.
    func unpatchify(_ t: Tensor, channels c: Int, height h: Int, width w: Int, patch p: Int) throws -> Tensor {
        let b = t.shape[0]
        let x = try permute(try t.reshaped([b, h / p, w / p, c, p, p]), [0, 3, 1, 4, 2, 5])
        return try x.reshaped([b, c, h, w])
    }
}

/// `ImageGuidanceAttention`: x + α · unpatchify(CA(query = patchify(x) + pos_embed, context = z)).
struct ImageGuidance {
    let path: String
    let patch: Int
    let alpha: Float
    let attention: CrossAttention

    init(_ w: Weights, path: String, imageChannels: Int, textDim: Int, inner: Int, heads: Int, patch: Int) throws {
        let m = w.scoped(path)
        self.path = path
        self.patch = patch
        alpha = try m.scalar("alpha")
        attention = try CrossAttention(m, query: imageChannels * patch * patch, context: textDim, inner: inner, heads: heads)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, context z: Tensor, posEmbeds: PosEmbedSource) throws -> Tensor {
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let tokens = try ctx.patchify(x, patch: patch)
        let pos = try posEmbeds.embedding(for: path, tokens: tokens.shape[1], width: tokens.shape[2], mapSize: (h, w))
        let update = try attention(ctx, query: try ctx.add(tokens, pos), context: z)
        return try ctx.add(x, try ctx.unpatchify(update, channels: c, height: h, width: w, patch: patch), alpha: alpha)
    }
}

/// `TextRefinementAttention`: z + α · CA(query = z, context = patchify(x) + pos_embed).
struct TextRefinement {
    let path: String
    let patch: Int
    let alpha: Float
    let attention: CrossAttention

    init(_ w: Weights, path: String, imageChannels: Int, textDim: Int, inner: Int, heads: Int, patch: Int) throws {
        let m = w.scoped(path)
        self.path = path
        self.patch = patch
        alpha = try m.scalar("alpha")
        attention = try CrossAttention(m, query: textDim, context: imageChannels * patch * patch, inner: inner, heads: heads)
    }

    /// The embedding this module adds for feature map `x` (checks a given aux tensor's shape).
    func posEmbed(_ x: Tensor, posEmbeds: PosEmbedSource) throws -> Tensor {
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        return try posEmbeds.embedding(for: path, tokens: (h / patch) * (w / patch), width: c * patch * patch, mapSize: (h, w))
    }

    func callAsFunction(_ ctx: ComputeContext, _ z: Tensor, image x: Tensor, posEmbeds: PosEmbedSource) throws -> Tensor {
        let tokens = try ctx.patchify(x, patch: patch)
        let pos = try posEmbed(x, posEmbeds: posEmbeds)
        let update = try attention(ctx, query: z, context: try ctx.add(tokens, pos))
        return try ctx.add(z, update, alpha: alpha)
    }
}
