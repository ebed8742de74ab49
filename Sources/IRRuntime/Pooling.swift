extension ComputeContext {
    /// torch.nn.functional.avg_pool2d on [N, C, H, W].
    /// `stride` nil means the kernel size; padding must be at most half the kernel.
    public func avgPool2d(_ x: Tensor, kernel: Size2, stride: Size2? = nil, padding: Size2 = 0, ceilMode: Bool = false,
                          countIncludePad: Bool = true, divisorOverride: Int? = nil) throws -> Tensor {
        let op = "avgPool2d"
        try require(x.rank == 4, op, "expected [N, C, H, W], got \(x.shape)")
        let st = stride ?? kernel
        try require(kernel.h >= 1 && kernel.w >= 1 && st.h >= 1 && st.w >= 1, op, "kernel \(kernel) and stride \(st) must be positive")
        try require(padding.h >= 0 && padding.w >= 0 && padding.h * 2 <= kernel.h && padding.w * 2 <= kernel.w, op,
                    "padding \(padding) must be at most half the kernel \(kernel)")
        if let divisorOverride { try require(divisorOverride != 0, op, "divisor must be non-zero") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let sm = SizeMath(op)
        func outSize(_ size: Int, _ k: Int, _ s: Int, _ p: Int) throws -> Int {
            let num = try sm.add(size, try sm.mul(2, p)) - k + (ceilMode ? s - 1 : 0)
            // Floor division (torch's div_rtn), also for a negative numerator.
            var o = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1
            // torch: the last window must start inside the input or the left padding.
            if ceilMode && (o - 1) * s >= size + p { o -= 1 }
            return o
        }
        let ho = try outSize(h, kernel.h, st.h, padding.h), wo = try outSize(w, kernel.w, st.w, padding.w)
        try require(ho >= 1 && wo >= 1, op, "output size \(ho)x\(wo) is too small for input \(h)x\(w) with kernel \(kernel)")
        let out = try empty([n, c, ho, wo])
        let src = x.pointer, dst = out.mutablePointer
        parallelFor(n * c, grain: max(1, 4096 / max(ho * wo, 1))) { r in
            for plane in r {
                let sp = src + plane * h * w, dp = dst + plane * ho * wo
                for oy in 0..<ho {
                    var y0 = oy * st.h - padding.h
                    var y1 = Swift.min(y0 + kernel.h, h + padding.h)
                    let padH = y1 - y0
                    y0 = Swift.max(y0, 0); y1 = Swift.min(y1, h)
                    for ox in 0..<wo {
                        var x0 = ox * st.w - padding.w
                        var x1 = Swift.min(x0 + kernel.w, w + padding.w)
                        let poolSize = padH * (x1 - x0)
                        x0 = Swift.max(x0, 0); x1 = Swift.min(x1, w)
                        guard y1 > y0 && x1 > x0 else { dp[oy * wo + ox] = 0; continue }
                        var s: Float = 0
                        for yy in y0..<y1 { for xx in x0..<x1 { s += sp[yy * w + xx] } }
                        let divisor = divisorOverride ?? (countIncludePad ? poolSize : (y1 - y0) * (x1 - x0))
                        dp[oy * wo + ox] = s / Float(divisor)
                    }
                }
            }
        }
        return out
    }

    /// torch.nn.functional.adaptive_avg_pool2d: output cell i averages input rows
    /// floor(i·H/oh) ..< ceil((i+1)·H/oh) (and likewise for columns).
    public func adaptiveAvgPool2d(_ x: Tensor, outputSize: Size2) throws -> Tensor {
        let op = "adaptiveAvgPool2d"
        try require(x.rank == 4, op, "expected [N, C, H, W], got \(x.shape)")
        try require(outputSize.h >= 1 && outputSize.w >= 1, op, "output size \(outputSize) must be positive")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        try require(h > 0 && w > 0, op, "empty input \(x.shape)")
        let (ho, wo) = (outputSize.h, outputSize.w)
        let out = try empty([n, c, ho, wo])
        let src = x.pointer, dst = out.mutablePointer
        parallelFor(n * c, grain: max(1, 4096 / max(h * w, 1))) { r in
            for plane in r {
                let sp = src + plane * h * w, dp = dst + plane * ho * wo
                for oy in 0..<ho {
                    let y0 = oy * h / ho, y1 = ((oy + 1) * h + ho - 1) / ho
                    for ox in 0..<wo {
                        let x0 = ox * w / wo, x1 = ((ox + 1) * w + wo - 1) / wo
                        var s: Float = 0
                        for yy in y0..<y1 { for xx in x0..<x1 { s += sp[yy * w + xx] } }
                        dp[oy * wo + ox] = s / Float((y1 - y0) * (x1 - x0))
                    }
                }
            }
        }
        return out
    }

    /// NAFNet's TLSC local average pooling (`AvgPool2d` of NAFNet's `local_arch.py`, auto_pad,
    /// not the fast_imp variant), which replaces the global pooling of the SCA at test time.
    ///
    /// If the feature map is no larger than `kernel` in both dimensions, answers the global mean
    /// [N, C, 1, 1] (`adaptive_avg_pool2d(x, 1)`). Otherwise the box mean of size
    /// k = min(size, kernel) over every valid position, computed like upstream from an integral
    /// image (cumsum along W then H), then replicate-padded back to H×W with ⌊d/2⌋ before and
    /// ⌈d/2⌉ after. Returns [N, C, H, W] in that case.
    public func localAvgPool2d(_ x: Tensor, kernel: Size2) throws -> Tensor {
        let op = "localAvgPool2d"
        try require(x.rank == 4, op, "expected [N, C, H, W], got \(x.shape)")
        try require(kernel.h >= 1 && kernel.w >= 1, op, "kernel \(kernel) must be positive")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        if kernel.h >= h && kernel.w >= w { return try adaptiveAvgPool2d(x, outputSize: 1) }
        let k1 = Swift.min(h, kernel.h), k2 = Swift.min(w, kernel.w)
        let oh = h - k1 + 1, ow = w - k2 + 1
        let out = try empty([n, c, h, w])
        let src = x.pointer, dst = out.mutablePointer
        let top = (h - oh) / 2, left = (w - ow) / 2
        let divisor = Float(k1 * k2)
        withScratch((h + 1) * (w + 1) * threads) { scratch in
            parallelChunks(n * c) { worker, r in
                let s = scratch + worker * (h + 1) * (w + 1)
                let ld = w + 1
                for plane in r {
                    let sp = src + plane * h * w, dp = dst + plane * h * w
                    // Integral image with a zero first row and column. torch's CPU cumsum keeps a
                    // double accumulator and rounds each output to float; mirror that exactly.
                    for xx in 0...w { s[xx] = 0 }
                    for yy in 0..<h {
                        var acc: Double = 0
                        s[(yy + 1) * ld] = 0
                        for xx in 0..<w { acc += Double(sp[yy * w + xx]); s[(yy + 1) * ld + xx + 1] = Float(acc) }
                    }
                    for xx in 1...w {
                        var acc: Double = 0
                        for yy in 1...h { acc += Double(s[yy * ld + xx]); s[yy * ld + xx] = Float(acc) }
                    }
                    for oy in 0..<h {
                        let y = Swift.min(Swift.max(oy - top, 0), oh - 1)
                        for ox in 0..<w {
                            let xq = Swift.min(Swift.max(ox - left, 0), ow - 1)
                            let s1 = s[y * ld + xq], s2 = s[y * ld + xq + k2]
                            let s3 = s[(y + k1) * ld + xq], s4 = s[(y + k1) * ld + xq + k2]
                            dp[oy * w + ox] = (s4 + s1 - s2 - s3) / divisor
                        }
                    }
                }
            }
        }
        return out
    }
}
