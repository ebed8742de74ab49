import IRTensor

/// Parses and validates a zip's end record(s), central directory and local headers.
struct ZipDirectoryParser {
    let buffer: ByteBuffer
    let path: String
    let limits: ZipLimits

    private static let eocdSignature: UInt32 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let zip64EndSignature: UInt32 = 0x0606_4B50
    private static let centralSignature: UInt32 = 0x0201_4B50
    private static let localSignature: UInt32 = 0x0403_4B50

    private func fail(_ reason: String, entry: String? = nil, offset: Int? = nil) -> CheckpointError {
        CheckpointError(file: path, entry: entry, reason: reason, offset: offset)
    }

    // Bounds-checked little-endian reads.
    private func u16(_ o: Int) throws -> Int {
        guard o >= 0, o <= buffer.count - 2 else { throw fail("zip structure runs past the end of the file (truncated?)", offset: o) }
        return Int(UInt16(littleEndian: buffer.base.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
    }
    private func u32(_ o: Int) throws -> Int {
        guard o >= 0, o <= buffer.count - 4 else { throw fail("zip structure runs past the end of the file (truncated?)", offset: o) }
        return Int(UInt32(littleEndian: buffer.base.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
    }
    private func u64(_ o: Int) throws -> Int {
        guard o >= 0, o <= buffer.count - 8 else { throw fail("zip structure runs past the end of the file (truncated?)", offset: o) }
        let v = UInt64(littleEndian: buffer.base.loadUnaligned(fromByteOffset: o, as: UInt64.self))
        guard v <= UInt64(Int.max) else { throw fail("ZIP64 value \(v) is out of range", offset: o) }
        return Int(v)
    }
    private func bytes(_ o: Int, _ n: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: buffer.base + o, count: n)
    }

    func parse() throws -> [ZipEntry] {
        let size = buffer.count
        guard size >= 22 else { throw fail("too short to be a zip archive (truncated?)") }
        // The end record sits in the last 22 + 65535 bytes; take the last one whose comment
        // ends exactly at the end of the file.
        var eocd = -1
        var o = size - 22
        let lowest = max(0, size - 22 - 0xFFFF)
        while o >= lowest {
            if try u32(o) == Self.eocdSignature, try o + 22 + u16(o + 20) == size { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record (truncated or not a zip archive)") }

        var diskNumber = try u16(eocd + 4), cdDisk = try u16(eocd + 6)
        var entriesOnDisk = try u16(eocd + 8), entryCount = try u16(eocd + 10)
        var cdSize = try u32(eocd + 12), cdOffset = try u32(eocd + 16)
        var structuresStart = eocd  // the central directory must end before this

        if eocd >= 20, try u32(eocd - 20) == Self.zip64LocatorSignature {
            let z64 = try u64(eocd - 20 + 8)
            guard try u32(eocd - 20 + 16) <= 1 else { throw fail("multi-disk archives are not supported") }
            guard z64 <= eocd - 20 - 56, try u32(z64) == Self.zip64EndSignature else {
                throw fail("ZIP64 end record missing or misplaced", offset: z64)
            }
            diskNumber = try u32(z64 + 16)
            cdDisk = try u32(z64 + 20)
            entriesOnDisk = try u64(z64 + 24)
            entryCount = try u64(z64 + 32)
            cdSize = try u64(z64 + 40)
            cdOffset = try u64(z64 + 48)
            structuresStart = z64
        } else if entryCount == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            throw fail("ZIP64 sizes announced but no ZIP64 end record")
        }
        guard diskNumber == 0, cdDisk == 0, entriesOnDisk == entryCount else {
            throw fail("multi-disk archives are not supported")
        }
        guard cdOffset <= structuresStart, cdSize <= structuresStart - cdOffset else {
            throw fail("central directory (offset \(cdOffset), \(cdSize) bytes) lies outside the file (truncated?)")
        }
        guard entryCount <= limits.maxEntries else { throw fail("\(entryCount) entries exceed the limit of \(limits.maxEntries)") }
        guard entryCount <= cdSize / 46 else { throw fail("central directory too small for \(entryCount) entries") }

        var entries: [ZipEntry] = []
        entries.reserveCapacity(entryCount)
        var seen = Set<String>()
        var p = cdOffset
        let cdEnd = cdOffset + cdSize
        for _ in 0 ..< entryCount {
            let e = try centralEntry(at: &p, cdEnd: cdEnd, cdOffset: cdOffset)
            guard seen.insert(e.name).inserted else { throw fail("duplicate entry name", entry: e.name) }
            entries.append(e)
        }
        try checkNoOverlap(entries)
        return entries
    }

    private func centralEntry(at p: inout Int, cdEnd: Int, cdOffset: Int) throws -> ZipEntry {
        guard p <= cdEnd - 46, try u32(p) == Self.centralSignature else {
            throw fail("central directory record is damaged", offset: p)
        }
        let flags = try u16(p + 8), method = try u16(p + 10)
        let crc = UInt32(try u32(p + 16))
        var csize = try u32(p + 20), usize = try u32(p + 24)
        let nameLen = try u16(p + 28), extraLen = try u16(p + 30), commentLen = try u16(p + 32)
        var diskStart = try u16(p + 34)
        var lho = try u32(p + 42)
        let recordEnd = p + 46 + nameLen + extraLen + commentLen
        guard recordEnd <= cdEnd else { throw fail("central directory record runs past the directory", offset: p) }
        let nameBytes = Array(bytes(p + 46, nameLen))
        guard let name = String(validating: nameBytes, as: UTF8.self) else {
            throw fail("entry name is not valid UTF-8", offset: p)
        }
        let shown = PickleRender.printable(name)
        if let why = Self.unsafeNameReason(name) {
            throw fail("refusing unsafe entry name (\(why))", entry: shown)
        }

        // ZIP64 extra field: 8-byte values for each 32-bit field holding 0xFFFFFFFF, in order.
        var q = p + 46 + nameLen
        let extraEnd = q + extraLen
        var sawZip64 = false
        while q + 4 <= extraEnd {
            let id = try u16(q), len = try u16(q + 2)
            guard q + 4 + len <= extraEnd else { throw fail("extra field runs past its record", entry: shown) }
            if id == 0x0001 {
                sawZip64 = true
                var r = q + 4
                func next(_ width: Int) throws -> Int {
                    guard r + width <= q + 4 + len else { throw fail("ZIP64 extra field too short", entry: shown) }
                    defer { r += width }
                    return width == 8 ? try u64(r) : try u32(r)
                }
                if usize == 0xFFFF_FFFF { usize = try next(8) }
                if csize == 0xFFFF_FFFF { csize = try next(8) }
                if lho == 0xFFFF_FFFF { lho = try next(8) }
                if diskStart == 0xFFFF { diskStart = try next(4) }
            }
            q += 4 + len
        }
        if !sawZip64 && (usize == 0xFFFF_FFFF || csize == 0xFFFF_FFFF || lho == 0xFFFF_FFFF) {
            throw fail("ZIP64 sizes announced but no ZIP64 extra field", entry: shown)
        }
        guard diskStart == 0 else { throw fail("multi-disk archives are not supported", entry: shown) }
        guard flags & 0x0041 == 0 else { throw fail("encrypted entries are not supported", entry: shown) }
        guard method == 0 || method == 8 else { throw fail("compression method \(method) is not supported (only stored and deflate)", entry: shown) }
        if method == 0 && csize != usize {
            throw fail("stored entry has compressed size \(csize) but uncompressed size \(usize)", entry: shown)
        }
        if method == 8 && usize > limits.maxInflatedBytes {
            throw fail("deflated entry declares \(usize) bytes, over the \(limits.maxInflatedBytes)-byte limit (zip bomb?)", entry: shown)
        }

        // The local header must agree with the central directory (scanners and loaders that
        // read different headers have been fooled by mismatches: CVE-2025-1944/1945).
        guard lho <= cdOffset - 30, try u32(lho) == Self.localSignature else {
            throw fail("local header missing or misplaced", entry: shown, offset: lho)
        }
        let lflags = try u16(lho + 6), lmethod = try u16(lho + 8)
        let lcrc = try u32(lho + 14), lcsize = try u32(lho + 18), lusize = try u32(lho + 22)
        let lnameLen = try u16(lho + 26), lextraLen = try u16(lho + 28)
        guard lnameLen == nameLen, lho + 30 + lnameLen <= cdOffset,
              bytes(lho + 30, lnameLen).elementsEqual(nameBytes) else {
            let localName = lho + 30 + lnameLen <= cdOffset ? String(decoding: bytes(lho + 30, lnameLen), as: UTF8.self) : "?"
            throw fail("local header names '\(PickleRender.printable(localName))', the central directory '\(shown)'", entry: shown)
        }
        guard lmethod == method else { throw fail("local header says compression method \(lmethod), the central directory \(method)", entry: shown) }
        guard lflags & 0x0041 == 0 else { throw fail("encrypted entries are not supported", entry: shown) }
        // Without a data descriptor (flag bit 3) the local CRC and sizes must match; with one
        // they may be zero (torch writes zeros).
        let descriptor = lflags & 0x0008 != 0
        func agrees(_ local: Int, _ central: Int, zip64Sentinel: Bool) -> Bool {
            local == central || (descriptor && local == 0) || (zip64Sentinel && local == 0xFFFF_FFFF)
        }
        guard agrees(lcrc, Int(crc), zip64Sentinel: false) else { throw fail("local header CRC-32 differs from the central directory", entry: shown) }
        guard agrees(lcsize, csize, zip64Sentinel: true), agrees(lusize, usize, zip64Sentinel: true) else {
            throw fail("local header sizes differ from the central directory", entry: shown)
        }
        let dataOffset = lho + 30 + lnameLen + lextraLen
        guard dataOffset <= cdOffset, csize <= cdOffset - dataOffset else {
            throw fail("entry data (\(csize) bytes at \(dataOffset)) runs into the central directory or past the end (truncated?)", entry: shown)
        }
        p = recordEnd
        return ZipEntry(name: name, method: UInt16(method), flags: UInt16(flags), crc32: crc,
                        compressedSize: csize, uncompressedSize: usize, localHeaderOffset: lho, dataOffset: dataOffset)
    }

    /// Overlapping members are how "non-recursive" zip bombs multiply their output; refuse them.
    private func checkNoOverlap(_ entries: [ZipEntry]) throws {
        let sorted = entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.dataOffset + a.compressedSize > b.localHeaderOffset {
            throw fail("entry overlaps '\(PickleRender.printable(b.name))'", entry: PickleRender.printable(a.name))
        }
    }

    /// Why a member name could escape an extraction directory, or nil when it is safe.
    static func unsafeNameReason(_ name: String) -> String? {
        if name.isEmpty { return "empty name" }
        if name.utf8.contains(0) { return "NUL byte in name" }
        let u = Array(name.utf8)
        if u[0] == UInt8(ascii: "/") || u[0] == UInt8(ascii: "\\") { return "absolute path" }
        if u.count >= 2, u[1] == UInt8(ascii: ":"), (u[0] | 0x20) >= UInt8(ascii: "a"), (u[0] | 0x20) <= UInt8(ascii: "z") {
            return "drive-letter path"
        }
        let parts = name.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "/" || $0 == "\\" })
        if parts.contains(where: { $0 == ".." }) { return "'..' path component" }
        return nil
    }
}
