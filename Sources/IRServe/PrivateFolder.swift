import Foundation

/// The server's own temp folder (mode 0700, a fresh name from mkdtemp): uploads and results live
/// here under names the server makes, one sub-folder per job, and the folder goes when the server stops.
final class PrivateFolder: Sendable {
    let path: String

    init(under root: String) throws {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        var template = Array(prefix.utf8CString.dropLast()) + Array("irzoo-serve-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw ServeError.startup("cannot make a private temp folder under \(root): \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
        chmod(path, 0o700)
    }

    /// A new job folder, by the job's id (a UUID the server made).
    func makeJobFolder(_ id: String) throws -> String {
        let dir = path + "/" + id
        guard mkdir(dir, 0o700) == 0 else {
            throw JobFailure.failed("cannot make a job folder: \(String(cString: strerror(errno)))")
        }
        return dir
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
