import IRTensor
#if canImport(Glibc)
import Glibc
#endif

/// Turns validated tensor views into `TensorRecord`s. A contiguous little-endian tensor is a
/// zero-copy window onto its storage (so tensors sharing a storage share bytes); anything else
/// is materialised C-contiguous: a strided gather, after a byte swap of the whole storage for
/// big-endian archives (done once per storage and shared by every tensor on it).
final class TorchTensorMaterializer {
    /// The bytes of one storage: exactly `storage.byteCount` bytes, in the file's byte order.
    private let storageBytes: (TorchStorageRef) throws -> ByteView
    private let bigEndian: Bool
    private var swapped: [String: ByteView] = [:]

    init(bigEndian: Bool, storageBytes: @escaping (TorchStorageRef) throws -> ByteView) {
        self.bigEndian = bigEndian
        self.storageBytes = storageBytes
    }

    /// The record for `t`; errors are reasons to put after the tensor's name.
    func record(name: String, _ t: TorchTensorRef) throws -> TensorRecord {
        guard let dtype = t.dtype else {
            throw PickleError("tensor '\(PickleRender.printable(name))': element type \(t.elementTypeName) is not supported (irzoo reads f32 f16 bf16 f64 i64 i32 i16 i8 u8 bool)")
        }
        var src = try storageBytes(t.storage)
        precondition(src.count == t.storage.byteCount, "storage resolver returned the wrong size")
        if bigEndian && t.elementSize > 1 {
            let key = "\(t.storage.key)#\(t.storage.elementOffset)#\(t.elementSize)"
            if let s = swapped[key] { src = s } else {
                let s = Self.byteSwapped(src, elementSize: t.elementSize)
                swapped[key] = s
                src = s
            }
        }
        let es = t.elementSize
        let data: ByteView
        if t.elementCount == 0 {
            data = src.slice(offset: 0, count: 0)!
        } else if t.isContiguous {
            // In range: TorchTensorRef.validated checked offset + extent against the storage.
            data = src.slice(offset: t.offset * es, count: t.elementCount * es)!
        } else {
            data = Self.gather(src, t).whole
        }
        do {
            return try TensorRecord(name: name, dtype: dtype, shape: t.shape, data: data)
        } catch let e as TensorRecordError {
            throw PickleError(e.description)
        }
    }

    /// Copies a strided view into C order: whole rows with memcpy when the last stride is 1,
    /// element by element (fixed-width loads) otherwise.
    static func gather(_ src: ByteView, _ t: TorchTensorRef) -> ByteBuffer {
        let es = t.elementSize
        let rank = t.shape.count
        let inner = t.shape[rank - 1], innerStride = t.strides[rank - 1]
        let rows = t.elementCount / inner
        return ByteBuffer.make(count: t.elementCount * es) { dst in
            var out = dst.baseAddress!
            let base = src.pointer + t.offset * es
            var index = [Int](repeating: 0, count: rank)
            var rowOffset = 0  // element offset of the current row in the storage
            for _ in 0 ..< rows {
                let from = base + rowOffset * es
                if innerStride == 1 {
                    memcpy(out, from, inner * es)
                } else {
                    copyStrided(from: from, to: out, count: inner, stride: innerStride * es, width: es)
                }
                out += inner * es
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1
                    rowOffset += t.strides[d]
                    if index[d] < t.shape[d] { break }
                    rowOffset -= t.strides[d] * t.shape[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }

    private static func copyStrided(from: UnsafeRawPointer, to: UnsafeMutableRawPointer, count: Int, stride: Int, width: Int) {
        switch width {
        case 1: for i in 0 ..< count { to.storeBytes(of: from.load(fromByteOffset: i * stride, as: UInt8.self), toByteOffset: i, as: UInt8.self) }
        case 2: for i in 0 ..< count { to.storeBytes(of: from.loadUnaligned(fromByteOffset: i * stride, as: UInt16.self), toByteOffset: i * 2, as: UInt16.self) }
        case 4: for i in 0 ..< count { to.storeBytes(of: from.loadUnaligned(fromByteOffset: i * stride, as: UInt32.self), toByteOffset: i * 4, as: UInt32.self) }
        case 8: for i in 0 ..< count { to.storeBytes(of: from.loadUnaligned(fromByteOffset: i * stride, as: UInt64.self), toByteOffset: i * 8, as: UInt64.self) }
        default: for i in 0 ..< count { memcpy(to + i * width, from + i * stride, width) }
        }
    }

    /// A little-endian copy of a big-endian storage.
    static func byteSwapped(_ src: ByteView, elementSize: Int) -> ByteView {
        ByteBuffer.make(count: src.count) { dst in
            let s = src.pointer, d = dst.baseAddress!
            let n = src.count / elementSize
            switch elementSize {
            case 2: for i in 0 ..< n { d.storeBytes(of: s.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).byteSwapped, toByteOffset: i * 2, as: UInt16.self) }
            case 4: for i in 0 ..< n { d.storeBytes(of: s.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).byteSwapped, toByteOffset: i * 4, as: UInt32.self) }
            case 8: for i in 0 ..< n { d.storeBytes(of: s.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self).byteSwapped, toByteOffset: i * 8, as: UInt64.self) }
            default:
                dst.copyMemory(from: UnsafeRawBufferPointer(start: s, count: src.count))
                ElementConversion.byteSwap(dst, elementSize: elementSize)
            }
        }.whole
    }
}
