import IRTensor

/// A tensor as the key mapper sees it: a name, a shape, a dtype, and how to cut or transpose
/// it. `TensorRecord` (with bytes) and `TensorShape` (a key list, no bytes) both conform, so the
/// same rules run on a real checkpoint and on a published key list.
public protocol MappableTensor {
    var name: String { get set }
    var shape: [Int] { get }
    var dtype: DType { get }
    /// `parts` equal pieces along axis 0, in order.
    func splitAxis0(into parts: Int) throws -> [Self]
    /// The transpose of a 2-D tensor.
    func transposed2D() throws -> Self
    /// This conv weight plus `scale · view(b @ a)` (a ConvLoRA site; see `LoRAMerge`).
    func addingLoRADelta(a: Self, b: Self, scale: Double) throws -> Self
    /// The same elements without their trailing size-1 axes beyond the first two (a 1×1 conv
    /// kernel [O, I, 1, 1] read as a Linear weight [O, I]).
    func squeezedTrailingOnes() throws -> Self
}

extension MappableTensor {
    /// The shape `squeezedTrailingOnes` gives, or an error when the tensor is not [O, I, 1, ...].
    func squeezedShape() throws -> [Int] {
        guard shape.count >= 2, shape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
            throw KeyMappingError(tensor: name, reason: "squeeze needs a [out, in, 1, 1] tensor, found shape \(shape)")
        }
        return Array(shape.prefix(2))
    }
}

/// A tensor without bytes: what key lists and shape-only detection work on.
public struct TensorShape: MappableTensor, Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var shape: [Int]
    public var dtype: DType

    public init(name: String, shape: [Int], dtype: DType = .f32) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
    }

    public init(_ record: TensorRecord) {
        self.init(name: record.name, shape: record.shape, dtype: record.dtype)
    }

    public var elementCount: Int { ShapeMath.elementCount(shape) ?? 0 }

    public func splitAxis0(into parts: Int) throws -> [TensorShape] {
        let rows = try KeyMapper.checkSplit(name: name, shape: shape, parts: parts)
        return (0..<parts).map { _ in TensorShape(name: name, shape: [rows] + shape.dropFirst(), dtype: dtype) }
    }

    public func transposed2D() throws -> TensorShape {
        guard shape.count == 2 else { throw KeyMappingError(tensor: name, reason: "transpose needs a 2-D tensor, found shape \(shape)") }
        return TensorShape(name: name, shape: [shape[1], shape[0]], dtype: dtype)
    }

    public func squeezedTrailingOnes() throws -> TensorShape {
        TensorShape(name: name, shape: try squeezedShape(), dtype: dtype)
    }

    public var description: String { "\(name) \(shape)" }
}

extension TensorRecord: MappableTensor {
    /// Zero-copy: the same bytes under the shorter shape.
    public func squeezedTrailingOnes() throws -> TensorRecord {
        try TensorRecord(name: name, dtype: dtype, shape: try squeezedShape(), data: data)
    }

    /// Zero-copy: rows of a C-contiguous tensor are contiguous byte ranges of the same view.
    public func splitAxis0(into parts: Int) throws -> [TensorRecord] {
        let rows = try KeyMapper.checkSplit(name: name, shape: shape, parts: parts)
        let partShape = [rows] + shape.dropFirst()
        guard let partBytes = ShapeMath.byteCount(partShape, dtype) else {
            throw KeyMappingError(tensor: name, reason: "shape \(shape) overflows")
        }
        return try (0..<parts).map { i in
            guard let view = data.slice(offset: i * partBytes, count: partBytes) else {
                throw KeyMappingError(tensor: name, reason: "part \(i) lies outside the tensor's bytes")
            }
            return try TensorRecord(name: name, dtype: dtype, shape: partShape, data: view)
        }
    }

    /// Copies: a transpose cannot be a view of the original bytes.
    public func transposed2D() throws -> TensorRecord {
        guard shape.count == 2 else { throw KeyMappingError(tensor: name, reason: "transpose needs a 2-D tensor, found shape \(shape)") }
        let (r, c, e) = (shape[0], shape[1], dtype.size)
        let src = data
        let buffer = ByteBuffer.make(count: src.count) { dst in
            guard let d = dst.baseAddress else { return }
            let s = src.pointer
            for i in 0..<r {
                for j in 0..<c {
                    (d + (j * r + i) * e).copyMemory(from: s + (i * c + j) * e, byteCount: e)
                }
            }
        }
        return try TensorRecord(name: name, dtype: dtype, shape: [c, r], data: buffer.whole)
    }
}

/// Tensors left out by a drop rule, reported as one line per rule.
public struct DroppedGroup: Sendable, Equatable {
    public var pattern: String
    public var reason: String
    public var names: [String]
    public var elementCount: Int

    public var summary: String {
        "dropped \(names.count) tensor\(names.count == 1 ? "" : "s") (\(elementCount) values) matching \(pattern): \(reason)"
    }
}

/// The outcome of applying a layout: renamed tensors in their original order (a split's parts
/// where the fused tensor was), and what was dropped or changed.
public struct MappedTensors<T: MappableTensor> {
    public var layout: String
    public var tensors: [T]
    public var dropped: [DroppedGroup]
    public var strippedPrefixes: [String: Int]
    public var renamed: Int
    public var split: Int
    /// ConvLoRA sites folded into their conv weights (the layout's `loraMerge`).
    public var loraMerged = 0

    /// One line per fact worth telling the user.
    public var notes: [String] {
        var out = [String]()
        for (p, n) in strippedPrefixes.sorted(by: { $0.key < $1.key }) { out.append("stripped prefix '\(p)' from \(n) names") }
        if split > 0 { out.append("split \(split) fused tensors") }
        if renamed > 0 { out.append("renamed \(renamed) tensors") }
        if loraMerged > 0 { out.append("merged \(loraMerged) ConvLoRA sites into their conv weights (W + alpha/r · view(B @ A), in f32)") }
        out += dropped.map { $0.summary }
        return out
    }
}

public struct KeyMappingError: Error, CustomStringConvertible, Sendable {
    public let tensor: String
    public let reason: String
    public var description: String { "tensor '\(tensor)': \(reason)" }
}

/// Applies a `SourceLayout`'s rules to a tensor table.
public enum KeyMapper {
    public static func apply<T: MappableTensor>(_ layout: SourceLayout, to input: [T]) throws -> MappedTensors<T> {
        var stripped = [String: Int]()
        var dropped = layout.drop.map { DroppedGroup(pattern: $0.pattern.description, reason: $0.reason, names: [], elementCount: 0) }
        var out = [T]()
        out.reserveCapacity(input.count)
        var renamed = 0, splitCount = 0

        tensors: for var t in input {
            for p in layout.stripPrefixes where t.name.hasPrefix(p) && t.name.count > p.count {
                t.name = String(t.name.dropFirst(p.count))
                stripped[p, default: 0] += 1
                break
            }
            for (i, rule) in layout.drop.enumerated() where rule.pattern.matches(t.name) {
                dropped[i].names.append(t.name)
                dropped[i].elementCount += ShapeMath.elementCount(t.shape) ?? 0
                continue tensors
            }
            for rule in layout.splits {
                guard let caps = rule.from.match(t.name) else { continue }
                let parts = try t.splitAxis0(into: rule.into.count)
                parts: for (part, target) in zip(parts, rule.into) {
                    var renamedPart = part
                    renamedPart.name = try target.fill(caps)
                    // A part the model does not read (a gate's noise half) is dropped by name.
                    for (i, drop) in layout.drop.enumerated() where drop.pattern.matches(renamedPart.name) {
                        dropped[i].names.append(renamedPart.name)
                        dropped[i].elementCount += ShapeMath.elementCount(renamedPart.shape) ?? 0
                        continue parts
                    }
                    out.append(renamedPart)
                }
                splitCount += 1
                continue tensors
            }
            for rule in layout.renames {
                guard let caps = rule.from.match(t.name) else { continue }
                let newName = try rule.to.fill(caps)
                if rule.transpose { t = try t.transposed2D() }
                if rule.squeeze { t = try t.squeezedTrailingOnes() }
                t.name = newName
                renamed += 1
                break
            }
            out.append(t)
        }

        var loraMerged = 0
        if let rule = layout.loraMerge {
            let merge = try LoRAMerge.apply(out, alpha: rule.alpha)
            out = merge.tensors
            loraMerged = merge.merged
        }

        var seen = Set<String>()
        for t in out where !seen.insert(t.name).inserted {
            throw KeyMappingError(tensor: t.name, reason: "two source tensors map to this name under layout '\(layout.name)'")
        }
        return MappedTensors(layout: layout.name, tensors: out, dropped: dropped.filter { !$0.names.isEmpty },
                             strippedPrefixes: stripped, renamed: renamed, split: splitCount, loraMerged: loraMerged)
    }

    static func checkSplit(name: String, shape: [Int], parts: Int) throws -> Int {
        guard let rows = shape.first, parts > 0 else {
            throw KeyMappingError(tensor: name, reason: "cannot split a 0-d tensor")
        }
        guard rows % parts == 0 else {
            throw KeyMappingError(tensor: name, reason: "axis 0 has \(rows) rows, not divisible into \(parts) equal parts")
        }
        return rows / parts
    }
}
