import IRTensor

/// A torch storage class (`torch.FloatStorage`, `torch.UntypedStorage`, ...): how wide its
/// elements are and which irzoo dtype they hold.
public struct TorchStorageType: Sendable, Equatable {
    /// The class name, e.g. "FloatStorage".
    public let name: String
    public let elementSize: Int
    /// nil for element types irzoo recognises but does not convert (complex, quantized) and for
    /// untyped storages, whose tensors carry their own dtype.
    public let dtype: DType?
    public var isUntyped: Bool { name == "UntypedStorage" }

    /// Every storage class torch's own weights-only loader knows.
    static let byName: [String: TorchStorageType] = {
        let table: [(String, Int, DType?)] = [
            ("FloatStorage", 4, .f32), ("DoubleStorage", 8, .f64), ("HalfStorage", 2, .f16),
            ("BFloat16Storage", 2, .bf16), ("LongStorage", 8, .i64), ("IntStorage", 4, .i32),
            ("ShortStorage", 2, .i16), ("CharStorage", 1, .i8), ("ByteStorage", 1, .u8),
            ("BoolStorage", 1, .bool),
            ("ComplexFloatStorage", 8, nil), ("ComplexDoubleStorage", 16, nil),
            ("QInt8Storage", 1, nil), ("QUInt8Storage", 1, nil), ("QInt32Storage", 4, nil),
            ("QUInt4x2Storage", 1, nil), ("QUInt2x4Storage", 1, nil),
            ("UntypedStorage", 1, nil),
        ]
        var m: [String: TorchStorageType] = [:]
        for (n, s, d) in table { m[n] = TorchStorageType(name: n, elementSize: s, dtype: d) }
        return m
    }()
}

/// Element types named by `torch.<dtype>` globals (as `_rebuild_tensor_v3` passes them).
enum TorchDTypeName {
    /// name -> (irzoo dtype or nil when unsupported, element size)
    static let byName: [String: (DType?, Int)] = [
        "float32": (.f32, 4), "float": (.f32, 4), "float16": (.f16, 2), "half": (.f16, 2),
        "bfloat16": (.bf16, 2), "float64": (.f64, 8), "double": (.f64, 8),
        "int64": (.i64, 8), "long": (.i64, 8), "int32": (.i32, 4), "int": (.i32, 4),
        "int16": (.i16, 2), "short": (.i16, 2), "int8": (.i8, 1), "uint8": (.u8, 1), "bool": (.bool, 1),
        "complex64": (nil, 8), "cfloat": (nil, 8), "complex128": (nil, 16), "cdouble": (nil, 16),
        "uint16": (nil, 2), "uint32": (nil, 4), "uint64": (nil, 8),
        "float8_e4m3fn": (nil, 1), "float8_e5m2": (nil, 1), "float8_e4m3fnuz": (nil, 1), "float8_e5m2fnuz": (nil, 1),
        "qint8": (nil, 1), "quint8": (nil, 1), "qint32": (nil, 4), "quint4x2": (nil, 1), "quint2x4": (nil, 1),
    ]
}

/// A storage named by a persistent id: `('storage', type, key, location, numel)` in zip
/// archives, plus view metadata in legacy files.
public struct TorchStorageRef: Sendable {
    /// The record key ("0", "1", ... in zip archives; an address string in legacy files).
    public let key: String
    public let type: TorchStorageType
    /// Elements of `type` (bytes for an untyped storage), as declared by the pickle and checked
    /// against the record by the reader.
    public let numel: Int
    /// Legacy storage views: where this storage starts inside its root storage, in elements.
    public let elementOffset: Int
    /// `numel * type.elementSize`, overflow-checked at creation.
    public let byteCount: Int

    /// Checks the declared size for overflow before anything uses it.
    public init(key: String, type: TorchStorageType, numel: Int, elementOffset: Int = 0) throws {
        guard numel >= 0, elementOffset >= 0 else {
            throw PickleError("storage '\(key)' declares a negative size or offset")
        }
        let (bytes, o) = numel.multipliedReportingOverflow(by: type.elementSize)
        guard !o else { throw PickleError("storage '\(key)' declares \(numel) elements: the byte size overflows") }
        self.key = key
        self.type = type
        self.numel = numel
        self.elementOffset = elementOffset
        self.byteCount = bytes
    }
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. Built only through
/// `validated`, so every tensor the machine yields lies inside its storage.
public struct TorchTensorRef: Sendable {
    public let storage: TorchStorageRef
    /// nil when the element type is one irzoo does not convert (complex, quantized, ...).
    public let dtype: DType?
    /// Human name of the element type, for messages ("FloatStorage", "complex64").
    public let elementTypeName: String
    public let elementSize: Int
    /// Storage offset in elements.
    public let offset: Int
    public let shape: [Int]
    public let strides: [Int]
    public let elementCount: Int

    /// Checks rank, signs, overflow and that the furthest element lies inside the storage
    /// (the storage-size check torch < 2.10 lacked: CVE-2026-24747).
    public static func validated(storage: TorchStorageRef, offset: Int, shape: [Int], strides: [Int],
                                 dtypeOverride: (dtype: DType?, size: Int, name: String)? = nil) throws -> TorchTensorRef {
        let dtype: DType?, size: Int, typeName: String
        if let o = dtypeOverride {
            (dtype, size, typeName) = (o.dtype, o.size, o.name)
        } else {
            (dtype, size, typeName) = (storage.type.dtype, storage.type.elementSize, storage.type.name)
        }
        guard size > 0 else { throw PickleError("tensor has a zero-width element type") }
        guard shape.count == strides.count else {
            throw PickleError("tensor has \(shape.count) sizes but \(strides.count) strides")
        }
        guard shape.count <= 64 else { throw PickleError("tensor has \(shape.count) dimensions (at most 64)") }
        guard offset >= 0 else { throw PickleError("tensor has a negative storage offset \(offset)") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw PickleError("tensor has a negative size in \(shape)") }
        guard strides.allSatisfy({ $0 >= 0 }) else { throw PickleError("tensor has a negative stride in \(strides)") }
        guard let count = ShapeMath.elementCount(shape),
              !count.multipliedReportingOverflow(by: size).overflow else {
            throw PickleError("tensor shape \(shape) overflows")
        }
        // Capacity of the storage in elements of the tensor's type (untyped storages count bytes).
        let capacity = storage.byteCount / size
        if count == 0 {
            guard offset <= capacity else {
                throw PickleError("empty tensor's storage offset \(offset) lies past the end of storage '\(storage.key)' (\(capacity) elements)")
            }
        } else {
            var last = offset
            for (n, s) in zip(shape, strides) {
                let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { throw PickleError("tensor extent overflows (shape \(shape), strides \(strides), offset \(offset))") }
                last = sum
            }
            guard last < capacity else {
                throw PickleError("tensor (offset \(offset), shape \(shape), strides \(strides)) reaches element \(last) but storage '\(storage.key)' holds \(capacity) elements")
            }
        }
        return TorchTensorRef(storage: storage, dtype: dtype, elementTypeName: typeName, elementSize: size,
                              offset: offset, shape: shape, strides: strides, elementCount: count)
    }

    /// True when the view is the C-contiguous layout of its shape (sizes of 1 may have any stride).
    public var isContiguous: Bool {
        var expected = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            if shape[i] != 1 && strides[i] != expected { return false }
            expected &*= shape[i]
        }
        return true
    }
}
