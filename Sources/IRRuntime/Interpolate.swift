import Foundation

/// torch.nn.functional.interpolate modes for 4-d inputs.
public enum InterpolationMode: String, Sendable, CaseIterable {
    case nearest
    case nearestExact = "nearest-exact"
    case bilinear
    case bicubic
    /// Adaptive average pooling to the output size.
    case area
}

extension ComputeContext {
    /// torch.nn.functional.interpolate on [N, C, H, W], following torch's CPU kernels index for index.
    ///
    /// Give either `size` or `scaleFactor` (output = floor(input·factor); the index arithmetic then
    /// uses 1/factor, as torch does without `recompute_scale_factor`).
    /// - alignCorners: only for bilinear/bicubic (nil means false, torch's default)
    /// - antialias: bilinear/bicubic only; PIL-style separable filter (bicubic a = −0.5, weights in
    ///   float32, width pass first), exactly torch's `_upsample_*_aa`. Without antialias bicubic uses
    ///   a = −0.75 with clamped borders.
    public func interpolate(_ x: Tensor, size: Size2? = nil, scaleFactor: (h: Double, w: Double)? = nil,
                            mode: InterpolationMode = .nearest, alignCorners: Bool? = nil,
                            antialias: Bool = false) throws -> Tensor {
        let op = "interpolate"
        try require(x.rank == 4, op, "expected [N, C, H, W], got \(x.shape)")
        try require((size == nil) != (scaleFactor == nil), op, "give exactly one of size and scaleFactor")
        let linear = mode == .bilinear || mode == .bicubic
        try require(alignCorners == nil || linear, op,
                    "alignCorners can only be set with the interpolating modes bilinear and bicubic")
        try require(!antialias || linear, op, "antialias is restricted to the bilinear and bicubic modes")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let ho: Int, wo: Int
        var sh: Double? = nil, sw: Double? = nil
        if let size {
            (ho, wo) = (size.h, size.w)
        } else {
            let f = scaleFactor!
            try require(f.h > 0 && f.w > 0 && f.h.isFinite && f.w.isFinite, op, "scale factor \(f) must be positive")
            let (dh, dw) = ((Double(h) * f.h).rounded(.down), (Double(w) * f.w).rounded(.down))
            try require(dh < 1e15 && dw < 1e15, op, "scale factor \(f) gives an output too large")
            (ho, wo) = (Int(dh), Int(dw))
            (sh, sw) = (f.h, f.w)
        }
        try require(ho > 0 && wo > 0, op, "output size \(ho)x\(wo) must be positive (input \(h)x\(w))")
        _ = try checkedElementCount([n, c, ho, wo]) // before building per-index tables of that size
        try require(h > 0 && w > 0, op, "input \(x.shape) is empty")
        let ac = alignCorners ?? false
        switch mode {
        case .area:
            return try adaptiveAvgPool2d(x, outputSize: Size2(ho, wo))
        case .nearest, .nearestExact:
            let exact = mode == .nearestExact
            let rows = (0..<ho).map { nearestIndex($0, h, ho, sh, exact: exact) }
            let cols = (0..<wo).map { nearestIndex($0, w, wo, sw, exact: exact) }
            return try gatherResample(x, rows: rows, cols: cols, n: n, c: c)
        case .bilinear, .bicubic:
            if antialias {
                return try resampleAA(x, ho: ho, wo: wo, sh: sh, sw: sw, cubic: mode == .bicubic, alignCorners: ac)
            }
            let ry = taps(h, ho, sh, ac, cubic: mode == .bicubic)
            let rx = taps(w, wo, sw, ac, cubic: mode == .bicubic)
            return try separable2d(x, ry: ry, rx: rx, n: n, c: c, ho: ho, wo: wo)
        }
    }

    private func nearestIndex(_ i: Int, _ inSize: Int, _ outSize: Int, _ scale: Double?, exact: Bool) -> Int {
        if !exact {
            if outSize == inSize { return i }
            if outSize == 2 * inSize { return i >> 1 }
        }
        let s = scaleValue(scale, inSize, outSize)
        let src = exact ? floorf((Float(i) + 0.5) * s) : floorf(Float(i) * s)
        return Swift.min(Int(src), inSize - 1)
    }

    private func gatherResample(_ x: Tensor, rows: [Int], cols: [Int], n: Int, c: Int) throws -> Tensor {
        let (h, w) = (x.shape[2], x.shape[3])
        let (ho, wo) = (rows.count, cols.count)
        let out = try empty([n, c, ho, wo])
        let src = x.pointer, dst = out.mutablePointer
        rows.withUnsafeBufferPointer { rs in cols.withUnsafeBufferPointer { cs in
            parallelFor(n * c, grain: max(1, 4096 / max(ho * wo, 1))) { r in
                for plane in r {
                    let sp = src + plane * h * w, dp = dst + plane * ho * wo
                    for y in 0..<ho { let row = sp + rs[y] * w; for xx in 0..<wo { dp[y * wo + xx] = row[cs[xx]] } }
                }
            }
        } }
        return out
    }

    /// Per output index: input indices and weights along one axis (2 taps linear, 4 cubic).
    private func taps(_ inSize: Int, _ outSize: Int, _ scale: Double?, _ alignCorners: Bool, cubic: Bool) -> [(idx: [Int], wt: [Float])] {
        let ratio = areaScale(inSize, outSize, alignCorners, scale)
        return (0..<outSize).map { i in
            if !cubic {
                if outSize == inSize { return ([i, i], [1, 0]) }
                let real = sourceIndex(ratio, i, alignCorners, cubic: false)
                let i0 = Swift.min(Int(floorf(real)), inSize - 1)
                let l1 = Swift.min(Swift.max(real - Float(i0), 0), 1)
                let i1 = i0 + (i0 < inSize - 1 ? 1 : 0)
                return ([i0, i1], [1 - l1, l1])
            }
            let real = sourceIndex(ratio, i, alignCorners, cubic: true)
            let i0 = Swift.min(Int(floorf(real)), inSize - 1)
            let t = Swift.min(Swift.max(real - Float(i0), 0), 1)
            let a: Float = -0.75
            let t2 = 1 - t
            let wts: [Float] = [cubic2(t + 1, a), cubic1(t, a), cubic1(t2, a), cubic2(t2 + 1, a)]
            let idx = (0..<4).map { Swift.max(Swift.min(i0 - 1 + $0, inSize - 1), 0) }
            return (idx, wts)
        }
    }

    /// out[y][x] = Σ_i wy_i · Σ_j wx_j · in[ry_i][rx_j], both axes at once (torch's non-aa kernels).
    private func separable2d(_ x: Tensor, ry: [(idx: [Int], wt: [Float])], rx: [(idx: [Int], wt: [Float])],
                             n: Int, c: Int, ho: Int, wo: Int) throws -> Tensor {
        let (h, w) = (x.shape[2], x.shape[3])
        let out = try empty([n, c, ho, wo])
        let src = x.pointer, dst = out.mutablePointer
        parallelFor(n * c, grain: max(1, 4096 / max(ho * wo, 1))) { r in
            for plane in r {
                let sp = src + plane * h * w, dp = dst + plane * ho * wo
                for y in 0..<ho {
                    let ty = ry[y]
                    for xx in 0..<wo {
                        let tx = rx[xx]
                        var acc: Float = 0
                        for i in 0..<ty.idx.count {
                            let row = sp + ty.idx[i] * w
                            var inner: Float = 0
                            for j in 0..<tx.idx.count { inner += tx.wt[j] * row[tx.idx[j]] }
                            acc += ty.wt[i] * inner
                        }
                        dp[y * wo + xx] = acc
                    }
                }
            }
        }
        return out
    }

    /// torch's antialiased separable resampling (`_upsample_bilinear2d_aa` / `_upsample_bicubic2d_aa`).
    private func resampleAA(_ x: Tensor, ho: Int, wo: Int, sh: Double?, sw: Double?, cubic: Bool, alignCorners: Bool) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var cur = x
        if wo != w {
            let wts = aaWeights(w, wo, sw, cubic: cubic, alignCorners: alignCorners)
            let out = try empty([n, c, h, wo])
            let src = cur.pointer, dst = out.mutablePointer
            parallelFor(n * c * h, grain: 64) { r in
                for row in r {
                    let sp = src + row * w, dp = dst + row * wo
                    for xx in 0..<wo {
                        let (lo, ws) = wts[xx]
                        var t = sp[lo] * ws[0]
                        for j in 1..<ws.count { t += sp[lo + j] * ws[j] }
                        dp[xx] = t
                    }
                }
            }
            cur = out
        }
        if ho != h {
            let wts = aaWeights(h, ho, sh, cubic: cubic, alignCorners: alignCorners)
            let width = cur.shape[3]
            let out = try empty([n, c, ho, width])
            let src = cur.pointer, dst = out.mutablePointer
            parallelFor(n * c, grain: 1) { r in
                for plane in r {
                    let sp = src + plane * h * width, dp = dst + plane * ho * width
                    for y in 0..<ho {
                        let (lo, ws) = wts[y]
                        let drow = dp + y * width
                        for xx in 0..<width { drow[xx] = sp[lo * width + xx] * ws[0] }
                        for j in 1..<ws.count {
                            let srow = sp + (lo + j) * width
                            let wj = ws[j]
                            for xx in 0..<width { drow[xx] += srow[xx] * wj }
                        }
                    }
                }
            }
            cur = out
        }
        if cur.storage === x.storage { return try copy(x) }
        return cur
    }

    /// For each output index: the first input index and the normalised filter weights (float32).
    private func aaWeights(_ inSize: Int, _ outSize: Int, _ scaleOpt: Double?, cubic: Bool, alignCorners: Bool) -> [(Int, [Float])] {
        let scale = areaScale(inSize, outSize, alignCorners, scaleOpt)
        let interp: Float = cubic ? 4 : 2
        let support = scale >= 1 ? interp * 0.5 * scale : interp * 0.5
        let invscale: Float = scale >= 1 ? 1 / scale : 1
        func filter(_ v: Float) -> Float {
            let x = abs(v)
            if cubic {
                let a: Float = -0.5
                if x < 1 { return cubic1(x, a) }
                if x < 2 { return cubic2(x, a) }
                return 0
            }
            return x < 1 ? 1 - x : 0
        }
        return (0..<outSize).map { i in
            let center = scale * (Float(i) + 0.5)
            // Mixed float/double arithmetic as in torch's _compute_indices_min_size_weights_aa.
            let xmin = Swift.max(Int(Double(center - support) + 0.5), 0)
            let xsize = Swift.min(Int(Double(center + support) + 0.5), inSize) - xmin
            var ws = [Float](repeating: 0, count: Swift.max(xsize, 1))
            var total: Float = 0
            for j in 0..<xsize {
                let wv = filter(Float((Double(Float(j + xmin) - center) + 0.5) * Double(invscale)))
                ws[j] = wv
                total += wv
            }
            if total != 0 { for j in 0..<xsize { ws[j] /= total } }
            return (Swift.min(xmin, inSize - 1), ws)
        }
    }
}

// torch's scale helpers (UpSample.h), in float as its float kernels compute them.
private func scaleValue(_ scale: Double?, _ inSize: Int, _ outSize: Int) -> Float {
    if let s = scale, s > 0 { return Float(1.0 / s) }
    return Float(inSize) / Float(outSize)
}

private func areaScale(_ inSize: Int, _ outSize: Int, _ alignCorners: Bool, _ scale: Double?) -> Float {
    if alignCorners { return outSize > 1 ? Float(inSize - 1) / Float(outSize - 1) : 0 }
    return scaleValue(scale, inSize, outSize)
}

private func sourceIndex(_ scale: Float, _ i: Int, _ alignCorners: Bool, cubic: Bool) -> Float {
    if alignCorners { return scale * Float(i) }
    let s = scale * (Float(i) + 0.5) - 0.5
    return (!cubic && s < 0) ? 0 : s
}

private func cubic1(_ x: Float, _ a: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
private func cubic2(_ x: Float, _ a: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
