#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import IRCheckpoint
import IRFormat
import IRTensor

/// What the user named: a checkpoint file, or a hub folder / shard index resolved to the files
/// it reads (`HubWeights`). Resolved before anything is read so the digest can start at once.
struct SourceLocation {
    let path: String
    let hub: HubWeights?

    static func locate(_ path: String, variant: String?) throws -> SourceLocation {
        SourceLocation(path: path, hub: try HubWeights.locate(path, variant: variant))
    }
}

/// Any input, opened: a checkpoint through its reader, an .irw through IRFormat, or a hub
/// folder's weights (every shard). Tensors are views into the files' mappings (the readers copy
/// only what they must convert).
struct SourceFile {
    let path: String
    let format: ContainerFormat
    let wrapper: String?
    let tensors: [TensorRecord]
    /// Per tensor: the name it had upstream, when an .irw records one.
    let sourceNames: [String?]
    let ignored: [String]
    let notes: [String]
    let containerMetadata: [String: String]
    /// Set when the input is an .irw file.
    let irw: IRWFile?
    /// CRC checks left to the caller (only when opened with `deferLargeCRC`): run them before
    /// keeping anything made from the tensors.
    var deferred: DeferredChecks = .none
    /// A hub folder's weights and its parsed `config.json`.
    var hub: HubWeights? = nil
    var hubConfig: JSON? = nil

    static func open(_ location: SourceLocation, select: String? = nil, permissive: Bool = false, deferLargeCRC: Bool = false) throws -> SourceFile {
        guard let hub = location.hub else {
            return try open(location.path, select: select, permissive: permissive, deferLargeCRC: deferLargeCRC)
        }
        var config: JSON? = nil
        if let path = hub.configPath {
            let file: ByteBuffer
            do { file = try ByteBuffer.map(path: path) } catch let e as IOFailure { throw CLIError(.unreadableInput, "\(path): \(e.reason)") }
            do { config = try file.whole.withUnsafeBytes { try JSON.parse($0, maxDepth: 64) } } catch {
                throw CLIError(.unreadableInput, "\(path): not valid JSON: \(error)")
            }
            guard config?.objectValue != nil else { throw CLIError(.unreadableInput, "\(path): not a JSON object") }
        }
        let loaded = try hub.read(options: ReadOptions(select: select, permissive: permissive))
        var notes = loaded.notes
        if let choice = hub.choice { notes.insert(choice, at: 0) }
        return SourceFile(path: location.path, format: loaded.format, wrapper: loaded.wrapper, tensors: loaded.tensors,
                          sourceNames: loaded.tensors.map { _ in nil }, ignored: loaded.ignored, notes: notes,
                          containerMetadata: loaded.metadata, irw: nil, hub: hub, hubConfig: config)
    }

    static func open(_ path: String, select: String? = nil, permissive: Bool = false, deferLargeCRC: Bool = false) throws -> SourceFile {
        if try isIRW(path) {
            guard select == nil else { throw CLIError(.usage, "--select does not apply to .irw files (\(path))") }
            let file = try IRWFile.open(path: path)
            return SourceFile(path: path, format: .irw, wrapper: nil, tensors: file.records(),
                              sourceNames: file.tensors.map { $0.sourceName }, ignored: [], notes: [],
                              containerMetadata: [:], irw: file)
        }
        let loaded = try CheckpointReader.read(path: path, options: ReadOptions(select: select, permissive: permissive,
                                                                                deferLargeCRC: deferLargeCRC))
        return SourceFile(path: path, format: loaded.format, wrapper: loaded.wrapper, tensors: loaded.tensors,
                          sourceNames: loaded.tensors.map { _ in nil }, ignored: loaded.ignored, notes: loaded.notes,
                          containerMetadata: loaded.metadata, irw: nil, deferred: loaded.deferred)
    }

    /// True when the file starts with the .irw magic. Unreadable files are the readers' to report.
    static func isIRW(_ path: String) throws -> Bool {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError(.unreadableInput, "\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 4)
        let n = magic.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4) }
        return n == 4 && magic == Array(IRWLayout.magic.prefix(4))
    }

    /// The name recorded as the source: a hub folder's own name, else the path (an index's, a file's).
    var sourceName: String {
        guard let hub, !path.hasSuffix(".json") else { return path }
        return hub.folder
    }

    var parameterCount: Int { tensors.parameterCount }
    var totalBytes: Int { tensors.totalBytes }
}

/// SHA-256 of a whole file, computed on a background thread while the caller converts.
/// It reads through a small reused buffer rather than a mapping: the reader has mapped the
/// file already, and a second mapping would fault every page in (and out) once more.
final class SourceDigest: @unchecked Sendable {
    private let group = DispatchGroup()
    private var result: Result<(sha256: String, size: Int), Error> = .failure(CLIError(.failure, "not started"))
    /// Set by `stop()`; the hashing loop checks it between reads. Guarded by `lock`.
    private var stopped = false
    private let lock = DispatchSemaphore(value: 1)

    convenience init(path: String) {
        self.init(files: [path], listing: false)
    }

    /// A hub folder's digest: SHA-256 of the `sha256sum`-style listing ("HEX  NAME\n", names
    /// relative to the folder, sorted by name) of every file the import reads; the size is their
    /// sum. `sha256sum` run in the folder on those files prints the same listing.
    convenience init(_ location: SourceLocation) {
        self.init(files: location.hub?.files ?? [location.path], listing: location.hub != nil)
    }

    /// `listing`: the digest of the `sha256sum`-style listing of `files` (as a folder's), else of `files[0]`.
    init(files: [String], listing: Bool) {
        DispatchQueue.global().async(group: group) { [self] in
            result = Result {
                guard listing else { return try hash(files[0]) }
                var entries: [(name: String, sha: String)] = []
                var total = 0
                for file in files {
                    let (sha, size) = try hash(file)
                    entries.append((DurableFile.fileName(of: file), sha))
                    total += size
                }
                let text = entries.sorted { $0.name < $1.name }.map { "\($0.sha)  \($0.name)\n" }.joined()
                var h = SHA256Hasher()
                Array(text.utf8).withUnsafeBytes { h.update($0) }
                return (h.finalizeHex(), total)
            }
        }
    }

    func wait() throws -> (sha256: String, size: Int) {
        group.wait()
        return try result.get()
    }

    /// Ends the hashing early and waits for its thread. Every caller runs this on its way out
    /// (`defer`): a process that exits while the thread still hashes can crash in libcrypto's
    /// exit-time cleanup, turning a clean one-line error into a signal 11.
    func stop() {
        lock.wait(); stopped = true; lock.signal()
        group.wait()
    }

    private var isStopped: Bool {
        lock.wait(); defer { lock.signal() }
        return stopped
    }

    private func hash(_ path: String) throws -> (sha256: String, size: Int) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError(.unreadableInput, "\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { buffer.deallocate() }
        var h = SHA256Hasher()
        var total = 0
        while !isStopped {
            let n = read(fd, buffer, size)
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError(.unreadableInput, "\(path): read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return (h.finalizeHex(), total) }
            h.update(UnsafeRawBufferPointer(start: buffer, count: n))
            total += n
        }
        throw CLIError(.failure, "\(path): hashing stopped")
    }
}

/// The `--dtype keep|f32|f16|bf16` choice applied to one tensor, lazily.
extension DTypeConversion {
    func input(_ record: TensorRecord, sourceName: String? = nil) -> IRWTensorInput {
        let target = self.target(for: record.dtype)
        guard target != record.dtype else { return IRWTensorInput(record, sourceName: sourceName) }
        return IRWTensorInput(name: record.name, dtype: target, shape: record.shape, sourceName: sourceName) {
            let n = record.elementCount
            let out = ByteBuffer.make(count: n * target.size) { dst in
                var at = 0
                DTypeConversion.stream(record.data, from: record.dtype, to: target, count: n) { chunk in
                    dst.baseAddress!.advanced(by: at).copyMemory(from: chunk.baseAddress!, byteCount: chunk.count)
                    at += chunk.count
                }
            }
            return out.whole
        }
    }

    /// A line for the metadata notes, or nil when nothing changes.
    func note(for tensors: [TensorRecord]) -> String? {
        let changed = tensors.filter { target(for: $0.dtype) != $0.dtype }.count
        return changed == 0 ? nil : "\(changed) floating tensors converted to \(rawValue) (round to nearest even)"
    }
}
