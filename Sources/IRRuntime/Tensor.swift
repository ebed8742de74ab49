import IRTensor

/// An fp32, C-contiguous (row-major) tensor: NCHW for images, [..., features] for tokens.
///
/// A `Tensor` is a small value (shape, storage reference, element offset). Copying it copies
/// no elements. Tensors are immutable by convention: every operator writes a fresh output and
/// never its inputs, so tensors can be shared freely, including views into a read-only weight
/// mapping. Reshaping and slicing along the leading dimension are views; everything else
/// (permute, pad, ...) produces a new tensor.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let storage: TensorStorage
    /// Index of element 0 within `storage`.
    public let offset: Int
    /// Number of elements (1 for a 0-d scalar).
    public let count: Int

    init(shape: [Int], storage: TensorStorage, offset: Int = 0) {
        self.shape = shape
        self.storage = storage
        self.offset = offset
        self.count = shape.reduce(1, *)
    }

    // MARK: construction

    /// A tensor holding `values`, row-major.
    public init(shape: [Int], values: [Float]) throws {
        guard let n = ShapeMath.elementCount(shape) else {
            throw RuntimeError("Tensor", "shape \(shape) overflows or has a negative dimension")
        }
        try require(n == values.count, "Tensor", "shape \(shape) needs \(n) values, got \(values.count)")
        let s = TensorStorage.heap(count: n)
        values.withUnsafeBufferPointer { if n > 0 { s.base.update(from: $0.baseAddress!, count: n) } }
        self.init(shape: shape, storage: s)
    }

    /// A zero-filled tensor on the heap (not pooled). Ops allocate through `ComputeContext`.
    public static func zeros(_ shape: [Int]) throws -> Tensor {
        let n = try checkedElementCount(shape)
        return Tensor(shape: shape, storage: TensorStorage.heap(count: n))
    }

    /// A 0-d tensor.
    public static func scalar(_ v: Float) -> Tensor {
        try! Tensor(shape: [], values: [v])
    }

    /// Uses a checkpoint tensor as compute input.
    ///
    /// f32 data that is 4-byte aligned (always the case in .irw files, which align every tensor to
    /// 64 bytes) is used **in place**: no copy, the mapping stays alive as long as the tensor.
    /// f16, bf16 and f64 are widened once, here, into a private f32 buffer: every kernel then runs
    /// on f32 and no op pays a per-call conversion. Integer and bool tensors are refused.
    public init(record: TensorRecord) throws {
        try self.init(bytes: record.data, dtype: record.dtype, shape: record.shape, name: record.name)
    }

    public init(bytes: ByteView, dtype: DType, shape: [Int], name: String = "tensor") throws {
        guard let n = ShapeMath.elementCount(shape), let need = ShapeMath.byteCount(shape, dtype) else {
            throw RuntimeError("Tensor", "'\(name)': shape \(shape) overflows or has a negative dimension")
        }
        try require(need == bytes.count, "Tensor", "'\(name)': shape \(shape) of \(dtype.rawValue) needs \(need) bytes, found \(bytes.count)")
        try require(dtype.isFloatingPoint, "Tensor", "'\(name)': \(dtype.rawValue) tensors cannot be used as compute input")
        let addr = Int(bitPattern: bytes.pointer)
        if dtype == .f32 && addr % 4 == 0 {
            let p = UnsafeMutablePointer(mutating: bytes.pointer.assumingMemoryBound(to: Float.self))
            self.init(shape: shape, storage: TensorStorage(base: p, capacity: n, owner: .mapped(bytes.buffer)))
        } else {
            let s = TensorStorage.heap(count: n)
            ElementConversion.toF32(bytes, dtype, into: s.base, count: n)
            self.init(shape: shape, storage: s)
        }
    }

    // MARK: access

    public var rank: Int { shape.count }
    /// True when the elements are read in place from a file mapping.
    public var isMapped: Bool { storage.isMapped }

    /// Read-only pointer to element 0.
    public var pointer: UnsafePointer<Float> { UnsafePointer(storage.base + offset) }

    /// Pointer for writing; only valid on tensors the caller just created (never on weights).
    public var mutablePointer: UnsafeMutablePointer<Float> {
        precondition(!storage.isMapped, "writing into a read-only mapped tensor")
        return storage.base + offset
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// Copies the elements out, row-major.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// The single element of a one-element tensor.
    public var item: Float {
        get throws {
            try require(count == 1, "item", "tensor of shape \(shape) has \(count) elements, not 1")
            return pointer[0]
        }
    }

    /// Size of dimension `d`; negative `d` counts from the end.
    public func size(_ d: Int) -> Int { shape[d < 0 ? shape.count + d : d] }

    // MARK: views

    /// The same elements under another shape; one dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var dims = newShape
        let inferred = dims.indices.filter { dims[$0] == -1 }
        try require(inferred.count <= 1, "reshape", "only one dimension can be -1 in \(newShape)")
        try require(dims.allSatisfy { $0 >= -1 }, "reshape", "negative dimension in \(newShape)")
        if let i = inferred.first {
            var rest = 1
            for (j, d) in dims.enumerated() where j != i {
                let (p, o) = rest.multipliedReportingOverflow(by: d)
                try require(!o, "reshape", "shape \(newShape) overflows")
                rest = p
            }
            try require(rest > 0 && count % rest == 0, "reshape", "cannot view \(shape) as \(newShape)")
            dims[i] = count / rest
        }
        guard let n = ShapeMath.elementCount(dims), n == count else {
            throw RuntimeError("reshape", "cannot view \(shape) (\(count) elements) as \(newShape)")
        }
        return Tensor(shape: dims, storage: storage, offset: offset)
    }

    /// Rows `start ..< start+length` of dimension 0, as a view.
    public func rows(_ start: Int, _ length: Int) throws -> Tensor {
        try require(rank >= 1, "rows", "a 0-d tensor has no rows")
        try require(start >= 0 && length >= 0 && start + length <= shape[0], "rows",
                    "rows \(start)..<\(start + length) out of range for shape \(shape)")
        let inner = shape.count > 1 ? shape[1...].reduce(1, *) : 1
        var s = shape
        s[0] = length
        return Tensor(shape: s, storage: storage, offset: offset + start * inner)
    }

    public var description: String {
        let n = min(count, 6)
        let head = (0..<n).map { String(pointer[$0]) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > n ? ", ..." : "")])"
    }
}
