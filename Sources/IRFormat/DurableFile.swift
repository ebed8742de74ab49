#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A write that failed at the operating-system level (full disk, `ulimit -f`, permissions).
/// Whoever raised it has already removed its temporary file.
public struct FileWriteError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public let code: Int32

    public init(path: String, reason: String, code: Int32 = 0) {
        self.path = path
        self.reason = reason
        self.code = code
    }

    static func errno(_ path: String, _ what: String) -> FileWriteError {
        let e = Glibc.errno
        var why = String(cString: strerror(e))
        if e == EFBIG { why += " (the file size limit, `ulimit -f`, was reached)" }
        if e == ENOSPC { why += " (the disk is full)" }
        return FileWriteError(path: path, reason: "\(what): \(why)", code: e)
    }

    public var description: String { "\(path): \(reason)" }
}

/// Crash-safe file output: write a temp file beside the target, fsync it, rename it over the
/// target, fsync the directory. Readers see the old file or the new one, never a mix.
public enum DurableFile {
    /// Exceeding `ulimit -f` raises SIGXFSZ, which kills the process by default. Ignoring it turns
    /// the condition into an EFBIG write error we can clean up after and report.
    public static func ignoreFileSizeSignal() {
        signal(SIGXFSZ, SIG_IGN)
    }

    /// The directory part of `path` ("." when there is none).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    public static func fileName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Creates a new, exclusive temp file in `directory`; returns its descriptor and path.
    public static func createTemp(in directory: String, prefix: String) throws -> (fd: Int32, path: String) {
        for _ in 0..<16 {
            let path = "\(directory)/\(prefix).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 { return (fd, path) }
            if Glibc.errno != EEXIST { throw FileWriteError.errno(path, "cannot create a temporary file") }
        }
        throw FileWriteError(path: directory, reason: "cannot create a unique temporary file")
    }

    /// Writes all `count` bytes at the current position, retrying short writes and EINTR.
    public static func writeAll(_ fd: Int32, _ base: UnsafeRawPointer?, _ count: Int, path: String) throws {
        var done = 0
        while done < count {
            let n = write(fd, base! + done, min(count - done, 1 << 30))
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw FileWriteError.errno(path, "write failed")
            }
            if n == 0 { throw FileWriteError(path: path, reason: "write failed: no progress") }
            done += n
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0.baseAddress, $0.count, path: path) }
    }

    /// Writes `count` zero bytes.
    public static func writeZeros(_ fd: Int32, count: Int, path: String) throws {
        guard count > 0 else { return }
        let zeros = [UInt8](repeating: 0, count: min(count, 1 << 16))
        var left = count
        while left > 0 {
            let n = min(left, zeros.count)
            try zeros.withUnsafeBytes { try writeAll(fd, $0.baseAddress, n, path: path) }
            left -= n
        }
    }

    public static func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
        try bytes.withUnsafeBytes { buf in
            var done = 0
            while done < buf.count {
                let n = pwrite(fd, buf.baseAddress! + done, buf.count - done, off_t(offset + done))
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    throw FileWriteError.errno(path, "write failed")
                }
                done += n
            }
        }
    }

    public static func fsyncFile(_ fd: Int32, path: String) throws {
        guard fsync(fd) == 0 else { throw FileWriteError.errno(path, "fsync failed") }
    }

    /// Makes a rename or unlink in `directory` durable.
    public static func fsyncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileWriteError.errno(directory, "cannot open directory") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileWriteError.errno(directory, "fsync of the directory failed") }
    }

    /// Atomically moves `from` to `to` (same file system) and makes it durable.
    public static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw FileWriteError.errno(to, "cannot rename \(from) into place") }
        try fsyncDirectory(directory(of: to))
    }

    /// Writes `bytes` to `path` through a temp file in `tempDirectory` (default: beside `path`;
    /// it must be on the same file system), fsync and rename. On error nothing is left behind.
    public static func atomicWrite(_ bytes: [UInt8], to path: String, tempDirectory: String? = nil) throws {
        let (fd, tmp) = try createTemp(in: tempDirectory ?? directory(of: path), prefix: "." + fileName(of: path))
        do {
            try writeAll(fd, bytes, path: tmp)
            try fsyncFile(fd, path: tmp)
            close(fd)
            try rename(tmp, to: path)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
    }

    /// Removes a file; a missing file is not an error.
    public static func removeFile(_ path: String) throws {
        if unlink(path) != 0 && Glibc.errno != ENOENT { throw FileWriteError.errno(path, "cannot remove") }
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The size of a regular file, or nil.
    public static func size(of path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(st.st_size)
    }
}

/// UTC timestamps in RFC 3339 form ("2026-11-24T05:43:00Z"), without Foundation.
public enum Timestamp {
    public static func now() -> String { format(time(nil)) }

    public static func format(_ t: time_t) -> String {
        var tt = t
        var parts = tm()
        gmtime_r(&tt, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))Z"
    }
}
