/// One named tensor: C-contiguous, little-endian bytes of `dtype` with `shape`.
/// Every reader yields these; everything after the reader is container-agnostic.
public struct TensorRecord: @unchecked Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var data: ByteView

    /// Checks that `data` holds exactly `shape` of `dtype`.
    public init(name: String, dtype: DType, shape: [Int], data: ByteView) throws {
        guard let need = ShapeMath.byteCount(shape, dtype) else {
            throw TensorRecordError(name: name, reason: "shape \(shape) overflows or has a negative dimension")
        }
        guard need == data.count else {
            throw TensorRecordError(name: name, reason: "shape \(shape) of \(dtype.rawValue) needs \(need) bytes, found \(data.count)")
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    public var elementCount: Int { ShapeMath.elementCount(shape)! }
    public var byteCount: Int { data.count }
}

public struct TensorRecordError: Error, CustomStringConvertible, Sendable {
    public let name: String
    public let reason: String
    public var description: String { "tensor '\(name)': \(reason)" }
}

extension Array where Element == TensorRecord {
    /// Total elements over all tensors.
    public var parameterCount: Int { reduce(0) { $0 + $1.elementCount } }
    public var totalBytes: Int { reduce(0) { $0 + $1.byteCount } }
}
