#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IRTensor

/// An opened .irw file: the whole file mapped read-only, its preamble and header validated.
/// Opening reads only the preamble and the header (its digest included), so it takes the same
/// time for 1 MB and 100 GB; tensor bytes are zero-copy views into the mapping and are hashed
/// only when asked (`checkedRecord`, `verify`).
public final class IRWFile: @unchecked Sendable {
    public let path: String
    public let buffer: ByteBuffer
    public let preamble: IRWPreamble
    public let header: IRWHeader
    /// The file digest (lowercase hex), which commits to every byte; the store names blobs by it.
    public let digest: String
    private let nameIndex: [String: Int]

    public static func open(path: String) throws -> IRWFile {
        let buffer: ByteBuffer
        do { buffer = try ByteBuffer.map(path: path) } catch let e as IOFailure {
            throw IRWError(.unreadable, path: path, reason: e.reason)
        }
        return try IRWFile(buffer: buffer, path: path)
    }

    /// Validates `buffer` as a complete .irw file. Never traps on hostile input.
    public init(buffer: ByteBuffer, path: String) throws {
        self.path = path
        self.buffer = buffer
        let size = buffer.count
        let magic = IRWLayout.magic
        func fail(_ kind: IRWError.Kind, _ entry: String, _ reason: String) -> IRWError { IRWError(kind, path: path, entry: entry, reason: reason) }

        guard size >= 4, (0..<min(size, magic.count)).allSatisfy({ buffer.base.load(fromByteOffset: $0, as: UInt8.self) == magic[$0] }) else {
            throw IRWError(.notIRW, path: path, reason: "not an .irw file (its first bytes are not the IRZW magic)")
        }
        guard size >= IRWLayout.preambleSize else {
            throw fail(.truncated, "preamble", "the file is \(size) bytes, shorter than the \(IRWLayout.preambleSize)-byte preamble (truncated)")
        }
        let pre = IRWPreamble.decode(buffer.base)
        guard pre.major == IRWLayout.majorVersion else {
            throw fail(.unsupported, "preamble", "format version \(pre.major).\(pre.minor) is not readable by irzoo \(IRWLayout.version), which reads \(IRWLayout.majorVersion).x (see docs/FORMAT.md, \"Versions\")")
        }
        guard pre.dataOffset >= UInt64(IRWLayout.preambleSize), pre.dataOffset % UInt64(IRWLayout.alignment) == 0,
              pre.dataOffset <= UInt64(size) else {
            throw fail(.malformed, "preamble", "data offset \(pre.dataOffset) must be a multiple of \(IRWLayout.alignment), at least \(IRWLayout.preambleSize) and inside the file")
        }
        let (dataEnd, o1) = pre.dataOffset.addingReportingOverflow(pre.dataLength)
        guard !o1, pre.headerOffset == dataEnd else {
            throw fail(.malformed, "preamble", "the header offset \(pre.headerOffset) does not follow the data section (\(pre.dataOffset) + \(pre.dataLength) bytes)")
        }
        guard pre.headerLength >= 2, pre.headerLength <= UInt64(IRWLayout.maxHeaderLength) else {
            throw fail(.malformed, "preamble", "header length \(pre.headerLength) is outside 2...\(IRWLayout.maxHeaderLength) bytes")
        }
        let (fileEnd, o2) = pre.headerOffset.addingReportingOverflow(pre.headerLength)
        guard !o2, fileEnd <= UInt64(size) else {
            throw fail(.truncated, "preamble", "the file is \(size) bytes but its preamble describes \(o2 ? "more than 2^64" : String(fileEnd)) (truncated)")
        }
        guard fileEnd == UInt64(size) else {
            throw fail(.malformed, "preamble", "\(UInt64(size) - fileEnd) bytes follow the header; nothing may")
        }
        guard pre.tensorCount <= UInt64(IRWLayout.maxTensorCount) else {
            throw fail(.malformed, "preamble", "tensor count \(pre.tensorCount) exceeds the limit of \(IRWLayout.maxTensorCount)")
        }
        let dataOffset = Int(pre.dataOffset), dataLength = Int(pre.dataLength)
        let headerBytes = UnsafeRawBufferPointer(start: buffer.base + Int(pre.headerOffset), count: Int(pre.headerLength))
        let prefix = UnsafeRawBufferPointer(start: buffer.base, count: dataOffset)
        let computed = IRWDigest.compute(prefix: prefix, header: headerBytes)
        guard computed == pre.digest else {
            throw fail(.damaged, "header", "digest mismatch: the preamble or the header is damaged (recorded \(SHA256Hasher.hex(pre.digest)), computed \(SHA256Hasher.hex(computed)))")
        }
        let header = try IRWHeader.decode(headerBytes, dataLength: dataLength, path: path, minor: pre.minor)
        guard header.tensors.count == Int(pre.tensorCount) else {
            throw fail(.malformed, "preamble", "tensor count \(pre.tensorCount) disagrees with the header's \(header.tensors.count) tensors")
        }
        self.preamble = pre
        self.header = header
        self.digest = SHA256Hasher.hex(computed)
        var index = [String: Int](minimumCapacity: header.tensors.count)
        for (i, t) in header.tensors.enumerated() { index[t.name] = i }
        self.nameIndex = index
    }

    public var tensors: [IRWTensorEntry] { header.tensors }
    public var metadata: IRWMetadata { header.metadata }
    public var dataOffset: Int { Int(preamble.dataOffset) }
    public var dataLength: Int { Int(preamble.dataLength) }
    public var version: String { "\(preamble.major).\(preamble.minor)" }

    public func index(of name: String) -> Int? { nameIndex[name] }

    /// The tensor's bytes, zero-copy and unverified.
    public func view(_ i: Int) -> ByteView {
        let t = header.tensors[i]
        return ByteView(buffer: buffer, offset: dataOffset + t.offset, count: t.length)
    }

    /// Tensor `i` as a record over the mapping, unverified.
    public func record(_ i: Int) -> TensorRecord {
        let t = header.tensors[i]
        // The header decoder checked length == shape × dtype, so this cannot fail.
        return try! TensorRecord(name: t.name, dtype: t.dtype, shape: t.shape, data: view(i))
    }

    /// All tensors as records in file order, unverified.
    public func records() -> [TensorRecord] { (0..<header.tensors.count).map(record) }

    /// True when tensor `i`'s bytes match its recorded SHA-256.
    public func tensorIsIntact(_ i: Int) -> Bool {
        SHA256Hasher.hex(of: view(i)) == header.tensors[i].sha256
    }

    /// The named tensor after checking its SHA-256: verification on demand, for one tensor.
    public func checkedRecord(named name: String) throws -> TensorRecord {
        guard let i = nameIndex[name] else {
            throw IRWError(.invalidInput, path: path, entry: "tensor '\(name)'", reason: "no such tensor")
        }
        guard tensorIsIntact(i) else {
            throw IRWError(.damaged, path: path, entry: "tensor '\(name)'", reason: "bytes do not match the recorded SHA-256 (the file is damaged)")
        }
        return record(i)
    }
}
