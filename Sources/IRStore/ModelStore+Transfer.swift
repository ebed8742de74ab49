#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IRFormat
import IRTensor

/// What `push` and `pull` (IRDistribution) need from the store beyond import's commit: the OCI
/// digest of a blob, the registries a model lives in, partial downloads that survive a crash,
/// and staging a blob the store already holds.
///
///     ROOT/partial/sha256-OCIDIGEST.part   a download in progress or interrupted, flocked by its
///                                          owner; the next pull of that blob resumes it, `gc` frees it
extension ModelStore {
    var partialDir: String { "\(root)/partial" }

    // MARK: facts recorded after a transfer

    /// The recorded OCI digest of blob `digest` ("sha256:HEX" of the file's bytes), if a push
    /// or pull recorded one.
    public func recordedOCIDigest(ofBlob digest: String) throws -> String? {
        try manifests().models.flatMap { $0.blobs }.first { $0.digest == digest && $0.ociDigest != nil }?.ociDigest
    }

    /// Reads blob `digest` once and returns "sha256:HEX" of its bytes. Not recorded: only what a
    /// registry accepted (push) or a pull checked may be.
    public func hashBlobFile(_ digest: String, progress: ((Int) -> Void)? = nil) throws -> String {
        let path = blobPath(digest)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.unreadable, "\(path): cannot open the blob: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = SHA256Hasher()
        var done = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
        defer { chunk.deallocate() }
        while true {
            let n = read(fd, chunk.baseAddress, chunk.count)
            if n < 0 { if errno == EINTR { continue }; throw StoreError(.unreadable, "\(path): read failed: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            done += n
            progress?(done)
        }
        return "sha256:" + hasher.finalizeHex()
    }

    /// Records, in every manifest naming `blob`, its OCI digest and (for model `name`) a registry
    /// repository it was pushed to or pulled from. Metadata only: a crash before it loses nothing
    /// but the record, which the next push recomputes.
    public func recordTransfer(blob: String, ociDigest: String, name: String? = nil, remote: String? = nil) throws {
        let held = try lock(.exclusive)
        defer { withExtendedLifetime(held) {} }
        for var m in loadManifests().models where m.digests.contains(blob) {
            var changed = false
            if m.blob.digest == blob, m.blob.ociDigest != ociDigest { m.blob.ociDigest = ociDigest; changed = true }
            for i in m.components.indices where m.components[i].blob.digest == blob && m.components[i].blob.ociDigest != ociDigest {
                m.components[i].blob.ociDigest = ociDigest
                changed = true
            }
            if let remote, m.name == name, m.remotes.first != remote {
                m.remotes = Array(([remote] + m.remotes.filter { $0 != remote }).prefix(16))
                changed = true
            }
            if changed { try writeManifest(m) }
        }
    }

    // MARK: staging what the store already has

    /// A staging entry holding a hard link to the blob `digest` already in the store (nil when the
    /// store has no such blob), so that `commit` installs another name for it without a download.
    public func stageStoredBlob(_ digest: String) throws -> Staging? {
        guard Self.isDigest(digest), blobSize(digest) != nil else { return nil }
        let staging = try stage()
        guard link(blobPath(digest), staging.irwPath) == 0 else {
            staging.discard() // removed meanwhile: download it instead
            return nil
        }
        return staging
    }

    /// Hard-links blob `digest` already in the store to `path` (in a staging entry); false when
    /// the store has no such blob, so the caller downloads it instead.
    public func linkStoredBlob(_ digest: String, to path: String) throws -> Bool {
        guard Self.isDigest(digest), blobSize(digest) != nil else { return false }
        return link(blobPath(digest), path) == 0
    }

    // MARK: partial downloads

    /// Opens (creating) the partial download of the blob with OCI digest `ociDigest`, locked for
    /// this process; its current length is where a resumed download starts.
    public func openPartialDownload(ociDigest: String) throws -> PartialDownload {
        guard ociDigest.hasPrefix("sha256:"), Self.isDigest(String(ociDigest.dropFirst(7))) else {
            throw StoreError(.unreadable, "'\(ociDigest)' is not a sha256 digest")
        }
        try prepare()
        try FileTree.makeDirectories(partialDir)
        let path = "\(partialDir)/sha256-\(ociDigest.dropFirst(7)).part"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError(.io, "\(path): cannot open: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw StoreError(.io, "\(path): another irzoo is downloading this blob; try again when it has finished")
        }
        return PartialDownload(store: self, path: path, fd: fd)
    }

    /// `gc`: partial downloads nobody is writing (each one's flock is free).
    func sweepPartials(dryRun: Bool) -> [(name: String, bytes: Int)] {
        var out: [(name: String, bytes: Int)] = []
        for file in FileTree.list(partialDir) {
            let path = "\(partialDir)/\(file)"
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue } // a pull is writing it
            out.append(("partial/\(file)", FileTree.size(path)))
            if !dryRun { unlink(path) }
        }
        return out
    }
}

/// A blob being downloaded into `ROOT/partial/`, owned (flock) by this process until closed.
public final class PartialDownload {
    unowned let store: ModelStore
    public let path: String
    /// Open read-write; the downloader appends at `length`.
    public let fd: Int32
    private var closed = false

    init(store: ModelStore, path: String, fd: Int32) {
        self.store = store
        self.path = path
        self.fd = fd
    }

    /// Bytes already downloaded (by this process or an interrupted one).
    public var length: Int {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_size) : 0
    }

    /// Drops everything after `length` bytes (a resume that found the start damaged, or a server
    /// that ignored the range).
    public func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0 else { throw FileWriteError(path: path, reason: "cannot truncate: \(String(cString: strerror(errno)))", code: errno) }
    }

    /// Moves the finished download into `staging` (as the file `commit` installs) and releases it.
    public func move(into staging: Staging) throws { try move(to: staging.irwPath) }

    /// Moves the finished download to `target` (a file in a staging entry) and releases it.
    public func move(to target: String) throws {
        try DurableFile.fsyncFile(fd, path: path)
        do { try DurableFile.rename(path, to: target) } catch { throw StoreError(.io, "\(error)") }
        release()
    }

    /// Deletes the partial file (refused content, a full disk): nothing of it is kept.
    public func discard() {
        guard !closed else { return }
        unlink(path)
        release()
    }

    /// Keeps the partial file for the next pull to resume (the network failed).
    public func keep() { release() }

    private func release() {
        guard !closed else { return }
        closed = true
        close(fd) // drops the flock
    }

    deinit { release() }
}
