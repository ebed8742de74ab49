#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import IRTensor

/// A tensor to write. Its bytes are produced only when the writer reaches it and dropped right
/// after, so peak memory is the largest produced tensor (views into a mapping cost nothing).
public struct IRWTensorInput {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    /// The key the tensor had in the source checkpoint, when mapping renamed it.
    public var sourceName: String?
    public var bytes: () throws -> ByteView

    public init(name: String, dtype: DType, shape: [Int], sourceName: String? = nil, bytes: @escaping () throws -> ByteView) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.sourceName = sourceName
        self.bytes = bytes
    }

    public init(_ record: TensorRecord, sourceName: String? = nil) {
        self.init(name: record.name, dtype: record.dtype, shape: record.shape, sourceName: sourceName) { record.data }
    }
}

public struct IRWWriteResult: Sendable {
    public let path: String
    /// The file digest (lowercase hex).
    public let digest: String
    public let fileSize: Int
    public let header: IRWHeader
}

/// Writes .irw files (format 1.1: content only, canonical header; the metadata's provenance is
/// the caller's to keep, e.g. in the store's record): streamed tensor by tensor into a temp file beside the target (each
/// tensor hashed while it is written), then the header, then the preamble with the digest;
/// fsync, rename, fsync the directory. On any error the temp file is removed and the target
/// is untouched.
public enum IRWWriter {
    /// `metadata` is called once all tensor bytes are written, so the caller can finish slow
    /// work (hashing the source file) on another thread meanwhile.
    /// `progress(done, total)` reports tensor bytes written, on the calling thread.
    @discardableResult
    public static func write(_ unordered: [IRWTensorInput], metadata: () throws -> IRWMetadata, to path: String,
                             progress: ((Int, Int) -> Void)? = nil) throws -> IRWWriteResult {
        DurableFile.ignoreFileSizeSignal()
        // Name order (by UTF-8 bytes), not the source's: the same tensors lay out the same way
        // whichever container or key order they came from.
        let inputs = unordered.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        let layout = try plan(inputs, path: path)
        let total = layout.last.map { $0.offset + $0.length } ?? 0

        let (fd, tmp) = try DurableFile.createTemp(in: DurableFile.directory(of: path), prefix: "." + DurableFile.fileName(of: path))
        var closed = false
        do {
            let pre0 = [UInt8](repeating: 0, count: IRWLayout.preambleSize)
            try DurableFile.writeAll(fd, pre0, path: tmp)
            var entries: [IRWTensorEntry] = []
            entries.reserveCapacity(inputs.count)
            var end = 0
            for (i, input) in inputs.enumerated() {
                var entry = layout[i]
                try DurableFile.writeZeros(fd, count: entry.offset - end, path: tmp)
                let view = try input.bytes()
                guard view.count == entry.length else {
                    throw IRWError(.invalidInput, path: path, entry: "tensor '\(entry.name)'",
                                   reason: "produced \(view.count) bytes, shape \(entry.shape) of \(entry.dtype.rawValue) needs \(entry.length)")
                }
                entry.sha256 = try writeHashing(view, fd: fd, path: tmp) { n in progress?(entry.offset + n, total) }
                // Done with these source pages: keep peak RSS near one tensor, not the whole source.
                view.buffer.releaseResidentPages(offset: view.offset, count: view.count)
                entries.append(entry)
                end = entry.offset + entry.length
            }
            let header = IRWHeader(metadata: try metadata(), tensors: entries)
            let headerBytes = header.json.canonicalBytes()
            guard headerBytes.count <= IRWLayout.maxHeaderLength else {
                throw IRWError(.invalidInput, path: path, entry: "header", reason: "\(headerBytes.count) bytes is more than the \(IRWLayout.maxHeaderLength)-byte limit")
            }
            try DurableFile.writeAll(fd, headerBytes, path: tmp)

            var pre = IRWPreamble(dataOffset: UInt64(IRWLayout.preambleSize), dataLength: UInt64(end),
                                  headerOffset: UInt64(IRWLayout.preambleSize + end), headerLength: UInt64(headerBytes.count),
                                  tensorCount: UInt64(entries.count))
            let digest = pre.encoded().withUnsafeBytes { p in headerBytes.withUnsafeBytes { h in IRWDigest.compute(prefix: p, header: h) } }
            pre.digest = digest
            try DurableFile.pwriteAll(fd, pre.encoded(), at: 0, path: tmp)
            try DurableFile.fsyncFile(fd, path: tmp)
            close(fd)
            closed = true
            try DurableFile.rename(tmp, to: path)
            return IRWWriteResult(path: path, digest: SHA256Hasher.hex(digest),
                                  fileSize: IRWLayout.preambleSize + end + headerBytes.count, header: header)
        } catch {
            if !closed { close(fd) }
            unlink(tmp)
            throw error
        }
    }

    /// Convenience for tensors already in memory or mapped.
    @discardableResult
    public static func write(_ records: [TensorRecord], metadata: IRWMetadata, to path: String) throws -> IRWWriteResult {
        try write(records.map { IRWTensorInput($0) }, metadata: { metadata }, to: path)
    }

    /// Checks names and sizes and lays tensors out before a byte is written.
    static func plan(_ inputs: [IRWTensorInput], path: String) throws -> [IRWTensorEntry] {
        guard inputs.count <= IRWLayout.maxTensorCount else {
            throw IRWError(.invalidInput, path: path, reason: "\(inputs.count) tensors is more than the limit of \(IRWLayout.maxTensorCount)")
        }
        var names = Set<String>(minimumCapacity: inputs.count)
        var out: [IRWTensorEntry] = []
        out.reserveCapacity(inputs.count)
        var end = 0
        for input in inputs {
            let entry = "tensor '\(input.name)'"
            guard !input.name.isEmpty, input.name.utf8.count <= IRWLayout.maxNameBytes else {
                throw IRWError(.invalidInput, path: path, entry: entry, reason: "names must be 1 to \(IRWLayout.maxNameBytes) bytes")
            }
            guard names.insert(input.name).inserted else {
                throw IRWError(.invalidInput, path: path, entry: entry, reason: "duplicate tensor name")
            }
            guard input.shape.count <= IRWLayout.maxRank, let length = ShapeMath.byteCount(input.shape, input.dtype) else {
                throw IRWError(.invalidInput, path: path, entry: entry, reason: "shape \(input.shape) overflows or has too many dimensions")
            }
            guard let offset = IRWLayout.aligned(end) else {
                throw IRWError(.invalidInput, path: path, entry: entry, reason: "offsets overflow")
            }
            let (e, o) = offset.addingReportingOverflow(length)
            guard !o else { throw IRWError(.invalidInput, path: path, entry: entry, reason: "offsets overflow") }
            out.append(IRWTensorEntry(name: input.name, dtype: input.dtype, shape: input.shape, offset: offset, length: length,
                                      sha256: "", sourceName: input.sourceName))
            end = e
        }
        return out
    }

    /// Writes `view` while hashing it on a second thread (the two passes overlap on two cores),
    /// in chunks: each chunk's source pages are released once both passes are past it, so a
    /// mapped source costs a few chunks of memory, not a whole tensor.
    private static func writeHashing(_ view: ByteView, fd: Int32, path: String, progress: (Int) -> Void) throws -> String {
        let chunk = 16 << 20
        if view.count < 4 << 20 {
            try DurableFile.writeAll(fd, view.pointer, view.count, path: path)
            progress(view.count)
            return SHA256Hasher.hex(of: view)
        }
        final class Hashing: @unchecked Sendable { var hasher: SHA256Hasher? = SHA256Hasher() }
        let hashing = Hashing()
        let group = DispatchGroup()
        var done = 0
        while done < view.count {
            let n = min(chunk, view.count - done)
            let at = done
            view.buffer.prefetchResidentPages(offset: view.offset + at, count: n)
            DispatchQueue.global().async(group: group) {
                hashing.hasher!.update(UnsafeRawBufferPointer(start: view.pointer + at, count: n))
            }
            var failure: Error?
            do { try DurableFile.writeAll(fd, view.pointer + done, n, path: path) } catch { failure = error }
            group.wait()
            if let failure { throw failure }
            view.buffer.releaseResidentPages(offset: view.offset + done, count: n)
            done += n
            progress(done)
        }
        return hashing.hasher.take()!.finalizeHex()
    }
}
