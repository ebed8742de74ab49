#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory lock (flock) on a file. The kernel releases it when the process dies, even by
/// `kill -9`, which is what lets the next command tell a crashed import from a running one.
final class FileLock {
    enum Mode { case shared, exclusive }

    private let fd: Int32
    let path: String

    /// Opens (creating) `path` and waits for the lock.
    init(path: String, mode: Mode) throws {
        self.path = path
        var f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if f < 0 && mode == .shared { f = open(path, O_RDONLY | O_CLOEXEC) } // a read-only store can still be read
        fd = f
        guard fd >= 0 else { throw StoreError(.io, "\(path): cannot open the lock file: \(String(cString: strerror(errno)))") }
        while flock(fd, mode == .exclusive ? LOCK_EX : LOCK_SH) != 0 {
            if errno == EINTR { continue }
            let why = String(cString: strerror(errno))
            close(fd)
            throw StoreError(.io, "\(path): cannot lock: \(why)")
        }
    }

    /// Takes the lock only if nobody holds it; nil when it is held (or the file is gone).
    static func tryExclusive(path: String) -> FileLock? {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { close(fd); return nil }
        return FileLock(fd: fd, path: path)
    }

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }
}
