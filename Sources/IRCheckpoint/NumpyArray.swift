import IRTensor

/// NumPy `.npy` files (format versions 1.0, 2.0 and 3.0): read and write.
///
/// The header is a Python dict literal; it is parsed here as the tiny grammar numpy writes
/// (string keys; string, bool and int-tuple values), never evaluated. Exactly the keys `descr`,
/// `fortran_order` and `shape` are allowed, as in numpy's own reader. Little-endian data is viewed
/// in place; big-endian data is byte-swapped and Fortran-order (or misaligned) data copied to
/// C order, into an owned buffer. Object arrays (which numpy stores as pickles) and structured
/// dtypes are refused.
public enum NumpyArray {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // "\x93NUMPY"
    /// numpy refuses longer headers by default (`_MAX_HEADER_SIZE`).
    public static let maxHeaderLength = 10_000

    /// Reads a `.npy` file. The tensor is named `name`, or the file name without `.npy`.
    public static func read(path: String, name: String? = nil) throws -> TensorRecord {
        let file: ByteBuffer
        do { file = try ByteBuffer.map(path: path) } catch let e as IOFailure {
            throw CheckpointError(file: path, reason: e.reason)
        }
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let stem = base.hasSuffix(".npy") ? String(base.dropLast(4)) : base
        return try parse(file.whole, name: name ?? stem, file: path)
    }

    /// Parses a whole `.npy` held in `view`; errors name `file` and `entry`.
    public static func parse(_ view: ByteView, name: String, file: String, entry: String? = nil) throws -> TensorRecord {
        func fail(_ reason: String, at offset: Int? = nil) -> CheckpointError {
            CheckpointError(file: file, entry: entry, reason: reason, offset: offset)
        }
        let header: Header
        do {
            header = try view.withUnsafeBytes { try Header.parse($0) }
        } catch let e as NumpyFormatError {
            throw fail(e.reason, at: e.offset)
        }
        guard let byteCount = ShapeMath.byteCount(header.shape, header.dtype) else {
            throw fail("shape \(header.shape) overflows")
        }
        let available = view.count - header.dataOffset
        guard available == byteCount else {
            throw fail(available < byteCount
                       ? "data is \(available) bytes but shape \(header.shape) of \(header.descr) needs \(byteCount) (truncated file?)"
                       : "\(available - byteCount) unexpected bytes after the data", at: header.dataOffset + min(available, byteCount))
        }
        var data = view.slice(offset: header.dataOffset, count: byteCount)!
        if header.bigEndian || header.fortranOrder {
            let src = data
            data = ByteBuffer.make(count: byteCount) { dst in
                guard byteCount > 0 else { return }
                if header.fortranOrder {
                    fortranToC(src.pointer, dst.baseAddress!, shape: header.shape, elementSize: header.dtype.size)
                } else {
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: src.pointer, count: byteCount))
                }
                if header.bigEndian { ElementConversion.byteSwap(dst, elementSize: header.dtype.size) }
            }.whole
        }
        if Int(bitPattern: data.pointer) % header.dtype.size != 0 {
            // Members of an .npz sit wherever the zip put them: give consumers aligned elements.
            data = ByteBuffer.copying(UnsafeRawBufferPointer(start: data.pointer, count: data.count)).whole
        }
        if header.dtype == .bool, data.withUnsafeBytes({ $0.contains { $0 > 1 } }) {
            throw fail("bool array holds bytes other than 0 and 1")
        }
        do {
            return try TensorRecord(name: name, dtype: header.dtype, shape: header.shape, data: data)
        } catch let e as TensorRecordError {
            throw fail(e.reason)
        }
    }

    /// The header numpy's `np.save` writes for a C-order little-endian array (byte-identical:
    /// the same key order, growth padding and 64-byte alignment), version 1.0 unless it needs 2.0.
    /// nil for bf16, which numpy cannot represent.
    public static func headerBytes(dtype: DType, shape: [Int]) -> [UInt8]? {
        guard let descr = descr(dtype) else { return nil }
        let dims = shape.map(String.init)
        let tuple = shape.count == 1 ? "(\(dims[0]),)" : "(\(dims.joined(separator: ", ")))"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(tuple), }"
        // numpy leaves room to grow the first axis in place (GROWTH_AXIS_MAX_DIGITS = 21).
        if let first = dims.first { dict += String(repeating: " ", count: max(0, 21 - first.count)) }
        let text = Array(dict.utf8)
        func wrap(lengthBytes: Int, major: UInt8) -> [UInt8]? {
            let hlen = text.count + 1
            let padlen = 64 - ((8 + lengthBytes + hlen) % 64)
            let total = hlen + padlen
            var out = magic + [major, 0]
            if lengthBytes == 2 {
                guard total <= Int(UInt16.max) else { return nil }
                out += [UInt8(total & 0xFF), UInt8(total >> 8)]
            } else {
                out += (0..<4).map { UInt8(truncatingIfNeeded: total >> (8 * $0)) }
            }
            out += text
            out += [UInt8](repeating: 0x20, count: padlen)
            out.append(0x0A)
            return out
        }
        return wrap(lengthBytes: 2, major: 1) ?? wrap(lengthBytes: 4, major: 2)!
    }

    /// Writes `tensor` as a `.npy` file (atomically: temp file, fsync, rename).
    public static func write(_ tensor: TensorRecord, to path: String) throws {
        guard let header = headerBytes(dtype: tensor.dtype, shape: tensor.shape) else {
            throw CheckpointError(file: path, entry: tensor.name, reason: "numpy has no \(tensor.dtype.rawValue); convert to f32 first")
        }
        let out: AtomicFileWriter
        do { out = try AtomicFileWriter(destination: path) } catch let e as IOFailure {
            throw CheckpointError(file: path, reason: e.reason)
        }
        do {
            try out.write(header)
            try tensor.data.withUnsafeBytes { try out.write($0) }
            try out.commit()
        } catch let e as IOFailure {
            out.abandon()
            throw CheckpointError(file: path, reason: e.reason)
        }
    }

    /// numpy's spelling of a dtype in `descr` (nil for bf16: numpy has none).
    public static func descr(_ dtype: DType) -> String? {
        switch dtype {
        case .f32: return "<f4"
        case .f16: return "<f2"
        case .f64: return "<f8"
        case .bf16: return nil
        case .i64: return "<i8"
        case .i32: return "<i4"
        case .i16: return "<i2"
        case .i8: return "|i1"
        case .u8: return "|u1"
        case .bool: return "|b1"
        }
    }

    /// Copies a Fortran-order array into C order.
    static func fortranToC(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, shape: [Int], elementSize: Int) {
        let rank = shape.count
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        // Fortran strides (in elements): the first axis varies fastest.
        var strides = [Int](repeating: 1, count: rank)
        for k in stride(from: 1, to: rank, by: 1) { strides[k] = strides[k - 1] * shape[k - 1] }
        var index = [Int](repeating: 0, count: rank)
        var srcOffset = 0
        for i in 0..<count {
            (dst + i * elementSize).copyMemory(from: src + srcOffset * elementSize, byteCount: elementSize)
            // Advance the C-order odometer: the last axis fastest.
            var k = rank - 1
            while k >= 0 {
                index[k] += 1
                srcOffset += strides[k]
                if index[k] < shape[k] { break }
                srcOffset -= strides[k] * shape[k]
                index[k] = 0
                k -= 1
            }
        }
    }
}

struct NumpyFormatError: Error {
    let reason: String
    let offset: Int?
}

extension NumpyArray {
    struct Header {
        var descr: String
        var dtype: DType
        var bigEndian: Bool
        var fortranOrder: Bool
        var shape: [Int]
        /// Where the array bytes start.
        var dataOffset: Int

        static func parse(_ b: UnsafeRawBufferPointer) throws -> Header {
            func fail(_ r: String, at o: Int? = nil) -> NumpyFormatError { NumpyFormatError(reason: r, offset: o) }
            guard b.count >= 10, Array(b[0..<6]) == NumpyArray.magic else { throw fail("not a .npy file (bad magic)", at: 0) }
            let major = b[6], minor = b[7]
            let lengthBytes: Int
            switch (major, minor) {
            case (1, 0): lengthBytes = 2
            case (2, 0), (3, 0): lengthBytes = 4
            default: throw fail("unsupported .npy format version \(major).\(minor)", at: 6)
            }
            guard b.count >= 8 + lengthBytes else { throw fail("truncated header", at: 8) }
            var length = 0
            for i in 0..<lengthBytes { length |= Int(b[8 + i]) << (8 * i) }
            let start = 8 + lengthBytes
            guard length <= NumpyArray.maxHeaderLength else {
                throw fail("header length \(length) exceeds numpy's limit of \(NumpyArray.maxHeaderLength)", at: 8)
            }
            guard length <= b.count - start else { throw fail("header length \(length) runs past the end of the file", at: 8) }
            let text = UnsafeRawBufferPointer(rebasing: b[start..<start + length])
            // 1.0/2.0 headers are latin-1, 3.0 UTF-8; numpy itself only ever writes ASCII here.
            if let bad = text.firstIndex(where: { $0 >= 0x80 }) { throw fail("header holds a non-ASCII byte", at: start + bad) }
            var lit = PythonLiteral(bytes: text, base: start)
            let dict = try lit.parseHeaderDict()
            guard Set(dict.keys) == ["descr", "fortran_order", "shape"], dict.count == 3 else {
                throw fail("header must hold exactly the keys descr, fortran_order, shape; found \(dict.keys.sorted())")
            }
            guard case .string(let descr)? = dict["descr"] else { throw fail("descr is not a string (structured dtypes are not supported)") }
            guard case .bool(let fortran)? = dict["fortran_order"] else { throw fail("fortran_order is not True or False") }
            guard case .tuple(let shape)? = dict["shape"] else { throw fail("shape is not a tuple of integers") }
            guard let (dtype, bigEndian) = dtypeFor(descr) else {
                throw fail(descr.contains("O") ? "object arrays (pickled Python objects) are refused"
                           : "unsupported dtype '\(descr)' (supported: f4 f2 f8 i8 i4 i2 i1 u1 b1, either byte order)")
            }
            return Header(descr: descr, dtype: dtype, bigEndian: bigEndian, fortranOrder: fortran, shape: shape, dataOffset: start + length)
        }

        static func dtypeFor(_ descr: String) -> (DType, Bool)? {
            guard descr.count == 3, let order = descr.first else { return nil }
            let code = String(descr.dropFirst())
            let table: [String: DType] = ["f4": .f32, "f2": .f16, "f8": .f64, "i8": .i64, "i4": .i32, "i2": .i16,
                                          "i1": .i8, "u1": .u8, "b1": .bool]
            guard let dtype = table[code] else { return nil }
            switch order {
            case "<": return (dtype, false)
            case ">": return (dtype, dtype.size > 1)
            case "|" where dtype.size == 1: return (dtype, false)
            default: return nil
            }
        }
    }
}

/// The Python literal subset in a .npy header: a dict of string keys to strings, True/False and
/// tuples of non-negative ints; then spaces and a final newline.
private struct PythonLiteral {
    enum Value { case string(String), bool(Bool), tuple([Int]) }

    let bytes: UnsafeRawBufferPointer
    let base: Int
    var pos = 0

    init(bytes: UnsafeRawBufferPointer, base: Int) {
        self.bytes = bytes
        self.base = base
    }

    func fail(_ r: String) -> NumpyFormatError { NumpyFormatError(reason: "bad header: \(r)", offset: base + pos) }
    func peek() -> UInt8? { pos < bytes.count ? bytes[pos] : nil }
    mutating func spaces() { while peek() == 0x20 { pos += 1 } }
    mutating func expect(_ c: Character) throws {
        guard peek() == c.asciiValue else { throw fail("expected '\(c)'") }
        pos += 1
    }

    mutating func parseHeaderDict() throws -> [String: Value] {
        spaces()
        try expect("{")
        var out: [String: Value] = [:]
        spaces()
        while peek() != UInt8(ascii: "}") {
            let key = try string()
            guard out[key] == nil else { throw fail("duplicate key '\(key)'") }
            spaces(); try expect(":"); spaces()
            out[key] = try value()
            spaces()
            if peek() == UInt8(ascii: ",") { pos += 1; spaces() } else { break }
        }
        try expect("}")
        spaces()
        // numpy pads with spaces and ends with exactly one newline.
        guard pos == bytes.count - 1, bytes[pos] == 0x0A else { throw fail("expected spaces and a newline after the dict") }
        return out
    }

    mutating func value() throws -> Value {
        switch peek() {
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "T"): try word("True"); return .bool(true)
        case UInt8(ascii: "F"): try word("False"); return .bool(false)
        case UInt8(ascii: "("): return .tuple(try tuple())
        case UInt8(ascii: "["): throw NumpyFormatError(reason: "descr is a list of fields: structured dtypes are not supported", offset: base + pos)
        default: throw fail("unsupported value")
        }
    }

    mutating func word(_ w: String) throws {
        for c in w.utf8 {
            guard peek() == c else { throw fail("expected \(w)") }
            pos += 1
        }
    }

    mutating func string() throws -> String {
        guard let q = peek(), q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") else { throw fail("expected a quoted string") }
        pos += 1
        let start = pos
        while let c = peek(), c != q {
            guard c != UInt8(ascii: "\\"), c >= 0x20 else { throw fail("escapes and control characters are not supported in strings") }
            pos += 1
        }
        guard peek() == q else { throw fail("unterminated string") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        pos += 1
        return s
    }

    mutating func tuple() throws -> [Int] {
        try expect("(")
        var dims: [Int] = []
        spaces()
        while peek() != UInt8(ascii: ")") {
            let start = pos
            while let c = peek(), c >= 0x30 && c <= 0x39 { pos += 1 }
            guard pos > start else { throw fail("shape entries must be non-negative integers") }
            guard pos - start == 1 || bytes[start] != 0x30 else { throw fail("leading zeros in a shape entry") }
            guard let d = Int(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)) else {
                throw fail("shape entry too large")
            }
            dims.append(d)
            guard dims.count <= 64 else { throw fail("more than 64 dimensions") }
            spaces()
            if peek() == UInt8(ascii: ",") { pos += 1; spaces() } else { break }
        }
        try expect(")")
        // Python needs a trailing comma for a 1-tuple; "(3)" is just the int 3.
        if dims.count == 1, !lastNonSpaceBeforeParenIsComma() {
            throw fail("'(n)' is an int, not a tuple; numpy writes '(n,)'")
        }
        return dims
    }

    func lastNonSpaceBeforeParenIsComma() -> Bool {
        var i = pos - 2
        while i >= 0, bytes[i] == 0x20 { i -= 1 }
        return i >= 0 && bytes[i] == UInt8(ascii: ",")
    }
}
