import IRTensor

/// Reads opcode arguments from the pickle bytes. Every length is checked against the bytes that
/// remain (and the current protocol-4 frame) before anything is allocated or copied.
struct PickleCursor {
    let buf: UnsafeRawBufferPointer
    let view: ByteView
    var pos: Int
    let maxString: Int
    /// End of the current FRAME, while inside one.
    private var frameEnd: Int?
    /// Offset of the opcode being executed.
    private(set) var opcodePos = 0

    init(buf: UnsafeRawBufferPointer, view: ByteView, pos: Int, maxString: Int) {
        self.buf = buf
        self.view = view
        self.pos = pos
        self.maxString = maxString
    }

    mutating func enterOpcode() throws {
        if let fe = frameEnd, pos >= fe { frameEnd = nil }
        opcodePos = pos
        guard pos < buf.count else { throw PickleError("pickle ends without STOP (truncated)", offset: pos) }
    }

    /// Claims `n` bytes and returns where they start.
    private mutating func claim(_ n: Int) throws -> Int {
        guard n >= 0 else { throw PickleError("negative length \(n)") }
        guard pos <= buf.count, n <= buf.count - pos else {
            throw PickleError("pickle truncated: needs \(n) bytes, \(max(0, buf.count - pos)) left")
        }
        // Python refuses an opcode whose data straddles the end of its frame; so do we, so that
        // a scanner and this reader can never see different opcode streams.
        if let fe = frameEnd, pos < fe, n > fe - pos {
            throw PickleError("opcode data crosses the end of its frame")
        }
        let start = pos
        pos += n
        return start
    }

    mutating func beginFrame(_ n: UInt64) throws {
        if let fe = frameEnd, pos < fe { throw PickleError("FRAME inside an unfinished frame") }
        guard n <= UInt64(buf.count - pos) else {
            throw PickleError("FRAME of \(n) bytes but only \(buf.count - pos) remain")
        }
        frameEnd = pos + Int(n)
    }

    mutating func byte() throws -> UInt8 {
        let s = try claim(1)
        return buf[s]
    }

    mutating func uint16() throws -> UInt16 {
        let s = try claim(2)
        return UInt16(buf[s]) | UInt16(buf[s + 1]) << 8
    }

    mutating func uint32() throws -> UInt32 {
        let s = try claim(4)
        return UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: s, as: UInt32.self))
    }

    mutating func uint64() throws -> UInt64 {
        let s = try claim(8)
        return UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: s, as: UInt64.self))
    }

    mutating func uint64BigEndian() throws -> UInt64 {
        let s = try claim(8)
        return UInt64(bigEndian: buf.loadUnaligned(fromByteOffset: s, as: UInt64.self))
    }

    /// An 8-byte length, checked against the remaining bytes before it becomes an Int.
    mutating func length64() throws -> Int {
        let n = try uint64()
        guard n <= UInt64(buf.count - pos) else {
            throw PickleError("declares \(n) bytes but only \(buf.count - pos) remain")
        }
        return Int(n)
    }

    mutating func bytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        let s = try claim(n)
        return UnsafeRawBufferPointer(rebasing: buf[s ..< s + n])
    }

    /// A zero-copy window onto the pickle's bytes.
    mutating func view(_ n: Int) throws -> ByteView {
        let s = try claim(n)
        guard n <= maxString else { throw PickleError("bytes value of \(n) bytes exceeds the \(maxString)-byte limit") }
        return view.slice(offset: s, count: n)!
    }

    mutating func utf8(_ n: Int) throws -> String {
        let b = try bytes(n)
        guard n <= maxString else { throw PickleError("string of \(n) bytes exceeds the \(maxString)-byte limit") }
        guard let s = String(validating: b, as: UTF8.self) else { throw PickleError("string is not valid UTF-8") }
        return s
    }

    /// A text-protocol argument: bytes up to (not including) the next newline.
    mutating func line() throws -> [UInt8] {
        let limit = min(buf.count - pos, maxString)
        var i = 0
        while i < limit, buf[pos + i] != 0x0A { i += 1 }
        guard i < limit else {
            throw PickleError(limit == buf.count - pos ? "pickle truncated inside a text argument" : "text argument longer than \(maxString) bytes")
        }
        let s = try claim(i + 1)
        return Array(UnsafeRawBufferPointer(rebasing: buf[s ..< s + i]))
    }

    mutating func utf8Line() throws -> String {
        let l = try line()
        guard let s = String(validating: l, as: UTF8.self) else { throw PickleError("name is not valid UTF-8") }
        return s
    }
}
