import IRKernels

/// Memory order of an image-shaped tensor.
public enum ImageLayout: Sendable {
    /// [B, C, H, W]
    case nchw
    /// [B, H, W, C] (tokens, channels last, as Swin keeps them)
    case nhwc
}

extension ComputeContext {
    /// torch.nn.functional.scaled_dot_product_attention without dropout:
    /// softmax(q·kᵀ·scale + mask)·v.
    ///
    /// - q: [..., Lq, E]; k: [..., Lk, E]; v: [..., Lk, Ev] (same leading dimensions)
    /// - mask: additive float mask broadcastable to [..., Lq, Lk] (use -inf to block), or nil
    /// - isCausal: blocks keys after the query position (top-left aligned, as torch)
    /// - scale: default 1/√E
    /// Returns [..., Lq, Ev]. Query rows are processed in blocks so the score matrix stays small.
    public func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil,
                                          isCausal: Bool = false, scale: Float? = nil) throws -> Tensor {
        let op = "scaledDotProductAttention"
        try require(q.rank >= 2 && k.rank == q.rank && v.rank == q.rank, op,
                    "q, k, v need the same rank >= 2, got \(q.shape), \(k.shape), \(v.shape)")
        let lead = Array(q.shape.dropLast(2))
        try require(Array(k.shape.dropLast(2)) == lead && Array(v.shape.dropLast(2)) == lead, op,
                    "leading dimensions differ: \(q.shape), \(k.shape), \(v.shape)")
        let (lq, e) = (q.shape[q.rank - 2], q.shape[q.rank - 1])
        let (lk, ek) = (k.shape[k.rank - 2], k.shape[k.rank - 1])
        let (lv, ev) = (v.shape[v.rank - 2], v.shape[v.rank - 1])
        try require(ek == e, op, "q has \(e) features but k has \(ek)")
        try require(lv == lk, op, "k has \(lk) positions but v has \(lv)")
        try require(!(isCausal && mask != nil), op, "give either a mask or isCausal, not both")
        let maskIndex: ((Int) -> Int)?
        if let mask {
            let full = lead + [lq, lk]
            let b = try broadcastShapes(mask.shape, full, op: op)
            try require(b == full, op, "mask of shape \(mask.shape) does not broadcast to \(full)")
            maskIndex = broadcastIndexer(mask.shape, to: full)
        } else {
            maskIndex = nil
        }
        let s = scale ?? 1 / Float(e).squareRoot()
        // A mask whose last dimension is not broadcast has each row contiguous.
        let maskRowContiguous = (mask?.shape.last ?? 1) == lk
        let batch = lead.reduce(1, *)
        let out = try empty(lead + [lq, ev])
        guard out.count > 0 else { return out }
        let qp = q.pointer, kp = k.pointer, vp = v.pointer, op_ = out.mutablePointer
        let mp = mask?.pointer
        // Query block: keeps the per-worker score matrix under ~1 M floats.
        let block = max(1, min(lq, 1_048_576 / max(lk, 1)))
        let blocksPerItem = (lq + block - 1) / block
        let items = batch * blocksPerItem
        let parallelInside = items < threads
        let ws = ComputeContext.gemmWorkspaceFloats
        let workers = parallelInside ? 1 : threads
        withScratch((block * lk + ws) * workers) { scratch in
            let run: (Int, Int) -> Void = { w, item in
                let b = item / blocksPerItem, q0 = (item % blocksPerItem) * block
                let rows = min(block, lq - q0)
                let scores = scratch + w * (block * lk + ws)
                let gws = scores + block * lk
                let g1 = irk_gemm_args.matrices(a: qp + (b * lq + q0) * e, transposeA: false, b: kp + b * lk * e,
                                                transposeB: true, c: scores, M: rows, N: lk, K: e)
                if parallelInside { self.gemm(g1, M: rows, N: lk, K: e) } else { self.gemmSerial(g1, M: rows, N: lk, K: e, workspace: gws) }
                if let mi = maskIndex, let mp {
                    for r in 0..<rows {
                        let base = (b * lq + q0 + r) * lk
                        let row = scores + r * lk
                        if maskRowContiguous {
                            irk_softmax_rows_add(row, mp + mi(base), row, 1, lk, s)
                        } else {
                            for c in 0..<lk { row[c] = row[c] * s + mp[mi(base + c)] }
                            irk_softmax_rows(row, row, 1, lk, 1)
                        }
                    }
                } else {
                    if isCausal {
                        for r in 0..<rows {
                            let qi = q0 + r
                            if qi + 1 < lk { (scores + r * lk + qi + 1).update(repeating: -.infinity, count: lk - qi - 1) }
                        }
                    }
                    irk_softmax_rows(scores, scores, rows, lk, s)
                }
                let g2 = irk_gemm_args.matrices(a: scores, transposeA: false, b: vp + b * lk * ev, transposeB: false,
                                                c: op_ + (b * lq + q0) * ev, M: rows, N: ev, K: lk)
                if parallelInside { self.gemm(g2, M: rows, N: ev, K: lk) } else { self.gemmSerial(g2, M: rows, N: ev, K: lk, workspace: gws) }
            }
            if parallelInside {
                for item in 0..<items { run(0, item) }
            } else {
                parallelChunks(items) { w, range in for item in range { run(w, item) } }
            }
        }
        return out
    }

    /// Restormer's MDTA ("transposed" channel attention), on NCHW tensors.
    ///
    /// For each head h of d = C/heads channels (channel index h·d + i), with N = H·W:
    /// q̂, k̂ = q, k L2-normalised along N (eps 1e-12); A = softmax(q̂·k̂ᵀ · temperature[h]) (d×d);
    /// out = A·v. q, k, v: [B, C, H, W]; temperature: `heads` values (shape [heads, 1, 1] upstream).
    /// Returns [B, C, H, W]. The normalisation is folded into the d×d scores, so q̂ and k̂ are never
    /// written out.
    public func channelAttention(q: Tensor, k: Tensor, v: Tensor, temperature: Tensor, heads: Int) throws -> Tensor {
        let op = "channelAttention"
        try require(q.rank == 4 && k.shape == q.shape && v.shape == q.shape, op,
                    "q, k, v must be [B, C, H, W] of one shape, got \(q.shape), \(k.shape), \(v.shape)")
        try require(heads >= 1 && q.shape[1] % heads == 0, op, "\(q.shape[1]) channels do not split into \(heads) heads")
        try require(temperature.count == heads, op, "temperature has \(temperature.count) values for \(heads) heads")
        let (b, c) = (q.shape[0], q.shape[1])
        let n = q.shape[2] * q.shape[3]
        let d = c / heads
        let out = try empty(q.shape)
        guard out.count > 0 else { return out }
        let norms = try empty([2, b * c])
        let qn = norms.mutablePointer, kn = qn + b * c
        let qp = q.pointer, kp = k.pointer, vp = v.pointer, tp = temperature.pointer
        // Row norms of q and k (the L2 normalisation is applied to the d×d scores below).
        parallelFor(2 * b * c, grain: max(1, 65536 / max(n, 1))) { r in
            var sq = [Double](repeating: 0, count: r.count)
            for (t, row) in r.enumerated() {
                let src = row < b * c ? qp + row * n : kp + (row - b * c) * n
                sq.withUnsafeMutableBufferPointer { irk_sumsq_rows(src, n, 1, n, $0.baseAddress! + t) }
            }
            for (t, row) in r.enumerated() {
                let dst = row < b * c ? qn + row : kn + (row - b * c)
                dst[0] = l2NormDenominator(sumOfSquares: sq[t], eps: 1e-12)
            }
        }
        let scores = try empty([b * heads, d, d])
        let sp = scores.mutablePointer
        // Gram matrices q·kᵀ (d×d, depth N): split over heads, or over N when there are few heads.
        try gramPerHead(qp, kp, rows: d, depth: n, count: b * heads, into: sp)
        // Fold in the norms and the temperature, then softmax each row. The fold is torch's
        // normalize-then-multiply up to rounding while ‖q_i‖·‖k_j‖ (which bounds every partial sum
        // of q_i·k_j) stays far from overflow; otherwise (huge or non-finite norms) the head is
        // computed as torch does: normalised copies, then their products.
        for item in 0..<(b * heads) {
            let h = item % heads
            let t = tp[h]
            let g = sp + item * d * d
            let rowBase = item * d
            var qmax: Float = 0, kmax: Float = 0, finite = true
            for i in 0..<d {
                finite = finite && qn[rowBase + i].isFinite && kn[rowBase + i].isFinite
                qmax = Swift.max(qmax, qn[rowBase + i])
                kmax = Swift.max(kmax, kn[rowBase + i])
            }
            if finite && Double(qmax) * Double(kmax) <= 1e36 {
                for i in 0..<d {
                    let qi = qn[rowBase + i]
                    for j in 0..<d { g[i * d + j] = g[i * d + j] / (qi * kn[rowBase + j]) * t }
                }
            } else {
                withScratch(2 * d * n) { unit in
                    for i in 0..<d {
                        let qr = qp + (rowBase + i) * n, kr = kp + (rowBase + i) * n
                        let qd = qn[rowBase + i], kd = kn[rowBase + i]
                        for p in 0..<n { unit[i * n + p] = qr[p] / qd; unit[(d + i) * n + p] = kr[p] / kd }
                    }
                    irk_gram_nt(unit, n, unit + d * n, n, d, d, n, g, d, 0)
                }
                for e in 0..<(d * d) { g[e] = g[e] * t }
            }
            irk_softmax_rows(g, g, d, d, 1)
        }
        // out = A·v per head.
        let dst = out.mutablePointer
        for item in 0..<(b * heads) {
            let g = irk_gemm_args.matrices(a: sp + item * d * d, transposeA: false, b: vp + item * d * n, transposeB: false,
                                           c: dst + item * d * n, M: d, N: n, K: d)
            gemm(g, M: d, N: n, K: d)
        }
        return out
    }

    /// `count` products a_i · b_iᵀ of [rows × depth] matrices (contiguous, one after another) into
    /// [count][rows][rows]. Parallel over items, or over depth (summing partial products) when
    /// there are fewer items than threads.
    func gramPerHead(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, rows: Int, depth: Int, count: Int,
                     into out: UnsafeMutablePointer<Float>) throws {
        let m = rows * rows
        if count >= threads || threads == 1 || depth < 8192 {
            parallelFor(count) { range in
                for i in range {
                    irk_gram_nt(a + i * rows * depth, depth, b + i * rows * depth, depth, rows, rows, depth, out + i * m, rows, 0)
                }
            }
            return
        }
        let parts = threads
        withScratch(m * parts) { scratch in
            for i in 0..<count {
                let ai = a + i * rows * depth, bi = b + i * rows * depth
                parallelChunks(parts) { _, range in
                    for p in range {
                        let lo = depth * p / parts, hi = depth * (p + 1) / parts
                        irk_gram_nt(ai + lo, depth, bi + lo, depth, rows, rows, hi - lo, scratch + p * m, rows, 0)
                    }
                }
                let dst = out + i * m
                dst.update(from: scratch, count: m)
                for p in 1..<parts {
                    let partial = scratch + p * m
                    for j in 0..<m { dst[j] += partial[j] }
                }
            }
        }
    }
}
