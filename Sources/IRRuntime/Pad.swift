extension ComputeContext {
    /// torch.nn.functional.pad over the last one or two dimensions.
    ///
    /// `pads` is in torch order: `[left, right]` or `[left, right, top, bottom]`. Reflect mirrors
    /// without repeating the edge sample (pad < side), replicate repeats it, circular wraps
    /// (pad <= side). Constant mode (`.zeros` with `value`) also accepts negative pads, which crop.
    public func pad(_ x: Tensor, _ pads: [Int], mode: PaddingMode = .zeros, value: Float = 0) throws -> Tensor {
        let op = "pad"
        try require(pads.count == 2 || pads.count == 4, op, "expected [left, right] or [left, right, top, bottom], got \(pads)")
        let twoD = pads.count == 4
        try require(x.rank >= (twoD ? 2 : 1), op, "cannot pad \(pads.count / 2) dimensions of a tensor of shape \(x.shape)")
        if mode != .zeros {
            try require(pads.allSatisfy { $0 >= 0 }, op, "negative padding \(pads) needs constant mode")
            try require(x.rank >= (twoD ? 3 : 2) && x.rank <= (twoD ? 4 : 3), op,
                        "\(mode.rawValue) padding of \(pads.count / 2)-d needs a \(twoD ? "3-d or 4-d" : "2-d or 3-d") input, got \(x.shape)")
        }
        let h = twoD ? x.shape[x.rank - 2] : 1, w = x.shape[x.rank - 1]
        let planes = x.count / max(h * w, 1)
        var outShape = x.shape
        let t = twoD ? pads[2] : 0, b = twoD ? pads[3] : 0
        let sm = SizeMath(op)
        outShape[x.rank - 1] = try sm.add(w, try sm.add(pads[0], pads[1]))
        if twoD { outShape[x.rank - 2] = try sm.add(h, try sm.add(t, b)) }
        try require(outShape.allSatisfy { $0 >= 0 }, op, "padding \(pads) leaves a negative size for input \(x.shape)")
        let flat = try x.reshaped([1, planes, h, w])
        let y = try pad2d(flat, top: t, bottom: b, left: pads[0], right: pads[1], mode: mode, value: value, op: op)
        return try y.reshaped(outShape)
    }

    /// torch's limits for non-constant padding of an h×w plane.
    func checkPadding(h: Int, w: Int, top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode, op: String) throws {
        switch mode {
        case .reflect:
            try require(top < h && bottom < h && left < w && right < w, op,
                        "reflect padding (\(left), \(right), \(top), \(bottom)) must be smaller than the input size \(h)x\(w)")
        case .circular:
            try require(top <= h && bottom <= h && left <= w && right <= w, op,
                        "circular padding (\(left), \(right), \(top), \(bottom)) must not exceed the input size \(h)x\(w)")
        case .replicate:
            try require((h > 0 || top + bottom == 0) && (w > 0 || left + right == 0), op,
                        "replicate padding needs a non-empty input, got \(h)x\(w)")
        case .zeros:
            break
        }
    }

    /// Pads the last two dimensions of a 4-d tensor [N, C, H, W].
    func pad2d(_ x: Tensor, top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode,
               value: Float = 0, op: String) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        try checkPadding(h: h, w: w, top: top, bottom: bottom, left: left, right: right, mode: mode, op: op)
        let sm = SizeMath(op)
        let ho = try sm.add(h, try sm.add(top, bottom)), wo = try sm.add(w, try sm.add(left, right))
        let out = try empty([n, c, ho, wo])
        guard out.count > 0 else { return out }
        let plan = PadPlan(h: h, w: w, top: top, bottom: bottom, left: left, right: right, mode: mode, value: value)
        let src = x.pointer, dst = out.mutablePointer
        parallelFor(n * c, grain: max(1, 4096 / max(ho * wo, 1))) { range in
            for plane in range { plan.run(src + plane * h * w, dst + plane * ho * wo) }
        }
        return out
    }
}

/// The index maps that pad one H×W plane (shared by `pad` and the per-plane padding of convolutions).
struct PadPlan {
    let h: Int, w: Int, ho: Int, wo: Int, left: Int
    let value: Float
    /// Constant zero fill (so kernels can skip the taps outside instead of reading a copy).
    let isZeroPadding: Bool
    /// Source column/row of each output column/row; -1 means the constant fill.
    let colMap: [Int], rowMap: [Int]
    /// Output columns lo..<hi copy input columns in order.
    private let lo: Int, hi: Int

    init(h: Int, w: Int, top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode, value: Float) {
        self.h = h; self.w = w; self.left = left; self.value = value
        isZeroPadding = mode == .zeros && value == 0
        ho = h + top + bottom
        wo = w + left + right
        func source(_ i: Int, _ before: Int, _ size: Int) -> Int {
            let s = i - before
            if s >= 0 && s < size { return s }
            switch mode {
            case .zeros: return -1
            case .reflect: return s < 0 ? -s : 2 * (size - 1) - s
            case .replicate: return s < 0 ? 0 : size - 1
            case .circular: return ((s % size) + size) % size
            }
        }
        colMap = (0..<wo).map { source($0, left, w) }
        rowMap = (0..<ho).map { source($0, top, h) }
        lo = max(left, 0)
        hi = max(lo, min(left + w, wo))
    }

    /// Pads the plane at `src` (h×w) into `dst` (ho×wo).
    func run(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        runRows(src, dst, 0..<ho)
    }

    /// Writes padded rows `rows` of the plane at `src` to `dst`, one row after another (row
    /// `rows.lowerBound` first). Padded rows outside 0..<ho are zeros.
    func runRows(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ rows: Range<Int>) {
        colMap.withUnsafeBufferPointer { cm in
            rowMap.withUnsafeBufferPointer { rm in
                for y in rows {
                    let row = dst + (y - rows.lowerBound) * wo
                    if y < 0 || y >= ho { row.update(repeating: 0, count: wo); continue }
                    let sy = rm[y]
                    if sy < 0 { row.update(repeating: value, count: wo); continue }
                    let sr = src + sy * w
                    for x in 0..<lo { let s = cm[x]; row[x] = s < 0 ? value : sr[s] }
                    if hi > lo { (row + lo).update(from: sr + (lo - left), count: hi - lo) }
                    for x in hi..<wo { let s = cm[x]; row[x] = s < 0 ? value : sr[s] }
                }
            }
        }
    }
}
