#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IRTensor

/// An IOFailure carrying the current errno's text.
func systemFailure(_ path: String, _ what: String) -> IOFailure {
    IOFailure(path: path, reason: "\(what): \(String(cString: strerror(Glibc.errno)))")
}

/// copy_file_range(2), looked up at run time: Swift's Glibc module does not export it (glibc
/// declares it only under _GNU_SOURCE). nil where the C library lacks it.
private typealias CopyFileRange = @convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int
private let copyFileRange: CopyFileRange? = {
    guard let symbol = dlsym(nil, "copy_file_range") else { return nil }  // nil is RTLD_DEFAULT
    return unsafeBitCast(symbol, to: CopyFileRange.self)
}()

/// Writes a file so that readers see either nothing or the whole thing: bytes go to a temp file in
/// the destination's directory (same filesystem, so the final rename is atomic), then fsync, rename,
/// fsync of the directory. Unless `commit()` succeeds the temp file is removed, so an error never
/// leaves a partial output behind.
public final class AtomicFileWriter {
    public let destination: String
    public private(set) var temporaryPath: String
    private var fd: Int32
    private var committed = false
    private var removed = false
    private var buffer: UnsafeMutableRawPointer
    private var buffered = 0
    private static let bufferCapacity = 1 << 20
    /// Bytes handed to `write` so far.
    public private(set) var bytesWritten = 0

    /// Without this a write past `ulimit -f` kills the process (SIGXFSZ) instead of failing with EFBIG.
    private static let ignoreFileSizeSignal: Void = { _ = signal(SIGXFSZ, SIG_IGN) }()

    /// fsync before the rename (default). Without it the rename is still atomic for running
    /// programs, but after a power failure the file may be empty or partial.
    private let durable: Bool

    public init(destination: String, durable: Bool = true) throws {
        _ = AtomicFileWriter.ignoreFileSizeSignal
        self.destination = destination
        self.durable = durable
        let slash = destination.lastIndex(of: "/")
        let dir = slash.map { String(destination[..<$0]) } ?? "."
        let base = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        guard !base.isEmpty else { throw IOFailure(path: destination, reason: "output path names a directory") }
        var opened: Int32 = -1
        var path = ""
        for _ in 0..<16 {
            let tag = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            path = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp-\(getpid())-\(tag)"
            // 0666 so the finished file gets the user's umask like any newly created file.
            opened = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if opened >= 0 || Glibc.errno != EEXIST { break }
        }
        guard opened >= 0 else { throw systemFailure(destination, "cannot create a temporary file beside it") }
        fd = opened
        temporaryPath = path
        buffer = UnsafeMutableRawPointer.allocate(byteCount: AtomicFileWriter.bufferCapacity, alignment: 64)
    }

    deinit {
        if !committed { abandon() }
        buffer.deallocate()
    }

    /// Appends bytes. Small writes are coalesced; large ones go straight to the file.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0, let base = bytes.baseAddress else { return }
        if buffered + bytes.count <= AtomicFileWriter.bufferCapacity {
            (buffer + buffered).copyMemory(from: base, byteCount: bytes.count)
            buffered += bytes.count
        } else {
            try flush()
            if bytes.count >= AtomicFileWriter.bufferCapacity {
                try writeAll(base, bytes.count)
            } else {
                buffer.copyMemory(from: base, byteCount: bytes.count)
                buffered = bytes.count
            }
        }
        bytesWritten += bytes.count
    }

    /// Appends `count` bytes of the open file `source` starting at `offset`, copied inside the
    /// kernel as `cp` does (copy_file_range: no page faults on a mapping, no copy through user
    /// space). `sameBytes` points at those bytes in memory (the mapping of `source`); they are
    /// written the ordinary way wherever the kernel cannot copy (another file system, an old
    /// kernel, a special file).
    public func copyRange(from source: Int32, offset: Int, count: Int, sameBytes: UnsafeRawPointer) throws {
        guard count > 0 else { return }
        try flush()
        guard fd >= 0 else { throw IOFailure(path: destination, reason: "write after the file was closed") }
        var done = 0
        if let copyFileRange, source >= 0 {
            var from = Int64(offset)
            while done < count {
                let n = copyFileRange(source, &from, fd, nil, min(count - done, 1 << 30), 0)
                if n > 0 { done += n; continue }
                if n < 0 {
                    let e = Glibc.errno
                    if e == EINTR { continue }
                    // Out of space or quota, over `ulimit -f`, an I/O error: a real failure. Anything
                    // else (EXDEV, ENOSYS, EINVAL, EOPNOTSUPP, ...) means "not here": write instead.
                    if e == ENOSPC || e == EDQUOT || e == EFBIG || e == EIO { throw systemFailure(destination, "cannot write") }
                }
                break
            }
        }
        if done < count { try writeAll(sameBytes + done, count - done) }
        bytesWritten += count
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    private func flush() throws {
        if buffered > 0 {
            try writeAll(UnsafeRawPointer(buffer), buffered)
            buffered = 0
        }
    }

    private func writeAll(_ p: UnsafeRawPointer, _ count: Int) throws {
        guard fd >= 0 else { throw IOFailure(path: destination, reason: "write after the file was closed") }
        var done = 0
        while done < count {
            // Bounded chunks: Linux caps one write at ~2 GiB anyway.
            let n = Glibc.write(fd, p + done, min(count - done, 1 << 30))
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw systemFailure(destination, "cannot write")
            }
            if n == 0 { throw IOFailure(path: destination, reason: "cannot write: no progress (disk full?)") }
            done += n
        }
    }

    /// Flushes, fsyncs, renames over the destination and fsyncs the directory.
    public func commit() throws {
        try flush()
        guard !durable || fsync(fd) == 0 else { throw systemFailure(destination, "cannot fsync") }
        let rc = close(fd)
        fd = -1
        guard rc == 0 else { throw systemFailure(destination, "cannot close") }
        guard rename(temporaryPath, destination) == 0 else { throw systemFailure(destination, "cannot rename the temporary file into place") }
        committed = true
        guard durable else { return }
        let slash = destination.lastIndex(of: "/")
        let dir = slash.map { String(destination[..<$0]) } ?? "."
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            // Makes the rename itself durable; failure here cannot un-write the file, so it is not fatal.
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Closes and removes the temporary file (idempotent).
    public func abandon() {
        if fd >= 0 { close(fd); fd = -1 }
        if !committed && !removed { unlink(temporaryPath); removed = true }
        buffered = 0
    }
}
