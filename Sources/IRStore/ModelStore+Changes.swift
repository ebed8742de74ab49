#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IRFormat
import IRTensor

extension ModelStore {
    public enum CommitOutcome: Sendable {
        /// Installed; `sharedBlob` when identical weights were already stored.
        case installed(StoreManifest, sharedBlob: Bool)
        /// A model of that name with the same content was already installed; nothing changed.
        case alreadyInstalled(StoreManifest)
    }

    public struct RemoveOutcome: Sendable {
        public let manifest: StoreManifest
        /// Bytes freed: its blobs, except those another model still uses.
        public let freedBytes: Int
    }

    /// A fresh `tmp/` directory for an import. Its flock tells other commands it is alive.
    public func stage() throws -> Staging {
        let held = try lock(.shared) // the sweeper (exclusive) cannot see a half-made entry
        defer { withExtendedLifetime(held) {} }
        return try makeWorkDirectory(prefix: "import")
    }

    /// Installs the .irw written at `staging.irwPath` as model `name`, with the components staged
    /// beside it (a pipeline). Identical content already in the store is shared, not stored
    /// twice. `replace` lets `name` move to new weights.
    public func commit(_ staging: Staging, name: String, replace: Bool = false) throws -> CommitOutcome {
        try Self.validateName(name)
        func open(_ path: String) throws -> IRWFile {
            do { return try IRWFile.open(path: path) } catch { throw StoreError(.io, "staged file: \(error)") }
        }
        var manifest = try StoreManifest(name: name, file: try open(staging.irwPath), provenance: staging.provenance)
        var stagedPaths = [staging.irwPath]
        for c in staging.components {
            let path = staging.componentPath(c.role)
            manifest.components.append(try StoreManifest.Component(role: c.role, file: try open(path), provenance: c.provenance))
            stagedPaths.append(path)
        }

        let held = try lock(.exclusive)
        defer { withExtendedLifetime(held) {} }
        step("locked")
        _ = try sweepLocked(dryRun: false)
        let (installed, problems) = loadManifests()
        if let same = installed.first(where: { $0.name == name }) {
            if same.contentKey == manifest.contentKey, same.digests.allSatisfy({ blobSize($0) != nil }) {
                staging.discard()
                return .alreadyInstalled(same)
            }
            guard replace else {
                throw StoreError(.nameTaken, "a model named '\(name)' is already installed with other weights; choose another --name, or `irzoo rm \(name)` first")
            }
        } else if problems.contains(where: { $0.contains("/\(name).json") }) {
            throw StoreError(.nameTaken, "the manifest for '\(name)' is damaged; `irzoo rm \(name)` it first")
        }

        // Each blob: one with the same content already stored is shared; else this one moves in.
        let stored = installed.flatMap { $0.blobs }.filter { blobSize($0.digest) != nil }
        var shared = false
        var moves: [(path: String, digest: String)] = []
        func place(_ blob: inout StoreManifest.Blob, stagedAt path: String) {
            if let twin = stored.first(where: { $0.contentID == blob.contentID }) {
                blob = twin
                shared = true
            } else if blobSize(blob.digest) != nil {
                shared = true // the very same bytes, e.g. kept by a model whose manifest was replaced
            } else if !moves.contains(where: { $0.digest == blob.digest }) {
                moves.append((path, blob.digest)) // two roles with the same bytes move in once
            }
        }
        place(&manifest.blob, stagedAt: stagedPaths[0])
        for i in manifest.components.indices { place(&manifest.components[i].blob, stagedAt: stagedPaths[i + 1]) }
        let previous = installed.first(where: { $0.name == name })?.digests ?? []
        try writeIntent(staging, blobs: Array(Set(manifest.digests + previous)).sorted())
        step("intent")
        for move in moves {
            chmod(move.path, 0o444) // blobs are never modified in place
            do { try DurableFile.rename(move.path, to: blobPath(move.digest)) } catch { throw StoreError(.io, "\(error)") }
        }
        step("blob")
        try writeManifest(manifest) // the commit point
        step("manifest")
        let others = Set(installed.filter { $0.name != name }.flatMap { $0.digests })
        for digest in Set(previous) where !manifest.digests.contains(digest) && !others.contains(digest) {
            try? DurableFile.removeFile(blobPath(digest))
        }
        staging.discard()
        return .installed(manifest, sharedBlob: shared)
    }

    /// Uninstalls `name` and deletes its blob unless another model uses it: no orphans.
    public func remove(name: String) throws -> RemoveOutcome {
        try Self.validateName(name)
        let held = try lock(.exclusive)
        defer { withExtendedLifetime(held) {} }
        _ = try sweepLocked(dryRun: false)
        let (installed, problems) = loadManifests()
        let path = manifestPath(name)
        guard let m = installed.first(where: { $0.name == name }) else {
            if DurableFile.exists(path), problems.contains(where: { $0.contains("/\(name).json") }) {
                // A damaged manifest: remove it; any blob only it used becomes collectable by `gc`.
                do { try DurableFile.removeFile(path); try DurableFile.fsyncDirectory(manifestsDir) } catch { throw StoreError(.io, "\(error)") }
                throw StoreError(.unreadable, "removed the damaged manifest of '\(name)'; run `irzoo gc` to free its blob")
            }
            throw StoreError(.notFound, "no model named '\(name)' is installed (see `irzoo list`)")
        }
        let work = try makeWorkDirectory(prefix: "rm")
        defer { work.discard() }
        let mine = Array(Set(m.digests)).sorted()
        try writeIntent(work, blobs: mine)
        do { try DurableFile.removeFile(path); try DurableFile.fsyncDirectory(manifestsDir) } catch { throw StoreError(.io, "\(error)") }
        step("removed")
        var freed = 0
        // An unreadable manifest might name any blob: then every blob stays (for `gc` to judge).
        let used = Set(installed.filter { $0.name != name }.flatMap { $0.digests })
        for digest in mine where problems.isEmpty && !used.contains(digest) {
            freed += blobSize(digest) ?? 0
            do { try DurableFile.removeFile(blobPath(digest)) } catch { throw StoreError(.io, "\(error)") }
        }
        if freed > 0 { do { try DurableFile.fsyncDirectory(blobsDir) } catch { throw StoreError(.io, "\(error)") } }
        return RemoveOutcome(manifest: m, freedBytes: freed)
    }

    /// Records in every manifest naming a blob in `problems` (by digest) the result over all its
    /// blobs, once every one of them has been checked; a component's problems name its role.
    func recordVerification(_ problems: [String: [String]], time: String) throws {
        let held = try lock(.exclusive)
        defer { withExtendedLifetime(held) {} }
        for var m in loadManifests().models where m.digests.contains(where: { problems[$0] != nil }) {
            guard m.digests.allSatisfy({ problems[$0] != nil }) else { continue }
            let found = m.problems(byDigest: problems)
            m.verified = StoreManifest.Verification(time: time, intact: found.isEmpty, problems: found)
            try writeManifest(m)
        }
    }
}

extension StoreManifest {
    /// What identifies the content: equal keys mean the same weights in the same roles.
    var contentKey: [String] { [blob.contentID] + components.map { "\($0.role)=\($0.blob.contentID)" } }

    /// The record's problems among those found per blob, a component's prefixed with its role.
    public func problems(byDigest found: [String: [String]]) -> [String] {
        var out = found[blob.digest] ?? []
        for c in components { out += (found[c.blob.digest] ?? []).map { "\(c.role): \($0)" } }
        return out
    }
}
