import IRTensor

/// The `--dtype keep|f32|f16|bf16` choice of `irzoo convert`. Only floating tensors change;
/// integer and bool tensors are always kept as they are.
public enum DTypeConversion: String, CaseIterable, Sendable {
    case keep, f32, f16, bf16

    /// The dtype a tensor of `dtype` is written as.
    public func target(for dtype: DType) -> DType {
        switch self {
        case .keep: return dtype
        case .f32: return dtype.isFloatingPoint ? .f32 : dtype
        case .f16: return dtype.isFloatingPoint ? .f16 : dtype
        case .bf16: return dtype.isFloatingPoint ? .bf16 : dtype
        }
    }

    /// Converts `count` elements of a floating type into another, streaming through a small
    /// scratch buffer so memory stays bounded whatever the tensor size. `sink` receives the
    /// converted bytes in order. Rounding is torch's: to nearest even, through f32 (as `Tensor.to`).
    public static func stream(_ src: ByteView, from: DType, to: DType, count: Int,
                              chunkElements: Int = 1 << 18,
                              _ sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        precondition(from.isFloatingPoint && to.isFloatingPoint && from != to, "only floating tensors convert")
        precondition(src.count == count * from.size, "source holds \(src.count) bytes, not \(count) of \(from)")
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: chunkElements)
        let out = UnsafeMutableRawPointer.allocate(byteCount: chunkElements * to.size, alignment: 64)
        defer { floats.deallocate(); out.deallocate() }
        var start = 0
        while start < count {
            let n = min(chunkElements, count - start)
            let s = src.pointer + start * from.size
            if to == .f64 {
                // Widening to f64 is exact: no f32 detour needed.
                for i in 0..<n {
                    let v = ElementConversion.value(s, from, i)
                    out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self)
                }
            } else {
                decode(s, from, n, into: floats)
                encode(floats, n, to, into: out)
            }
            try sink(UnsafeRawBufferPointer(start: out, count: n * to.size))
            start += n
        }
    }

    private static func decode(_ s: UnsafeRawPointer, _ dtype: DType, _ n: Int, into f: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .f32:
            for i in 0..<n { f[i] = Float(bitPattern: UInt32(littleEndian: s.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        case .f16:
            for i in 0..<n { f[i] = ElementConversion.f16ToF32(UInt16(littleEndian: s.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
        case .bf16:
            for i in 0..<n { f[i] = ElementConversion.bf16ToF32(UInt16(littleEndian: s.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
        case .f64:
            for i in 0..<n { f[i] = Float(Double(bitPattern: UInt64(littleEndian: s.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
        default:
            preconditionFailure("not a floating dtype")
        }
    }

    private static func encode(_ f: UnsafeMutablePointer<Float>, _ n: Int, _ dtype: DType, into d: UnsafeMutableRawPointer) {
        switch dtype {
        case .f32:
            for i in 0..<n { d.storeBytes(of: f[i].bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        case .f16:
            for i in 0..<n { d.storeBytes(of: ElementConversion.f32ToF16(f[i]).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
        case .bf16:
            for i in 0..<n { d.storeBytes(of: ElementConversion.f32ToBF16(f[i]).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
        default:
            preconditionFailure("f64 is handled by the caller")
        }
    }
}
