import IRKernels

extension ComputeContext {
    /// torch.nn.functional.conv_transpose2d.
    /// - x: [N, Cin, H, W]; weight: [Cin, Cout/groups, kh, kw] (used in place); bias: [Cout] or nil
    /// - output size: (H−1)·stride − 2·padding + dilation·(k−1) + outputPadding + 1
    /// Computed as a GEMM (weightᵀ · x, one column per input pixel) followed by a col2im scatter-add.
    public func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2 = 1, padding: Size2 = 0,
                                outputPadding: Size2 = 0, groups: Int = 1, dilation: Size2 = 1) throws -> Tensor {
        let op = "convTranspose2d"
        try require(x.rank == 4, op, "expected input [N, C, H, W], got \(x.shape)")
        try require(weight.rank == 4, op, "expected weight [in, out/groups, kh, kw], got \(weight.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (wc, og, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        try require(groups >= 1 && c % groups == 0, op, "input channels \(c) not divisible by groups \(groups)")
        try require(wc == c, op, "input has \(c) channels but the weight \(weight.shape) expects \(wc)")
        try require(stride.h >= 1 && stride.w >= 1 && dilation.h >= 1 && dilation.w >= 1, op, "stride and dilation must be positive")
        try require(padding.h >= 0 && padding.w >= 0 && outputPadding.h >= 0 && outputPadding.w >= 0, op, "negative padding")
        try require((outputPadding.h < stride.h || outputPadding.h < dilation.h) && (outputPadding.w < stride.w || outputPadding.w < dilation.w), op,
                    "output padding \(outputPadding) must be smaller than either stride \(stride) or dilation \(dilation)")
        let o = og * groups
        if let bias { try require(bias.count == o, op, "bias has shape \(bias.shape), expected [\(o)]") }
        let sm = SizeMath(op)
        func outSize(_ n: Int, _ s: Int, _ p: Int, _ d: Int, _ k: Int, _ op_: Int) throws -> Int {
            let grown = try sm.add(try sm.add(try sm.mul(n - 1, s), try sm.mul(d, k - 1)), op_ + 1)
            return grown - (try sm.mul(2, p))
        }
        let ho = try outSize(h, stride.h, padding.h, dilation.h, kh, outputPadding.h)
        let wo = try outSize(w, stride.w, padding.w, dilation.w, kw, outputPadding.w)
        try require(ho >= 1 && wo >= 1, op, "output size \(ho)x\(wo) is not positive")
        let out = try empty([n, o, ho, wo])
        let cg = c / groups
        let rowsPerGroup = og * kh * kw
        let cols = try empty([rowsPerGroup, h * w])
        let dst = out.mutablePointer, colp = cols.mutablePointer
        for b in 0..<n {
            for g in 0..<groups {
                // cols[(co, i, j)][pixel] = Σ_ci weight[g·cg + ci][co][i][j] · x[b][g·cg + ci][pixel]
                var args = irk_gemm_args.matrices(a: weight.pointer + g * cg * rowsPerGroup, transposeA: true,
                                                  b: x.pointer + (b * c + g * cg) * h * w, transposeB: false,
                                                  c: colp, M: rowsPerGroup, N: h * w, K: cg)
                args.a_rs = 1
                args.a_cs = rowsPerGroup
                gemm(args, M: rowsPerGroup, N: h * w, K: cg)
                let outBase = dst + (b * o + g * og) * ho * wo
                parallelFor(og) { r in
                    for co in r {
                        let plane = outBase + co * ho * wo
                        plane.update(repeating: bias?.pointer[g * og + co] ?? 0, count: ho * wo)
                        for i in 0..<kh { for j in 0..<kw {
                            let crow = colp + ((co * kh + i) * kw + j) * h * w
                            for y in 0..<h {
                                let oy = y * stride.h - padding.h + i * dilation.h
                                if oy < 0 || oy >= ho { continue }
                                for xx in 0..<w {
                                    let ox = xx * stride.w - padding.w + j * dilation.w
                                    if ox >= 0 && ox < wo { plane[oy * wo + ox] += crow[y * w + xx] }
                                }
                            }
                        } }
                    }
                }
            }
        }
        return out
    }
}
