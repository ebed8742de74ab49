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
        /// Bytes freed: the blob, unless another model still uses it.
        public let freedBytes: Int
    }

    /// A fresh `tmp/` directory for an import. Its flock tells other commands it is alive.
    public func stage() throws -> Staging {
        let held = try lock(.shared) // the sweeper (exclusive) cannot see a half-made entry
        defer { withExtendedLifetime(held) {} }
        return try makeWorkDirectory(prefix: "import")
    }

    /// Installs the .irw written at `staging.irwPath` as model `name`. Identical content already
    /// in the store is shared, not stored twice. `replace` lets `name` move to new weights.
    public func commit(_ staging: Staging, name: String, replace: Bool = false) throws -> CommitOutcome {
        try Self.validateName(name)
        let file: IRWFile
        do { file = try IRWFile.open(path: staging.irwPath) } catch { throw StoreError(.io, "staged file: \(error)") }
        var manifest = try StoreManifest(name: name, file: file, provenance: staging.provenance)

        let held = try lock(.exclusive)
        defer { withExtendedLifetime(held) {} }
        step("locked")
        _ = try sweepLocked(dryRun: false)
        let (installed, problems) = loadManifests()
        if let same = installed.first(where: { $0.name == name }) {
            if same.blob.contentID == manifest.blob.contentID, blobSize(same.blob.digest) != nil {
                staging.discard()
                return .alreadyInstalled(same)
            }
            guard replace else {
                throw StoreError(.nameTaken, "a model named '\(name)' is already installed with other weights; choose another --name, or `irzoo rm \(name)` first")
            }
        } else if problems.contains(where: { $0.contains("/\(name).json") }) {
            throw StoreError(.nameTaken, "the manifest for '\(name)' is damaged; `irzoo rm \(name)` it first")
        }

        var shared = false
        if let twin = installed.first(where: { $0.blob.contentID == manifest.blob.contentID && blobSize($0.blob.digest) != nil }) {
            manifest.blob = twin.blob
            shared = true
        } else if blobSize(file.digest) != nil {
            shared = true // the very same bytes, e.g. kept by a model whose manifest was replaced
        }
        let previous = installed.first(where: { $0.name == name })?.blob.digest
        try writeIntent(staging, blobs: [manifest.blob.digest] + (previous.map { [$0] } ?? []))
        step("intent")
        if !shared {
            chmod(staging.irwPath, 0o444) // blobs are never modified in place
            do { try DurableFile.rename(staging.irwPath, to: blobPath(manifest.blob.digest)) } catch { throw StoreError(.io, "\(error)") }
        }
        step("blob")
        try writeManifest(manifest) // the commit point
        step("manifest")
        if let previous, previous != manifest.blob.digest,
           !installed.contains(where: { $0.name != name && $0.blob.digest == previous }) {
            try? DurableFile.removeFile(blobPath(previous))
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
        try writeIntent(work, blobs: [m.blob.digest])
        do { try DurableFile.removeFile(path); try DurableFile.fsyncDirectory(manifestsDir) } catch { throw StoreError(.io, "\(error)") }
        step("removed")
        var freed = 0
        let stillUsed = problems.isEmpty ? installed.contains { $0.name != name && $0.blob.digest == m.blob.digest } : true
        if !stillUsed {
            freed = blobSize(m.blob.digest) ?? 0
            do { try DurableFile.removeFile(blobPath(m.blob.digest)); try DurableFile.fsyncDirectory(blobsDir) } catch { throw StoreError(.io, "\(error)") }
        }
        return RemoveOutcome(manifest: m, freedBytes: freed)
    }

    /// Records a verification result in every manifest that still names `digest`.
    func recordVerification(digest: String, result: StoreManifest.Verification) throws {
        let held = try lock(.exclusive)
        defer { withExtendedLifetime(held) {} }
        for var m in loadManifests().models where m.blob.digest == digest {
            m.verified = result
            try writeManifest(m)
        }
    }
}
