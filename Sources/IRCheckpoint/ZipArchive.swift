import IRTensor

/// One member of a zip archive, as its central directory describes it (sizes always come from
/// the central directory: torch's writer leaves zeros in local headers, flag 0x0808).
public struct ZipEntry: Sendable {
    public let name: String
    /// 0 = stored, 8 = deflated (nothing else is accepted).
    public let method: UInt16
    public let flags: UInt16
    public let crc32: UInt32
    public let compressedSize: Int
    public let uncompressedSize: Int
    public let localHeaderOffset: Int
    /// Where the member's (compressed) bytes start in the archive.
    public let dataOffset: Int

    public var isStored: Bool { method == 0 }
    public var isDirectory: Bool { name.hasSuffix("/") }
}

public struct ZipLimits: Sendable {
    public var maxEntries = 1 << 20
    /// Largest uncompressed size a deflated member may declare (bombs declare huge sizes or
    /// inflate past a small one; both are refused).
    public var maxInflatedBytes = 1 << 31
    public init() {}
}

/// A zip archive read through its central directory over a mapped file. Stored members are
/// zero-copy `ByteView`s of the mapping; deflated ones are inflated with zlib under a size cap.
/// Every offset and size is checked before use, names that could escape a directory are
/// refused, local headers are cross-checked, and CRC-32s are verified on read.
public final class ZipArchive: @unchecked Sendable {
    public let path: String
    public let buffer: ByteBuffer
    /// Members in central-directory order.
    public let entries: [ZipEntry]
    public let limits: ZipLimits
    private let byName: [String: Int]

    public init(buffer: ByteBuffer, path: String, limits: ZipLimits = ZipLimits()) throws {
        self.path = path
        self.buffer = buffer
        self.limits = limits
        let parsed = try ZipDirectoryParser(buffer: buffer, path: path, limits: limits).parse()
        entries = parsed
        var byName: [String: Int] = [:]
        for (i, e) in parsed.enumerated() { byName[e.name] = i }
        self.byName = byName
    }

    /// Opens a zip file by path (mapped, not read).
    public convenience init(path: String, limits: ZipLimits = ZipLimits()) throws {
        let buf: ByteBuffer
        do { buf = try ByteBuffer.map(path: path) } catch let e as IOFailure {
            throw CheckpointError(file: path, reason: e.reason)
        }
        try self.init(buffer: buf, path: path, limits: limits)
    }

    public func entry(named name: String) -> ZipEntry? {
        byName[name].map { entries[$0] }
    }

    /// The member's bytes: a view of the mapping when stored, a fresh buffer when deflated.
    /// The CRC-32 is checked unless `verifyCRC` is false.
    public func data(of entry: ZipEntry, verifyCRC: Bool = true) throws -> ByteView {
        // In range for this archive's entries (checked at parse time); an entry of another archive may not be.
        guard let raw = buffer.whole.slice(offset: entry.dataOffset, count: entry.compressedSize) else {
            throw CheckpointError(file: path, entry: PickleRender.printable(entry.name), reason: "entry does not belong to this archive")
        }
        let bytes: ByteView
        if entry.isStored {
            bytes = raw
        } else {
            bytes = try ZipInflate.inflate(raw, size: entry.uncompressedSize, file: path, entry: entry.name).whole
        }
        if verifyCRC {
            // Large stored members leave the resident set as they are checked (they are read
            // again, from the page cache, by whoever uses them).
            let crc = ZipCRC.checksum(bytes, releasingPages: entry.isStored && entry.compressedSize >= ZipCRC.block)
            guard crc == entry.crc32 else {
                throw CheckpointError(file: path, entry: PickleRender.printable(entry.name),
                                      reason: "CRC-32 mismatch: the archive says \(hex32(entry.crc32)), the bytes give \(hex32(crc)) (corrupt or tampered)")
            }
        }
        return bytes
    }

    /// The bytes of the member called `name`; an error naming it when it is missing.
    public func data(named name: String, verifyCRC: Bool = true) throws -> ByteView {
        guard let e = entry(named: name) else {
            throw CheckpointError(file: path, entry: name, reason: "missing from the archive")
        }
        return try data(of: e, verifyCRC: verifyCRC)
    }
}

func hex32(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - s.count) + s
}
