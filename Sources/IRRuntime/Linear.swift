import IRKernels

extension ComputeContext {
    /// torch.nn.functional.linear: y = x · Wᵀ + b over the last dimension.
    /// - x: [..., in]; weight: [out, in] (used in place); bias: [out] or nil. Returns [..., out].
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
        let op = "linear"
        try require(x.rank >= 1, op, "input must have at least one dimension")
        try require(weight.rank == 2, op, "expected weight [out, in], got \(weight.shape)")
        let k = x.shape[x.rank - 1], nOut = weight.shape[0]
        try require(weight.shape[1] == k, op, "input features \(k) do not match weight \(weight.shape)")
        if let bias { try require(bias.count == nOut && bias.rank <= 1, op, "bias has shape \(bias.shape), expected [\(nOut)]") }
        let rows = x.shape.dropLast().reduce(1, *)
        let out = try empty(Array(x.shape.dropLast()) + [nOut])
        var g = irk_gemm_args.matrices(a: x.pointer, transposeA: false, b: weight.pointer, transposeB: true,
                                       c: out.mutablePointer, M: rows, N: nOut, K: k)
        g.bias_col = bias?.pointer
        gemm(g, M: rows, N: nOut, K: k)
        return out
    }

    /// torch.matmul for tensors of rank >= 2, with broadcasting over the leading (batch) dimensions.
    /// `transposeA`/`transposeB` use the transpose of the last two dimensions of a/b without copying
    /// (e.g. `matmul(q, k, transposeB: true)` for q·kᵀ).
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
        let op = "matmul"
        try require(a.rank >= 2 && b.rank >= 2, op, "both operands need rank >= 2, got \(a.shape) and \(b.shape)")
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (M, K) = transposeA ? (ac, ar) : (ar, ac)
        let (K2, N) = transposeB ? (bc, br) : (br, bc)
        try require(K == K2, op, "shapes \(a.shape)\(transposeA ? "ᵀ" : "") and \(b.shape)\(transposeB ? "ᵀ" : "") cannot be multiplied (\(M)x\(K) and \(K2)x\(N))")
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch = try broadcastShapes(batchA, batchB, op: op)
        let out = try empty(batch + [M, N])
        let nb = batch.reduce(1, *)
        let ia = broadcastIndexer(batchA, to: batch), ib = broadcastIndexer(batchB, to: batch)
        let pa = a.pointer, pb = b.pointer, pc = out.mutablePointer
        let sa = M * K, sb = K * N, sc = M * N
        if nb == 1 || Double(M) * Double(N) * Double(K) >= 4_000_000 {
            for i in 0..<nb {
                let g = irk_gemm_args.matrices(a: pa + ia(i) * sa, transposeA: transposeA, b: pb + ib(i) * sb,
                                               transposeB: transposeB, c: pc + i * sc, M: M, N: N, K: K)
                gemm(g, M: M, N: N, K: K)
            }
        } else {
            // Many small products (attention heads): one product per worker at a time.
            let ws = ComputeContext.gemmWorkspaceFloats
            withScratch(ws * threads) { scratch in
                parallelChunks(nb) { w, range in
                    for i in range {
                        let g = irk_gemm_args.matrices(a: pa + ia(i) * sa, transposeA: transposeA, b: pb + ib(i) * sb,
                                                       transposeB: transposeB, c: pc + i * sc, M: M, N: N, K: K)
                        gemmSerial(g, M: M, N: N, K: K, workspace: scratch + w * ws)
                    }
                }
            }
        }
        return out
    }
}

/// torch broadcasting of two shapes (aligned at the right).
func broadcastShapes(_ a: [Int], _ b: [Int], op: String) throws -> [Int] {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        try require(da == db || da == 1 || db == 1, op, "shapes \(a) and \(b) cannot be broadcast together")
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Maps a flat index in `target` to the flat index of the broadcast source `shape`.
func broadcastIndexer(_ shape: [Int], to target: [Int]) -> (Int) -> Int {
    let r = target.count
    let padded = [Int](repeating: 1, count: r - shape.count) + shape
    if padded == target { return { $0 } }
    if shape.reduce(1, *) == 1 { return { _ in 0 } }
    var strides = [Int](repeating: 0, count: r)
    var s = 1
    for i in stride(from: r - 1, through: 0, by: -1) {
        strides[i] = padded[i] == 1 ? 0 : s
        s *= padded[i]
    }
    return { flat in
        var rem = flat, idx = 0
        for i in stride(from: r - 1, through: 0, by: -1) {
            let d = target[i]
            idx += (rem % d) * strides[i]
            rem /= d
        }
        return idx
    }
}
