import IRTensor

/// Folds loralib `ConvLoRA` factors into their convolutions, at import, so a LoRA network runs as
/// the plain one. A site `<s>` holds `<s>.lora_A` [r·k, I·k], `<s>.lora_B` [O/g·k, r·k] and the
/// wrapped conv `<s>.conv.weight` [O, I/g, k, k] (+ `<s>.conv.bias`); it becomes `<s>.weight`
/// (+ `<s>.bias`) with
///
///     W' = W + (alpha / r) · view(B @ A, W.shape)
///
/// which is what `ConvLoRA.train(False)` (`model.eval()`) merges in place: the product matrix is
/// reinterpreted row-major as the weight (a flat view, not an (out, k) × (in, k) mapping), also for
/// depthwise and grouped convs. r = rows(A) / k per site; alpha is not stored in checkpoints, so
/// the caller says it (UniRestorer: 16). Computed in f32 (products accumulated in Double).
///
/// Used by the `loraMerge` rule of a manifest layout (KeyMapper) and, per expert, by UniRestorer's importer.
public enum LoRAMerge {
    /// The outcome: tensors in their original order with each site's three tensors replaced by the
    /// merged weight where the conv weight was, and how many sites were merged.
    public struct Result<T: MappableTensor> {
        public var tensors: [T]
        public var merged: Int
    }

    public static let factorA = ".lora_A", factorB = ".lora_B", wrappedWeight = ".conv.weight", wrappedBias = ".conv.bias"

    /// Merges every ConvLoRA site in `tensors`; tensors of no site pass through unchanged. A site
    /// with a factor missing, or factors whose shapes do not fit its weight, is an error naming it.
    public static func apply<T: MappableTensor>(_ tensors: [T], alpha: Double) throws -> Result<T> {
        guard alpha.isFinite && alpha > 0 else { throw KeyMappingError(tensor: "*", reason: "LoRA alpha \(alpha) must be positive") }
        var byName = [String: Int]()
        for (i, t) in tensors.enumerated() { byName[t.name] = i }
        var sites = Set<String>()
        for t in tensors {
            for suffix in [factorA, factorB] where t.name.hasSuffix(suffix) {
                sites.insert(String(t.name.dropLast(suffix.count)))
            }
        }
        if sites.isEmpty { return Result(tensors: tensors, merged: 0) }
        var out = [T]()
        out.reserveCapacity(tensors.count)
        for t in tensors {
            if let site = siteName(t.name, suffix: wrappedWeight), sites.contains(site) {
                guard let ia = byName[site + factorA], let ib = byName[site + factorB] else {
                    throw KeyMappingError(tensor: site, reason: "a ConvLoRA site needs both \(factorA) and \(factorB) beside \(wrappedWeight)")
                }
                let r = try rank(weight: t, a: tensors[ia], b: tensors[ib], site: site)
                var merged = try t.addingLoRADelta(a: tensors[ia], b: tensors[ib], scale: alpha / Double(r))
                merged.name = site + ".weight"
                out.append(merged)
            } else if let site = siteName(t.name, suffix: wrappedBias), sites.contains(site) {
                var bias = t
                bias.name = site + ".bias"
                out.append(bias)
            } else if let site = siteName(t.name, suffix: factorA) ?? siteName(t.name, suffix: factorB), sites.contains(site) {
                guard byName[site + wrappedWeight] != nil else {
                    throw KeyMappingError(tensor: t.name, reason: "LoRA factor without its wrapped conv '\(site + wrappedWeight)'")
                }
            } else {
                out.append(t)
            }
        }
        return Result(tensors: out, merged: sites.count)
    }

    /// The rank r of a site, after checking the factor shapes against the weight (loralib's rules).
    static func rank<T: MappableTensor>(weight w: T, a: T, b: T, site: String) throws -> Int {
        let ws = w.shape, sa = a.shape, sb = b.shape
        guard ws.count == 4, ws[2] == ws[3], ws[2] > 0 else {
            throw KeyMappingError(tensor: site + wrappedWeight, reason: "ConvLoRA wraps a square-kernel conv [O, I/g, k, k], found \(ws)")
        }
        let k = ws[2]
        // Overflow-checked: the shapes come from an untrusted file.
        guard sa.count == 2, sb.count == 2, sa[0] == sb[1], sa[0] % k == 0, sa[0] > 0,
              let n = ShapeMath.elementCount(ws), case let (product, overflow) = sa[1].multipliedReportingOverflow(by: sb[0]),
              !overflow, product == n else {
            throw KeyMappingError(tensor: site, reason: "LoRA factors A \(sa) and B \(sb) do not fit conv weight \(ws) "
                                  + "(want A [r·\(k), I·\(k)], B [O/g·\(k), r·\(k)] with (O/g·k)·(I·k) = \(ShapeMath.elementCount(ws) ?? 0))")
        }
        return sa[0] / k
    }

    static func siteName(_ name: String, suffix: String) -> String? {
        name.hasSuffix(suffix) && name.count > suffix.count ? String(name.dropLast(suffix.count)) : nil
    }

    /// W + scale · (B @ A) on flat f32 values (the row-major view). `w` has count rows(B)·cols(A).
    public static func mergedWeight(_ w: [Float], a: [Float], aShape: [Int], b: [Float], bShape: [Int], scale: Double) -> [Float] {
        let (m, r, n) = (bShape[0], bShape[1], aShape[1])
        var out = w
        var row = [Double](repeating: 0, count: n)
        out.withUnsafeMutableBufferPointer { o in
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    row.withUnsafeMutableBufferPointer { acc in
                        for i in 0..<m {
                            for j in 0..<n { acc[j] = 0 }
                            // Row i of B @ A, accumulated over t in order (contiguous rows of A).
                            for t in 0..<r {
                                let bv = Double(bp[i * r + t]), at = t * n
                                for j in 0..<n { acc[j] += bv * Double(ap[at + j]) }
                            }
                            // torch: (B @ A) in f32, times the scaling, added to W.
                            for j in 0..<n { o[i * n + j] += Float(acc[j]) * Float(scale) }
                        }
                    }
                }
            }
        }
        return out
    }
}

extension TensorShape {
    public func addingLoRADelta(a: TensorShape, b: TensorShape, scale: Double) throws -> TensorShape {
        TensorShape(name: name, shape: shape, dtype: .f32)
    }
}

extension TensorRecord {
    /// This conv weight plus the LoRA delta, as a new f32 tensor (any floating input dtype).
    public func addingLoRADelta(a: TensorRecord, b: TensorRecord, scale: Double) throws -> TensorRecord {
        for t in [self, a, b] where !t.dtype.isFloatingPoint {
            throw KeyMappingError(tensor: t.name, reason: "LoRA merge needs floating tensors, found \(t.dtype)")
        }
        let merged = LoRAMerge.mergedWeight(floats(), a: a.floats(), aShape: a.shape, b: b.floats(), bShape: b.shape, scale: scale)
        let buffer = merged.withUnsafeBytes { ByteBuffer.copying($0) }
        return try TensorRecord(name: name, dtype: .f32, shape: shape, data: buffer.whole)
    }

    func floats() -> [Float] {
        let n = elementCount
        guard n > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: n) { p, count in
            ElementConversion.toF32(data, dtype, into: p.baseAddress!, count: n)
            count = n
        }
    }
}
