import IRTensor

/// The fixed parts of an .irw file (see docs/FORMAT.md):
///
///     [0, 128)                      preamble (below)
///     [data_offset, +data_length)   tensor bytes, each tensor 64-byte aligned, zero padding between
///     [header_offset, +header_len)  UTF-8 JSON header: tensor table and metadata
///
/// and nothing else: header_offset == data_offset + data_length, file size == header_offset + header_length.
/// The header comes last so the writer streams tensor bytes once and writes the table (with their
/// digests) when it knows them.
public enum IRWLayout {
    /// "IRZW" then CR LF SUB LF, which catches text-mode transfers (the PNG trick).
    public static let magic: [UInt8] = [0x49, 0x52, 0x5A, 0x57, 0x0D, 0x0A, 0x1A, 0x0A]
    public static let majorVersion: UInt16 = 1
    /// 1.1: canonical header (RFC 8785), tensors in name order, no provenance (docs/FORMAT.md).
    public static let minorVersion: UInt16 = 1
    public static let preambleSize = 128
    public static let alignment = 64
    /// Headers are small (about 200 bytes per tensor); this bounds what a hostile file can make us parse.
    public static let maxHeaderLength = 64 << 20
    public static let maxTensorCount = 1 << 20
    public static let maxRank = 64
    public static let maxNameBytes = 4096

    /// Byte offsets of the preamble fields (all little-endian).
    enum Field {
        static let major = 8, minor = 10, flags = 12
        static let dataOffset = 16, dataLength = 24, headerOffset = 32, headerLength = 40, tensorCount = 48
        static let digest = 56, digestSize = 32
        static let reserved = 88
    }

    /// Rounds `n` up to the tensor alignment, or nil on overflow.
    public static func aligned(_ n: Int) -> Int? {
        let (s, o) = n.addingReportingOverflow(alignment - 1)
        return o ? nil : s & ~(alignment - 1)
    }
}

/// The decoded preamble.
public struct IRWPreamble: Sendable, Equatable {
    public var major: UInt16
    public var minor: UInt16
    public var flags: UInt32
    public var dataOffset: UInt64
    public var dataLength: UInt64
    public var headerOffset: UInt64
    public var headerLength: UInt64
    public var tensorCount: UInt64
    public var digest: [UInt8]

    public init(major: UInt16 = IRWLayout.majorVersion, minor: UInt16 = IRWLayout.minorVersion, flags: UInt32 = 0,
                dataOffset: UInt64, dataLength: UInt64, headerOffset: UInt64, headerLength: UInt64,
                tensorCount: UInt64, digest: [UInt8] = [UInt8](repeating: 0, count: 32)) {
        self.major = major
        self.minor = minor
        self.flags = flags
        self.dataOffset = dataOffset
        self.dataLength = dataLength
        self.headerOffset = headerOffset
        self.headerLength = headerLength
        self.tensorCount = tensorCount
        self.digest = digest
    }

    /// The 128 preamble bytes (reserved bytes zero).
    public func encoded() -> [UInt8] {
        var b = IRWLayout.magic + [UInt8](repeating: 0, count: IRWLayout.preambleSize - IRWLayout.magic.count)
        func put<T: FixedWidthInteger>(_ v: T, _ at: Int) {
            withUnsafeBytes(of: v.littleEndian) { for (i, x) in $0.enumerated() { b[at + i] = x } }
        }
        put(major, IRWLayout.Field.major)
        put(minor, IRWLayout.Field.minor)
        put(flags, IRWLayout.Field.flags)
        put(dataOffset, IRWLayout.Field.dataOffset)
        put(dataLength, IRWLayout.Field.dataLength)
        put(headerOffset, IRWLayout.Field.headerOffset)
        put(headerLength, IRWLayout.Field.headerLength)
        put(tensorCount, IRWLayout.Field.tensorCount)
        for (i, x) in digest.prefix(32).enumerated() { b[IRWLayout.Field.digest + i] = x }
        return b
    }

    /// Reads the fields; the caller has checked the magic and that 128 bytes exist.
    static func decode(_ p: UnsafeRawPointer) -> IRWPreamble {
        func get<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T { T(littleEndian: p.loadUnaligned(fromByteOffset: at, as: T.self)) }
        return IRWPreamble(
            major: get(IRWLayout.Field.major, UInt16.self), minor: get(IRWLayout.Field.minor, UInt16.self),
            flags: get(IRWLayout.Field.flags, UInt32.self),
            dataOffset: get(IRWLayout.Field.dataOffset, UInt64.self), dataLength: get(IRWLayout.Field.dataLength, UInt64.self),
            headerOffset: get(IRWLayout.Field.headerOffset, UInt64.self), headerLength: get(IRWLayout.Field.headerLength, UInt64.self),
            tensorCount: get(IRWLayout.Field.tensorCount, UInt64.self),
            digest: Array(UnsafeRawBufferPointer(start: p + IRWLayout.Field.digest, count: 32)))
    }
}

/// The file digest: SHA-256 over every byte before the data section (with the 32 digest bytes
/// read as zeros) followed by the JSON header. The header lists the SHA-256 of every tensor and
/// padding must be zero, so this one value commits to every byte of the file (a two-level hash
/// tree), while verification can hash tensors on all cores at once.
enum IRWDigest {
    static func compute(prefix: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer) -> [UInt8] {
        var h = SHA256Hasher()
        let d = IRWLayout.Field.digest
        h.update(UnsafeRawBufferPointer(rebasing: prefix[0..<d]))
        h.update([UInt8](repeating: 0, count: IRWLayout.Field.digestSize))
        h.update(UnsafeRawBufferPointer(rebasing: prefix[(d + IRWLayout.Field.digestSize)...]))
        h.update(header)
        return hexBytes(h.finalizeHex())
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = hex.utf8.makeIterator()
        func nib(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : c - 0x61 + 10 }
        while let hi = it.next(), let lo = it.next() { out.append(nib(hi) << 4 | nib(lo)) }
        return out
    }
}
