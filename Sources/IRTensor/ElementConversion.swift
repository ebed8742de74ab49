/// Conversions between element types, done the way torch does them
/// (round-to-nearest-even for f32 -> f16/bf16, NaN kept as NaN).
public enum ElementConversion {
    @inline(__always) public static func bf16ToF32(_ b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    @inline(__always) public static func f32ToBF16(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        if f.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x0040) }
        let lsb = (bits >> 16) & 1
        let rounded = bits &+ 0x7FFF &+ lsb
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    @inline(__always) public static func f16ToF32(_ h: UInt16) -> Float {
        Float(Float16(bitPattern: h))
    }

    @inline(__always) public static func f32ToF16(_ f: Float) -> UInt16 {
        Float16(f).bitPattern
    }

    /// Reads element `i` of a little-endian buffer of `dtype` as Double (exact for every dtype but i64 beyond 2^53).
    public static func value(_ p: UnsafeRawPointer, _ dtype: DType, _ i: Int) -> Double {
        switch dtype {
        case .f32: return Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))))
        case .f64: return Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
        case .f16: return Double(f16ToF32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))))
        case .bf16: return Double(bf16ToF32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))))
        case .i64: return Double(Int64(littleEndian: p.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
        case .i32: return Double(Int32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
        case .i16: return Double(Int16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
        case .i8: return Double(p.load(fromByteOffset: i, as: Int8.self))
        case .u8: return Double(p.load(fromByteOffset: i, as: UInt8.self))
        case .bool: return p.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0
        }
    }

    /// Widens any floating tensor to f32 (the runtime's compute type), into `out`.
    public static func toF32(_ src: ByteView, _ dtype: DType, into out: UnsafeMutablePointer<Float>, count: Int) {
        let p = src.pointer
        switch dtype {
        case .f32:
            out.update(from: p.assumingMemoryBound(to: Float.self), count: count)
        case .f16:
            for i in 0..<count { out[i] = f16ToF32(p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
        case .bf16:
            for i in 0..<count { out[i] = bf16ToF32(p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
        default:
            for i in 0..<count { out[i] = Float(value(p, dtype, i)) }
        }
    }

    /// Converts a floating tensor between f32, f16 and bf16 (and from f64).
    /// Integer and bool tensors are never converted: callers keep them as they are.
    public static func convert(_ src: ByteView, from: DType, to: DType, count: Int) -> ByteBuffer {
        if from == to { return ByteBuffer.copying(UnsafeRawBufferPointer(start: src.pointer, count: src.count)) }
        precondition(from.isFloatingPoint && to.isFloatingPoint, "only floating tensors convert")
        return ByteBuffer.make(count: count * to.size) { dst in
            let p = src.pointer
            let d = dst.baseAddress!
            for i in 0..<count {
                let v = Float(value(p, from, i))
                switch to {
                case .f32: d.storeBytes(of: v.bitPattern, toByteOffset: i * 4, as: UInt32.self)
                case .f16: d.storeBytes(of: f32ToF16(v), toByteOffset: i * 2, as: UInt16.self)
                case .bf16: d.storeBytes(of: f32ToBF16(v), toByteOffset: i * 2, as: UInt16.self)
                case .f64: d.storeBytes(of: value(p, from, i).bitPattern, toByteOffset: i * 8, as: UInt64.self)
                default: break
                }
            }
        }
    }

    /// Reverses the byte order of every element in place (big-endian archives).
    public static func byteSwap(_ buf: UnsafeMutableRawBufferPointer, elementSize: Int) {
        guard elementSize > 1, let base = buf.baseAddress else { return }
        let n = buf.count / elementSize
        for i in 0..<n {
            let e = base + i * elementSize
            var lo = 0, hi = elementSize - 1
            while lo < hi {
                let t = e.load(fromByteOffset: lo, as: UInt8.self)
                e.storeBytes(of: e.load(fromByteOffset: hi, as: UInt8.self), toByteOffset: lo, as: UInt8.self)
                e.storeBytes(of: t, toByteOffset: hi, as: UInt8.self)
                lo += 1; hi -= 1
            }
        }
    }
}
