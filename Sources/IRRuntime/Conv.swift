import IRKernels

/// How a convolution or `pad` fills the border (torch's `padding_mode` / `F.pad` modes).
public enum PaddingMode: String, Sendable, CaseIterable {
    /// Zeros (torch "zeros" / "constant" with value 0).
    case zeros
    /// Mirror without repeating the edge sample: pad must be smaller than the side.
    case reflect
    /// Repeat the edge sample.
    case replicate
    /// Wrap around: pad must not exceed the side.
    case circular
}

extension ComputeContext {
    /// torch.nn.functional.conv2d, with `padding_mode` as in nn.Conv2d.
    ///
    /// - x: [N, C, H, W] (or unbatched [C, H, W], answered unbatched)
    /// - weight: [O, C/groups, kh, kw], used in place
    /// - bias: [O] or nil
    ///
    /// Dense and grouped convolutions run as a packed GEMM whose B operand is packed straight from
    /// the (padded) input, so no im2col matrix is built; depthwise convolutions with stride 1 use a
    /// dedicated memory-bound kernel.
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2 = 1, padding: Size2 = 0,
                       dilation: Size2 = 1, groups: Int = 1, paddingMode: PaddingMode = .zeros) throws -> Tensor {
        let op = "conv2d"
        let unbatched = x.rank == 3
        try require(x.rank == 4 || unbatched, op, "expected input [N, C, H, W] or [C, H, W], got \(x.shape)")
        let input = unbatched ? try x.reshaped([1] + x.shape) : x
        try require(weight.rank == 4, op, "expected weight [out, in/groups, kh, kw], got \(weight.shape)")
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        try require(groups >= 1, op, "groups must be positive, got \(groups)")
        try require(stride.h >= 1 && stride.w >= 1, op, "stride must be positive, got \(stride)")
        try require(dilation.h >= 1 && dilation.w >= 1, op, "dilation must be positive, got \(dilation)")
        try require(padding.h >= 0 && padding.w >= 0, op, "negative padding \(padding)")
        try require(c % groups == 0, op, "input channels \(c) not divisible by groups \(groups)")
        try require(o % groups == 0, op, "output channels \(o) not divisible by groups \(groups)")
        try require(cg * groups == c, op,
                    "input has \(c) channels but the weight \(weight.shape) with groups \(groups) expects \(cg * groups)")
        try require(kh >= 1 && kw >= 1, op, "empty kernel \(weight.shape)")
        if let bias { try require(bias.count == o && bias.rank <= 1, op, "bias has shape \(bias.shape), expected [\(o)]") }
        let sm = SizeMath(op)
        guard let ho = try sm.slidingOutput(size: h, pad: padding.h, kernel: kh, stride: stride.h, dilation: dilation.h),
              let wo = try sm.slidingOutput(size: w, pad: padding.w, kernel: kw, stride: stride.w, dilation: dilation.w) else {
            throw RuntimeError(op, "kernel \(kh)x\(kw) (dilation \(dilation)) is larger than the input \(h)x\(w) padded by \(padding)")
        }
        let out = try empty([n, o, ho, wo])
        if out.count > 0 && c > 0 {
            // The ring kernel holds at most 64 padded rows (no network comes near that).
            let isDepthwise = groups == c && o == c && cg == 1 && (kh - 1) * dilation.h + 1 <= 64
            if isDepthwise && stride.h == 1 && stride.w == 1 {
                // Pads row by row into a small per-thread ring (no padded copy of the input).
                try checkPadding(h: h, w: w, top: padding.h, bottom: padding.h, left: padding.w, right: padding.w,
                                 mode: paddingMode, op: op)
                _ = try checkedElementCount([h + 2 * padding.h, w + 2 * padding.w]) // the padding maps
                let plan = PadPlan(h: h, w: w, top: padding.h, bottom: padding.h, left: padding.w, right: padding.w,
                                   mode: paddingMode, value: 0)
                depthwise(input, plan: plan, weight: weight, bias: bias, out: out, kh: kh, kw: kw, dilation: dilation)
                return unbatched ? try out.reshaped(Array(out.shape.dropFirst())) : out
            }
            let padded = padding.h > 0 || padding.w > 0
            if padded && ho * wo >= threads * 2048 {
                // Large images: pad band by band into per-thread buffers that stay in cache.
                try checkPadding(h: h, w: w, top: padding.h, bottom: padding.h, left: padding.w, right: padding.w,
                                 mode: paddingMode, op: op)
                let plan = PadPlan(h: h, w: w, top: padding.h, bottom: padding.h, left: padding.w, right: padding.w,
                                   mode: paddingMode, value: 0)
                try convGemmBanded(input, plan: plan, weight: weight, bias: bias, out: out, groups: groups,
                                   kh: kh, kw: kw, stride: stride, dilation: dilation)
            } else {
                let source = padded
                    ? try pad2d(input, top: padding.h, bottom: padding.h, left: padding.w, right: padding.w, mode: paddingMode, op: op)
                    : input
                convGemm(source, weight: weight, bias: bias, out: out, groups: groups,
                         kh: kh, kw: kw, stride: stride, dilation: dilation)
            }
        } else if out.count > 0 {
            // No input channels: the output is the bias (torch gives the same).
            let p = out.mutablePointer
            let plane = ho * wo
            for b in 0..<n { for oc in 0..<o { (p + (b * o + oc) * plane).update(repeating: bias?.pointer[oc] ?? 0, count: plane) } }
        }
        return unbatched ? try out.reshaped(Array(out.shape.dropFirst())) : out
    }

    private func convGemm(_ x: Tensor, weight: Tensor, bias: Tensor?, out: Tensor, groups: Int,
                          kh: Int, kw: Int, stride: Size2, dilation: Size2) {
        let (n, c, hp, wp) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, ho, wo) = (out.shape[1], out.shape[2], out.shape[3])
        let cg = c / groups, og = o / groups
        let K = cg * kh * kw
        var koff = [Int](repeating: 0, count: K)
        for ci in 0..<cg { for i in 0..<kh { for j in 0..<kw {
            koff[(ci * kh + i) * kw + j] = ci * hp * wp + i * dilation.h * wp + j * dilation.w
        } } }
        koff.withUnsafeBufferPointer { kp in
            for b in 0..<n {
                for g in 0..<groups {
                    var args = irk_gemm_args()
                    args.a = weight.pointer + g * og * K
                    args.a_rs = K
                    args.a_cs = 1
                    args.b = x.pointer + (b * c + g * cg) * hp * wp
                    args.b_koff = kp.baseAddress
                    args.b_rs = 0
                    args.b_ncols = wo
                    args.b_row_stride = stride.h * wp
                    args.b_col_stride = stride.w
                    args.c = out.mutablePointer + (b * o + g * og) * ho * wo
                    args.ldc = ho * wo
                    args.bias = bias.map { $0.pointer + g * og }
                    args.bias_col = nil
                    args.accumulate = 0
                    gemm(args, M: og, N: ho * wo, K: K)
                }
            }
        }
    }

    /// The convolution of a padded input without padding all of it first: the output is cut into
    /// bands of a few rows (about 2048 pixels); each worker pads the input rows its band needs into
    /// its own buffer (which stays in cache) and runs the GEMM on it. The weights are packed once,
    /// shared by all bands. Saves the write and re-read of a padded copy of the whole input (6% of
    /// a 3x3 convolution).
    private func convGemmBanded(_ x: Tensor, plan: PadPlan, weight: Tensor, bias: Tensor?, out: Tensor, groups: Int,
                                kh: Int, kw: Int, stride: Size2, dilation: Size2) throws {
        let (n, c) = (x.shape[0], x.shape[1])
        let (h, w) = (x.shape[2], x.shape[3])
        let (o, ho, wo) = (out.shape[1], out.shape[2], out.shape[3])
        let cg = c / groups, og = o / groups
        let K = cg * kh * kw
        let wp = plan.wo
        let ekh = (kh - 1) * dilation.h + 1
        let bandRows = max(1, min((ho + threads - 1) / threads, 2048 / max(wo, 1)))
        let inRows = (bandRows - 1) * stride.h + ekh
        let bands = (ho + bandRows - 1) / bandRows
        let local = try SizeMath("conv2d").mul(cg, inRows * wp)
        var koff = [Int](repeating: 0, count: K)
        for ci in 0..<cg { for i in 0..<kh { for j in 0..<kw {
            koff[(ci * kh + i) * kw + j] = ci * inRows * wp + i * dilation.h * wp + j * dilation.w
        } } }
        let nGeometry = bandRows * wo
        let ws = ComputeContext.gemmWorkspaceFloats
        let aFloats = Int(irk_sgemm_packed_a_floats(og, nGeometry, K))
        let aBlocks = Int(irk_sgemm_packed_a_blocks(og, nGeometry, K))
        let src = x.pointer, dst = out.mutablePointer
        try koff.withUnsafeBufferPointer { kp in
            _ = try checkedElementCount([aFloats + threads * (ws + local)])
            withScratch(aFloats + threads * (ws + local)) { scratch in
                for b in 0..<n {
                    for g in 0..<groups {
                        var args = irk_gemm_args()
                        args.a = weight.pointer + g * og * K
                        args.a_rs = K
                        args.a_cs = 1
                        args.b_koff = kp.baseAddress
                        args.b_ncols = wo
                        args.b_row_stride = stride.h * wp
                        args.b_col_stride = stride.w
                        args.ldc = ho * wo
                        args.bias = bias.map { $0.pointer + g * og }
                        args.n_geometry = nGeometry
                        let packedA = scratch
                        parallelFor(aBlocks) { r in
                            var a = args
                            irk_sgemm_pack_a(&a, og, nGeometry, K, r.lowerBound, r.upperBound, packedA)
                        }
                        args.packed_a = UnsafePointer(packedA)
                        let shared = args
                        let planes = src + (b * c + g * cg) * h * w
                        let outBase = dst + (b * o + g * og) * ho * wo
                        parallelChunks(bands) { worker, range in
                            let wsp = scratch + aFloats + worker * (ws + local)
                            let buf = wsp + ws
                            for band in range {
                                let y0 = band * bandRows, rows = min(bandRows, ho - y0)
                                let r0 = y0 * stride.h, need = (rows - 1) * stride.h + ekh
                                for ci in 0..<cg { plan.runRows(planes + ci * h * w, buf + ci * inRows * wp, r0..<(r0 + need)) }
                                var a = shared
                                a.b = UnsafePointer(buf)
                                a.c = outBase + y0 * wo
                                self.gemmSerial(a, M: og, N: rows * wo, K: K, workspace: wsp)
                            }
                        }
                    }
                }
            }
        }
    }

    private func depthwise(_ x: Tensor, plan: PadPlan, weight: Tensor, bias: Tensor?, out: Tensor, kh: Int, kw: Int, dilation: Size2) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (out.shape[2], out.shape[3])
        let xin = x.pointer, wt = weight.pointer, dst = out.mutablePointer
        let bp = bias?.pointer
        let wp = plan.wo, ringRows = (kh - 1) * dilation.h + 1
        // Each worker pads the rows it needs into a ring of ringRows rows (L1-sized).
        plan.rowMap.withUnsafeBufferPointer { rm in plan.colMap.withUnsafeBufferPointer { cm in
            withScratch(ringRows * wp * threads) { scratch in
                parallelChunks(n * c) { worker, range in
                    let ring = scratch + worker * ringRows * wp
                    for p in range {
                        let ch = p % c
                        irk_depthwise_plane_ring(xin + p * h * w, w, dst + p * ho * wo, ho, wo, wt + ch * kh * kw, kh, kw,
                                                 dilation.h, dilation.w, bp?[ch] ?? 0, rm.baseAddress, cm.baseAddress, wp, ring)
                    }
                }
            }
        } }
    }
}
