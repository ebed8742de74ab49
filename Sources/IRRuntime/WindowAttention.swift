import IRKernels

extension ComputeContext {
    /// Swin-style (shifted) window multi-head self-attention on already projected q, k, v.
    ///
    /// The image is cut into non-overlapping `window`×`window` windows; inside each, every head
    /// (d = C/heads channels, channel index h·d + i) computes softmax(q·kᵀ·scale + bias[h] + mask)·v.
    /// With `shift` > 0 the image is first rolled by (−shift, −shift) and rolled back afterwards,
    /// and tokens from different regions of the rolled image are masked with −100 as in Swin
    /// (`attn_mask` of SwinTransformerBlock). DehazeFormer shifts by reflect padding instead: give
    /// it the padded tensors and `shift: 0`.
    ///
    /// - q, k, v: [B, C, H, W] (`layout: .nchw`) or [B, H, W, C] (`.nhwc`); H, W multiples of `window`
    /// - bias: relative position bias [heads, window², window²] (see `relativePositionBias`), or nil
    /// - scale: default d^-0.5
    /// Returns a tensor of q's shape and layout.
    public func windowAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int, window: Int, shift: Int = 0,
                                bias: Tensor? = nil, scale: Float? = nil, layout: ImageLayout = .nchw) throws -> Tensor {
        let op = "windowAttention"
        try require(q.rank == 4 && k.shape == q.shape && v.shape == q.shape, op,
                    "q, k, v must be 4-d of one shape, got \(q.shape), \(k.shape), \(v.shape)")
        let (b, c, h, w) = layout == .nchw ? (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
                                           : (q.shape[0], q.shape[3], q.shape[1], q.shape[2])
        try require(window >= 1 && window <= 1024 && h % window == 0 && w % window == 0, op,
                    "image \(h)x\(w) is not a multiple of the window \(window) (pad it first)")
        try require(heads >= 1 && c % heads == 0, op, "\(c) channels do not split into \(heads) heads")
        try require(shift >= 0 && shift < window, op, "shift \(shift) must be in 0..<\(window)")
        let n = window * window, d = c / heads
        if let bias { try require(bias.count == heads * n * n, op, "bias has shape \(bias.shape), expected [\(heads), \(n), \(n)]") }
        let s = scale ?? 1 / Float(d).squareRoot()
        let out = try empty(q.shape)
        guard out.count > 0 else { return out }
        let (wy, wx) = (h / window, w / window)
        // Position strides for gathering token (y, x) channel ch.
        let (cs, ys, xs) = layout == .nchw ? (h * w, w, 1) : (1, w * c, c)
        let imageStride = c * h * w
        let additive = try windowAdditiveTerms(bias: bias, heads: heads, window: window, shift: shift, h: h, w: w)
        let ws = ComputeContext.gemmWorkspaceFloats
        let perWorker = 4 * n * c + n * n + ws
        let qp = q.pointer, kp = k.pointer, vp = v.pointer, dst = out.mutablePointer
        let addp = additive?.pointer
        withScratch(perWorker * threads) { scratch in
            parallelChunks(b * wy * wx) { worker, range in
                let base = scratch + worker * perWorker
                let qw = base, kw = qw + n * c, vw = kw + n * c, ow = vw + n * c
                let sc = ow + n * c, gws = sc + n * n
                var offsets = [Int](repeating: 0, count: n)
                for item in range {
                    let bi = item / (wy * wx), wyi = (item / wx) % wy, wxi = item % wx
                    // Token t = i·window + j sits at ((wyi·window + i + shift) mod H, (… + shift) mod W).
                    for i in 0..<window {
                        let y = (wyi * window + i + shift) % h
                        for j in 0..<window {
                            let x = (wxi * window + j + shift) % w
                            offsets[i * window + j] = bi * imageStride + y * ys + x * xs
                        }
                    }
                    for t in 0..<n {
                        let o = offsets[t]
                        if cs == 1 {
                            (qw + t * c).update(from: qp + o, count: c)
                            (kw + t * c).update(from: kp + o, count: c)
                            (vw + t * c).update(from: vp + o, count: c)
                        } else {
                            for ch in 0..<c {
                                qw[t * c + ch] = qp[o + ch * cs]
                                kw[t * c + ch] = kp[o + ch * cs]
                                vw[t * c + ch] = vp[o + ch * cs]
                            }
                        }
                    }
                    // The bias/mask matrices of this window's class (last window row/column or not).
                    let cls = shift > 0 ? (wyi == wy - 1 ? 2 : 0) + (wxi == wx - 1 ? 1 : 0) : 0
                    for hd in 0..<heads {
                        var g = irk_gemm_args.matrices(a: qw + hd * d, transposeA: false, b: kw + hd * d, transposeB: true,
                                                       c: sc, M: n, N: n, K: d)
                        g.a_rs = c
                        g.b_col_stride = c
                        gemmSerial(g, M: n, N: n, K: d, workspace: gws)
                        if let addp {
                            irk_softmax_rows_add(sc, addp + (cls * heads + hd) * n * n, sc, n, n, s)
                        } else {
                            irk_softmax_rows(sc, sc, n, n, s)
                        }
                        var g2 = irk_gemm_args.matrices(a: sc, transposeA: false, b: vw + hd * d, transposeB: false,
                                                        c: ow + hd * d, M: n, N: d, K: n)
                        g2.b_rs = c
                        g2.ldc = c
                        gemmSerial(g2, M: n, N: d, K: n, workspace: gws)
                    }
                    for t in 0..<n {
                        let o = offsets[t]
                        if cs == 1 {
                            (dst + o).update(from: ow + t * c, count: c)
                        } else {
                            for ch in 0..<c { dst[o + ch * cs] = ow[t * c + ch] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Bias plus shift mask per window class and head, [classes, heads, n, n], or nil when there
    /// is neither. Classes (shift > 0): 0 interior, 1 last window column, 2 last window row, 3 both;
    /// only those windows straddle the rolled image's seams, where Swin masks pairs of tokens
    /// from different regions with −100.
    private func windowAdditiveTerms(bias: Tensor?, heads: Int, window: Int, shift: Int, h: Int, w: Int) throws -> Tensor? {
        if bias == nil && shift == 0 { return nil }
        let n = window * window
        let classes = shift > 0 ? 4 : 1
        let out = try zeros([classes, heads, n, n])
        let o = out.mutablePointer
        func region(_ p: Int, _ size: Int) -> Int { p < size - window ? 0 : (p < size - shift ? 1 : 2) }
        for cls in 0..<classes {
            // Rolled-image coordinates of a representative window of this class.
            let y0 = cls & 2 != 0 ? h - window : 0, x0 = cls & 1 != 0 ? w - window : 0
            let labels = (0..<n).map { region(y0 + $0 / window, h) * 3 + region(x0 + $0 % window, w) }
            for hd in 0..<heads {
                let dstp = o + (cls * heads + hd) * n * n
                if let bias { dstp.update(from: bias.pointer + hd * n * n, count: n * n) }
                if shift > 0 {
                    for r in 0..<n { for col in 0..<n where labels[r] != labels[col] { dstp[r * n + col] += -100 } }
                }
            }
        }
        return out
    }

    /// Swin's relative position bias: gathers `table` [(2w−1)², heads] with the relative position
    /// index of a w×w window into [heads, w², w²].
    public func relativePositionBias(table: Tensor, window: Int) throws -> Tensor {
        let op = "relativePositionBias"
        try require(window >= 1 && window <= 1024, op, "window \(window) out of range")
        let side = 2 * window - 1
        try require(table.rank == 2 && table.shape[0] == side * side, op,
                    "table has shape \(table.shape), expected [\(side * side), heads]")
        let heads = table.shape[1], n = window * window
        let out = try empty([heads, n, n])
        let t = table.pointer, o = out.mutablePointer
        for a in 0..<n {
            let (ya, xa) = (a / window, a % window)
            for bIdx in 0..<n {
                let (yb, xb) = (bIdx / window, bIdx % window)
                let index = (ya - yb + window - 1) * side + (xa - xb + window - 1)
                for hd in 0..<heads { o[(hd * n + a) * n + bIdx] = t[index * heads + hd] }
            }
        }
        return out
    }
}
