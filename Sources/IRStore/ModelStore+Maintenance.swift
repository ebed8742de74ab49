#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IRFormat
import IRTensor

extension ModelStore {
    public struct SweepReport: Sendable {
        /// Stale `tmp/` entries (crashed or killed commands), with their sizes.
        public var temps: [(name: String, bytes: Int)] = []
        /// Blobs left unreferenced by an interrupted change (rolled back), or by anything (gc).
        public var blobs: [(digest: String, bytes: Int)] = []
        /// Interrupted downloads (`partial/`) that no pull is writing (gc only: a pull resumes them).
        public var partials: [(name: String, bytes: Int)] = []
        /// Things left alone, one line each (unknown files, unreadable manifests).
        public var skipped: [String] = []
        public var freedBytes: Int {
            temps.reduce(0) { $0 + $1.bytes } + blobs.reduce(0) { $0 + $1.bytes } + partials.reduce(0) { $0 + $1.bytes }
        }
    }

    /// Finishes or undoes whatever crashed commands left in `tmp/`. Every command calls it first.
    @discardableResult
    public func recover() throws -> SweepReport {
        // Nothing to sweep in an absent store, and nothing can be swept in a read-only one.
        guard exists, access(tmpDir, W_OK) == 0 else { return SweepReport() }
        let held = try lock(.exclusive)
        defer { withExtendedLifetime(held) {} }
        return try sweepLocked(dryRun: false)
    }

    /// `gc`: stale temps plus every blob no manifest references. Refuses to delete blobs while any
    /// manifest is unreadable (it might name one of them).
    public func collectGarbage(dryRun: Bool) throws -> SweepReport {
        guard exists else { return SweepReport() }
        let held = try lock(.exclusive)
        defer { withExtendedLifetime(held) {} }
        var report = try sweepLocked(dryRun: dryRun)
        report.partials = sweepPartials(dryRun: dryRun)
        let (models, problems) = loadManifests()
        let referenced = Set(models.flatMap { $0.digests })
        let pending = Set(report.blobs.map { $0.digest })
        for file in FileTree.list(blobsDir) {
            let path = "\(blobsDir)/\(file)"
            guard file.hasPrefix("sha256-"), file.hasSuffix(".irw"), Self.isDigest(String(file.dropFirst(7).dropLast(4))) else {
                report.skipped.append("\(path): not a blob, left alone")
                continue
            }
            let digest = String(file.dropFirst(7).dropLast(4))
            guard !referenced.contains(digest), !pending.contains(digest) else { continue }
            guard problems.isEmpty else {
                report.skipped.append("\(path): unreferenced, kept because a manifest is unreadable")
                continue
            }
            report.blobs.append((digest, FileTree.size(path)))
            if !dryRun { try? DurableFile.removeFile(path) }
        }
        report.skipped += problems
        if !dryRun { try? DurableFile.fsyncDirectory(blobsDir) }
        return report
    }

    /// Under the exclusive lock: every `tmp/` entry whose owner is gone is stale. Blobs its intent
    /// names that no manifest references are rolled back; then the entry goes.
    func sweepLocked(dryRun: Bool) throws -> SweepReport {
        var report = SweepReport()
        var loaded: (models: [StoreManifest], problems: [String])?
        for name in FileTree.list(tmpDir) {
            let path = "\(tmpDir)/\(name)"
            var ownerLock: FileLock? = nil
            if FileTree.isDirectory(path) {
                let lockFile = "\(path)/owner.lock"
                if DurableFile.exists(lockFile) {
                    guard let l = FileLock.tryExclusive(path: lockFile) else { continue } // alive
                    ownerLock = l
                }
                if let bytes = FileTree.readFile("\(path)/intent.json"), let intent = try? JSON.parse(bytes) {
                    if loaded == nil { loaded = loadManifests() }
                    let referenced = Set(loaded!.models.flatMap { $0.digests })
                    for case .string(let digest) in intent["blobs"]?.arrayValue ?? [] where Self.isDigest(digest) {
                        guard !referenced.contains(digest), let size = blobSize(digest) else { continue }
                        guard loaded!.problems.isEmpty else {
                            report.skipped.append("\(blobPath(digest)): possibly orphaned, kept because a manifest is unreadable")
                            continue
                        }
                        report.blobs.append((digest, size))
                        if !dryRun { try? DurableFile.removeFile(blobPath(digest)) }
                    }
                }
            }
            report.temps.append((name, FileTree.size(path)))
            if !dryRun { try FileTree.removeTree(path) }
            withExtendedLifetime(ownerLock) {}
        }
        return report
    }
}
