import IRRuntime

/// ESRGAN's residual dense block: conv_j (j = 1...4) reads the concatenation of the block input
/// and every earlier conv's LeakyReLU(0.2) output; conv5 maps it all back to num_feat, and the
/// block returns conv5 · 0.2 + x.
struct ResidualDenseBlock {
    let convs: [Conv2dLayer]

    init(_ w: Weights, features nf: Int, growth g: Int) throws {
        convs = try (1...5).map { j in
            try Conv2dLayer(w, "conv\(j)", out: j == 5 ? nf : g, in: nf + (j - 1) * g, kernel: 3, padding: 1, bias: true)
        }
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        var dense = [x]
        for conv in convs.dropLast() {
            dense.append(try ctx.leakyReLU(try conv(ctx, try ctx.concat(dense, dim: 1)), slope: 0.2))
        }
        return try ctx.add(x, try convs[4](ctx, try ctx.concat(dense, dim: 1)), alpha: 0.2)
    }
}

/// Residual in residual: three dense blocks, then out · 0.2 + x.
struct RRDB {
    let blocks: [ResidualDenseBlock]

    init(_ w: Weights, features: Int, growth: Int) throws {
        blocks = try (1...3).map { try ResidualDenseBlock(w.scoped("rdb\($0)"), features: features, growth: growth) }
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        var y = x
        for b in blocks { y = try b(ctx, y) }
        return try ctx.add(x, y, alpha: 0.2)
    }
}
