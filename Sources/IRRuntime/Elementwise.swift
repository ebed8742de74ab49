/// The arithmetic of the element-wise binary ops.
enum BinaryKind {
    case add, sub, mul, div
    case addScaled(Float)

    var name: String {
        switch self {
        case .add, .addScaled: return "add"
        case .sub: return "sub"
        case .mul: return "mul"
        case .div: return "div"
        }
    }
}

/// d[i] = a[i·aStep] ∘ b[i·bStep] for i < n; the switch sits outside the loops so each loop
/// is a plain vectorisable kernel.
@inline(__always)
private func binaryRun(_ kind: BinaryKind, _ n: Int, _ a: UnsafePointer<Float>, _ aStep: Int,
                       _ b: UnsafePointer<Float>, _ bStep: Int, _ d: UnsafeMutablePointer<Float>) {
    switch (kind, aStep, bStep) {
    case (.add, 1, 1): for i in 0..<n { d[i] = a[i] + b[i] }
    case (.sub, 1, 1): for i in 0..<n { d[i] = a[i] - b[i] }
    case (.mul, 1, 1): for i in 0..<n { d[i] = a[i] * b[i] }
    case (.div, 1, 1): for i in 0..<n { d[i] = a[i] / b[i] }
    case (.addScaled(let s), 1, 1): for i in 0..<n { d[i] = a[i] + s * b[i] }
    case (.add, 1, 0): let v = b[0]; for i in 0..<n { d[i] = a[i] + v }
    case (.sub, 1, 0): let v = b[0]; for i in 0..<n { d[i] = a[i] - v }
    case (.mul, 1, 0): let v = b[0]; for i in 0..<n { d[i] = a[i] * v }
    case (.div, 1, 0): let v = b[0]; for i in 0..<n { d[i] = a[i] / v }
    case (.addScaled(let s), 1, 0): let v = s * b[0]; for i in 0..<n { d[i] = a[i] + v }
    case (.add, 0, 1): let v = a[0]; for i in 0..<n { d[i] = v + b[i] }
    case (.sub, 0, 1): let v = a[0]; for i in 0..<n { d[i] = v - b[i] }
    case (.mul, 0, 1): let v = a[0]; for i in 0..<n { d[i] = v * b[i] }
    case (.div, 0, 1): let v = a[0]; for i in 0..<n { d[i] = v / b[i] }
    case (.addScaled(let s), 0, 1): let v = a[0]; for i in 0..<n { d[i] = v + s * b[i] }
    default:
        let r: Float
        switch kind {
        case .add: r = a[0] + b[0]
        case .sub: r = a[0] - b[0]
        case .mul: r = a[0] * b[0]
        case .div: r = a[0] / b[0]
        case .addScaled(let s): r = a[0] + s * b[0]
        }
        d.update(repeating: r, count: n)
    }
}

extension ComputeContext {
    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(a, b, .add) }
    public func sub(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(a, b, .sub) }
    public func mul(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(a, b, .mul) }
    public func div(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(a, b, .div) }

    /// a + alpha·b with broadcasting (torch.add(a, b, alpha=...)), e.g. SE-SymUNet's `x + α·CA(...)`.
    public func add(_ a: Tensor, _ b: Tensor, alpha: Float) throws -> Tensor { try binary(a, b, .addScaled(alpha)) }

    public func add(_ x: Tensor, _ s: Float) throws -> Tensor { try binary(x, .scalar(s), .add) }
    public func mul(_ x: Tensor, _ s: Float) throws -> Tensor { try binary(x, .scalar(s), .mul) }

    /// x·scale + shift with scalars.
    public func affine(_ x: Tensor, scale: Float = 1, shift: Float = 0) throws -> Tensor {
        try map(x) { $0 * scale + shift }
    }

    /// Clamps every element to [lo, hi] (NaN stays NaN, as in torch).
    public func clamp(_ x: Tensor, min lo: Float, max hi: Float) throws -> Tensor {
        try require(lo <= hi, "clamp", "min \(lo) > max \(hi)")
        return try map(x) { $0.isNaN ? $0 : Swift.min(Swift.max($0, lo), hi) }
    }

    /// Applies `f` element-wise (for model code with its own point-wise formula).
    public func map(_ x: Tensor, _ f: (Float) -> Float) throws -> Tensor {
        let out = try empty(x.shape)
        let s = x.pointer, d = out.mutablePointer
        withoutActuallyEscaping(f) { f in
            parallelFor(x.count, grain: 32768) { r in for i in r { d[i] = f(s[i]) } }
        }
        return out
    }

    /// Element-wise `a ∘ b` with torch broadcasting.
    func binary(_ a: Tensor, _ b: Tensor, _ kind: BinaryKind) throws -> Tensor {
        let shape = try broadcastShapes(a.shape, b.shape, op: kind.name)
        let out = try empty(shape)
        let pa = a.pointer, pb = b.pointer, d = out.mutablePointer
        let n = out.count
        guard n > 0 else { return out }
        if a.count == n && (b.count == n || b.count == 1) {
            let bStep = b.count == n ? 1 : 0
            parallelFor(n, grain: 32768) { r in
                binaryRun(kind, r.count, pa + r.lowerBound, 1, pb + r.lowerBound * bStep, bStep, d + r.lowerBound)
            }
            return out
        }
        if a.count == 1 && b.count == n {
            parallelFor(n, grain: 32768) { r in
                binaryRun(kind, r.count, pa, 0, pb + r.lowerBound, 1, d + r.lowerBound)
            }
            return out
        }
        // General case: view the output as rows over its trailing dimensions that both operands
        // either walk contiguously (stride 1) or repeat (stride 0); the rows are indexed through
        // the broadcast of the leading dimensions.
        let r = shape.count
        let aP = [Int](repeating: 1, count: r - a.rank) + a.shape
        let bP = [Int](repeating: 1, count: r - b.rank) + b.shape
        // Longest suffix over which each operand is either fully present or fully broadcast.
        var split = r
        var aFull = true, bFull = true, aOne = true, bOne = true
        while split > 0 {
            let i = split - 1
            let na = aFull && aP[i] == shape[i], nb = bFull && bP[i] == shape[i]
            let oa = aOne && aP[i] == 1, ob = bOne && bP[i] == 1
            if !((na || oa) && (nb || ob)) { break }
            aFull = na; bFull = nb; aOne = oa; bOne = ob
            split -= 1
        }
        let rowLen = shape[split...].reduce(1, *)
        let rows = n / max(rowLen, 1)
        let aStep = aFull && !aOne ? 1 : 0, bStep = bFull && !bOne ? 1 : 0
        let aRow = aStep == 1 ? rowLen : 1, bRow = bStep == 1 ? rowLen : 1
        let lead = Array(shape[..<split])
        let ia = broadcastIndexer(Array(aP[..<split]), to: lead)
        let ib = broadcastIndexer(Array(bP[..<split]), to: lead)
        parallelFor(rows, grain: max(1, 32768 / max(rowLen, 1))) { range in
            for row in range {
                binaryRun(kind, rowLen, pa + ia(row) * aRow, aStep, pb + ib(row) * bRow, bStep, d + row * rowLen)
            }
        }
        return out
    }
}
