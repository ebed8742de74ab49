import IRRuntime

extension ComputeContext {
    /// `[B, N, h·d]` → `[B, h, N, d]` (einops `b n (h d) -> b h n d`): feature `head·d + k`.
    func splitHeads(_ x: Tensor, heads: Int) throws -> Tensor {
        let (b, n, f) = (x.shape[0], x.shape[1], x.shape[2])
        let d = f / heads
        if heads == 1 { return try x.reshaped([b, 1, n, d]) }
        return try permute(try x.reshaped([b, n, heads, d]), [0, 2, 1, 3])
    }

    /// The inverse of `splitHeads`: `[B, h, N, d]` → `[B, N, h·d]`.
    func mergeHeads(_ x: Tensor) throws -> Tensor {
        let (b, h, n, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        if h == 1 { return try x.reshaped([b, n, d]) }
        return try permute(x, [0, 2, 1, 3]).reshaped([b, n, h * d])
    }

    /// softmax(q·kᵀ·scale)·v over `heads` heads of projected tokens `[B, N, h·d]`, merged back.
    /// `causal` blocks keys after each query's position (CLIP's text tower).
    func multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int, scale: Float, causal: Bool = false) throws -> Tensor {
        let out = try scaledDotProductAttention(try splitHeads(q, heads: heads), try splitHeads(k, heads: heads),
                                                try splitHeads(v, heads: heads), isCausal: causal, scale: scale)
        return try mergeHeads(out)
    }
}
