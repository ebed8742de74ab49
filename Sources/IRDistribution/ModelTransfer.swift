#if canImport(Glibc)
import Glibc
#endif
import IRFormat
import IRStore
import IRTensor

/// `irzoo push` and `irzoo pull` over the store: a model's blobs become layers of an OCI
/// artifact (docs/OCI.md), and a pulled layer lands through the same commit as `import`.
/// Knows blobs, manifests and the store; never what the weights are.
public struct ModelTransfer {
    public let store: ModelStore
    public let client: RegistryClient
    /// Bytes done and total over all layers, from any thread.
    public var progress: (@Sendable (_ phase: Phase, _ done: Int, _ total: Int) -> Void)?
    /// Named steps for fault-injection tests: "downloading" (half a layer received),
    /// "downloaded", "verified" (pull); "uploading" (half a layer sent) (push).
    public var step: ((String) -> Void)?

    public enum Phase: String, Sendable {
        case hashing, uploading, downloading, verifying
    }

    /// What happened to one blob (the config or a layer).
    public struct BlobReport: Sendable {
        public var role: String
        public var digest: String
        public var size: Int
        /// push: exists, mounted, uploaded; pull: present (in the store), downloaded, resumed.
        public var action: String
        public var bytes: Int
        /// pull: the byte a download continued from (HTTP Range).
        public var resumedAt: Int?
        /// push: chunk uploads continued from the registry's offset after a failure.
        public var resumes: Int?
        /// push: uploads started again because the registry lost the session.
        public var restarts: Int?
        public var mountedFrom: String?
        public var irwDigest: String?
    }

    public init(store: ModelStore, client: RegistryClient) {
        self.store = store
        self.client = client
    }

    // MARK: push

    public struct PushOutcome: Sendable {
        public var reference: OCIReference
        public var manifestDigest: String
        public var blobs: [BlobReport]
        public var bytesSent: Int
        /// The registry refused `artifactType`; the manifest went without it (docs/OCI.md).
        public var withoutArtifactType: Bool
    }

    /// Pushes model `name` to `client.reference` (its tag, default "latest"): the config, then
    /// one layer per blob of the model. `annotations` are added to the manifest's (title,
    /// created; the CLI adds description, source and licenses).
    public func push(name: String, annotations extra: [(String, String)] = [], chunkSize: Int = 64 << 20) async throws -> PushOutcome {
        let reference = client.reference
        guard reference.digest == nil else {
            throw DistributionError(.usage, "push to a tag, not a digest: the digest is the manifest's, known after the push")
        }
        let m = try store.manifest(named: name)
        let parts = Self.parts(of: m)
        let total = parts.reduce(0) { $0 + $1.blob.size }
        let progress = self.progress
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        var layers: [Descriptor] = []
        var hashed = 0
        for part in parts {
            let path = store.blobPath(part.blob.digest)
            let fd = open(path, O_RDONLY | O_CLOEXEC) // held open: a concurrent `rm` cannot pull it away mid-push
            guard fd >= 0 else { throw StoreError(.unreadable, "\(path): a blob of '\(name)' cannot be read (see `irzoo verify \(name)`)") }
            fds.append(fd)
            _ = try IRWFile.open(path: path) // its preamble and header must be intact (their digest)
            // The recorded digest (a pull checked it, or a registry accepted it), else one read of
            // the blob; the upload hashes what it sends again and refuses a blob that changed meanwhile.
            let base = hashed
            let ociDigest = try store.recordedOCIDigest(ofBlob: part.blob.digest)
                ?? store.hashBlobFile(part.blob.digest) { progress?(.hashing, base + $0, total) }
            hashed += part.blob.size
            var annotations = [(Annotation.title, parts.count == 1 ? "\(m.name).irw" : "\(part.role).irw"), (Annotation.irwDigest, part.blob.digest)]
            if parts.count > 1 { annotations.append((Annotation.component, part.role)) }
            layers.append(Descriptor(mediaType: MediaType.irw, digest: ociDigest, size: part.blob.size, annotations: annotations))
        }

        let configBytes = ModelArtifact.configJSON(for: m, ociDigests: layers.map { $0.digest }).serializedBytes()
        let config = Descriptor(mediaType: MediaType.modelConfig, digest: "sha256:" + configBytes.withUnsafeBytes { SHA256Hasher.hex(of: $0) },
                                size: configBytes.count)
        var annotations: [(String, String)] = [(Annotation.title, m.name), (Annotation.created, m.imported)]
        annotations += extra.filter { e in !annotations.contains { $0.0 == e.0 } }

        // Mount from repositories of the same registry this model is known to be in.
        let mountFrom = m.remotes.compactMap { remote -> String? in
            guard remote.hasPrefix(reference.registry + "/") else { return nil }
            let repo = String(remote.dropFirst(reference.registry.count + 1))
            return repo == reference.repository ? nil : repo
        }
        var reports: [BlobReport] = []
        let c = try await client.uploadBlob(config, from: .bytes(configBytes), chunkSize: chunkSize)
        reports.append(BlobReport(role: "config", digest: config.digest, size: config.size, action: c.action.rawValue, bytes: c.bytesSent))
        var sentBefore = 0
        for (i, layer) in layers.enumerated() {
            let base = sentBefore
            let l = try await client.uploadBlob(layer, from: .file(fd: fds[i]), mountFrom: mountFrom, chunkSize: chunkSize,
                                                progress: { progress?(.uploading, base + $0, total) }, step: step)
            sentBefore += layer.size
            reports.append(BlobReport(role: parts.count == 1 ? "layer" : parts[i].role, digest: layer.digest, size: layer.size,
                                      action: l.action.rawValue, bytes: l.bytesSent, resumes: l.resumes > 0 ? l.resumes : nil,
                                      restarts: l.restarts > 0 ? l.restarts : nil, mountedFrom: l.mountedFrom, irwDigest: parts[i].blob.digest))
        }

        var artifact = ModelArtifact(config: config, layers: layers, annotations: annotations)
        let tag = reference.tag ?? "latest"
        var manifestDigest: String
        do {
            manifestDigest = try await client.putManifest(artifact.manifestBytes, tag: tag)
        } catch let e as DistributionError where e.httpStatus == 400 {
            // Registries from before image-spec 1.1 may refuse the unknown member; the config's
            // media type still says what this is (image-spec's fallback for readers).
            artifact.withArtifactType = false
            client.notice?("the registry refused artifactType (\(e.message)); pushing the manifest without it")
            manifestDigest = try await client.putManifest(artifact.manifestBytes, tag: tag)
        }
        for (part, layer) in zip(parts, layers) {
            try? store.recordTransfer(blob: part.blob.digest, ociDigest: layer.digest, name: m.name, remote: reference.repositoryPath)
        }
        return PushOutcome(reference: reference, manifestDigest: manifestDigest, blobs: reports,
                           bytesSent: reports.reduce(0) { $0 + $1.bytes }, withoutArtifactType: !artifact.withArtifactType)
    }

    /// The blobs of a model with their roles, in layer order: one ("model") for a single network;
    /// for a pipeline its own blob ("pipeline", model_index.json) then each component's.
    static func parts(of m: StoreManifest) -> [(role: String, blob: StoreManifest.Blob)] {
        guard m.isPipeline else { return [("model", m.blob)] }
        return [("pipeline", m.blob)] + m.components.map { ($0.role, $0.blob) }
    }

    // MARK: pull

    public struct PullOutcome: Sendable {
        public var reference: OCIReference
        public var manifestDigest: String
        public var commit: ModelStore.CommitOutcome
        public var blobs: [BlobReport]
        public var bytesReceived: Int
    }

    /// Pulls `client.reference` into the store as `name` (default: the name it was pushed
    /// under). Each layer is streamed into `partial/`, its SHA-256 checked against the manifest,
    /// the .irw's tree digest against the config and every tensor's hash, all before the commit;
    /// a blob the store already has is not downloaded.
    public func pull(name requested: String? = nil, replace: Bool = false, verifyThreads: Int? = nil) async throws -> PullOutcome {
        let reference = client.reference
        let (manifestBytes, contentType, manifestDigest) = try await client.getManifest()
        let artifact = try ModelArtifact.parse(manifestBytes, contentType: contentType, what: reference.description)
        let configBytes = try await client.getSmallBlob(artifact.config, limit: ModelArtifact.maxConfigBytes)
        let described = try ModelArtifact.parseConfig(configBytes, what: "\(reference): config")
        let parts = Self.parts(of: described)
        guard artifact.layers.count == parts.count else {
            throw DistributionError(.refused, "\(reference): \(artifact.layers.count) layers, but its config describes \(parts.count) .irw blob\(parts.count == 1 ? "" : "s")")
        }
        for (i, (layer, part)) in zip(artifact.layers, parts).enumerated() {
            guard layer.digest == part.blob.ociDigest, layer.size == part.blob.size else {
                throw DistributionError(.refused, "\(reference): layer \(i) (\(layer.digest), \(layer.size) bytes) is not the blob its config describes (\(part.blob.ociDigest ?? "-"), \(part.blob.size) bytes)")
            }
            if let tree = layer.annotation(Annotation.irwDigest), tree != part.blob.digest {
                throw DistributionError(.refused, "\(reference): layer \(i)'s \(Annotation.irwDigest) is not the config's blob digest")
            }
        }
        let name = try requested ?? Self.defaultName(described.name, reference)
        try ModelStore.validateName(name)
        if described.isPipeline {
            return try await pullPipeline(described, artifact: artifact, manifestDigest: manifestDigest, name: name, replace: replace,
                                          verifyThreads: verifyThreads)
        }
        let layer = artifact.layers[0]

        // A blob the store already has (the same file, or the same weights and metadata) is
        // installed under the new name without a transfer.
        let installed = try store.manifests().models
        if !replace, let taken = installed.first(where: { $0.name == name }), taken.blob.contentID != described.blob.contentID {
            // Refused before a byte is downloaded (commit would refuse it after).
            throw StoreError(.nameTaken, "a model named '\(taken.name)' is already installed with other weights; choose another --name, or --replace")
        }
        let twin = installed.first { $0.blob.digest == described.blob.digest && store.blobSize($0.blob.digest) != nil }
            ?? installed.first { $0.blob.contentID == described.blob.contentID && store.blobSize($0.blob.digest) != nil }
        if let twin, let staging = try store.stageStoredBlob(twin.blob.digest) {
            staging.provenance = described.provenance // the pushed record's provenance, not the twin's
            let outcome = try store.commit(staging, name: name, replace: replace)
            if twin.blob.digest == described.blob.digest {
                try? store.recordTransfer(blob: twin.blob.digest, ociDigest: layer.digest, name: name, remote: reference.repositoryPath)
            }
            let report = BlobReport(role: "layer", digest: layer.digest, size: layer.size, action: "present", bytes: 0, irwDigest: twin.blob.digest)
            return PullOutcome(reference: reference, manifestDigest: manifestDigest, commit: outcome, blobs: [report], bytesReceived: 0)
        }

        let partial = try store.openPartialDownload(ociDigest: layer.digest)
        let progress = self.progress
        let download: RegistryClient.DownloadResult
        do {
            download = try await client.downloadBlob(layer, into: partial, progress: { progress?(.downloading, $0, layer.size) }, step: step)
        } catch let e as DistributionError where e.kind != .refused {
            partial.keep() // the network failed: the next pull resumes from here
            throw e
        } catch {
            partial.discard() // refused content, a full disk: keep nothing
            throw error
        }
        step?("downloaded")
        let staging = try store.stage()
        defer { staging.discard() }
        try partial.move(into: staging)
        let file: IRWFile
        do { file = try IRWFile.open(path: staging.irwPath) } catch {
            throw DistributionError(.refused, "\(reference): the layer is not a readable .irw: \(error); nothing was installed")
        }
        guard file.digest == described.blob.digest else {
            throw DistributionError(.refused, "\(reference): the .irw's tree digest is \(file.digest), not the \(described.blob.digest) its config names; nothing was installed")
        }
        let report = file.verify(threads: verifyThreads) { done, total in progress?(.verifying, done, total) }
        guard report.isIntact else {
            throw DistributionError(.refused, "\(reference): the .irw is damaged inside (\(report.problems.prefix(3).joined(separator: "; "))); nothing was installed")
        }
        step?("verified")
        staging.provenance = described.provenance // a 1.1 blob holds content only; the config says where it came from
        let outcome = try store.commit(staging, name: name, replace: replace)
        try? store.recordTransfer(blob: file.digest, ociDigest: layer.digest, name: name, remote: reference.repositoryPath)
        let blob = BlobReport(role: "layer", digest: layer.digest, size: layer.size, action: download.resumedAt == nil ? "downloaded" : "resumed",
                              bytes: download.bytesReceived, resumedAt: download.resumedAt, irwDigest: file.digest)
        return PullOutcome(reference: reference, manifestDigest: manifestDigest, commit: outcome, blobs: [blob], bytesReceived: download.bytesReceived)
    }

    /// A pipeline's layers, each landed like a one-blob pull's (a blob the store has is linked,
    /// not downloaded; every download checked by SHA-256, tree digest and tensor hashes) into one
    /// staging entry, then committed together: all of the pipeline, or nothing.
    func pullPipeline(_ described: StoreManifest, artifact: ModelArtifact, manifestDigest: String, name: String, replace: Bool,
                      verifyThreads: Int?) async throws -> PullOutcome {
        let reference = client.reference
        let installed = try store.manifests().models
        if !replace, let taken = installed.first(where: { $0.name == name }), taken.digests != described.digests {
            throw StoreError(.nameTaken, "a model named '\(taken.name)' is already installed with other weights; choose another --name, or --replace")
        }
        let parts = Self.parts(of: described)
        let staging = try store.stage()
        defer { staging.discard() }
        var reports: [BlobReport] = []
        var received = 0
        let progress = self.progress
        for (i, (part, layer)) in zip(parts, artifact.layers).enumerated() {
            let path = i == 0 ? staging.irwPath : staging.componentPath(part.role)
            if try store.linkStoredBlob(part.blob.digest, to: path) {
                reports.append(BlobReport(role: part.role, digest: layer.digest, size: layer.size, action: "present", bytes: 0, irwDigest: part.blob.digest))
            } else {
                let partial = try store.openPartialDownload(ociDigest: layer.digest)
                let download: RegistryClient.DownloadResult
                do {
                    download = try await client.downloadBlob(layer, into: partial, progress: { progress?(.downloading, $0, layer.size) }, step: step)
                } catch let e as DistributionError where e.kind != .refused {
                    partial.keep() // the network failed: the next pull resumes from here
                    throw e
                } catch {
                    partial.discard()
                    throw error
                }
                try partial.move(to: path)
                let file: IRWFile
                do { file = try IRWFile.open(path: path) } catch {
                    throw DistributionError(.refused, "\(reference): layer \(part.role) is not a readable .irw: \(error); nothing was installed")
                }
                guard file.digest == part.blob.digest else {
                    throw DistributionError(.refused, "\(reference): layer \(part.role)'s tree digest is \(file.digest), not the \(part.blob.digest) its config names; nothing was installed")
                }
                let report = file.verify(threads: verifyThreads) { done, total in progress?(.verifying, done, total) }
                guard report.isIntact else {
                    throw DistributionError(.refused, "\(reference): layer \(part.role) is damaged inside (\(report.problems.prefix(3).joined(separator: "; "))); nothing was installed")
                }
                received += download.bytesReceived
                reports.append(BlobReport(role: part.role, digest: layer.digest, size: layer.size, action: download.resumedAt == nil ? "downloaded" : "resumed",
                                          bytes: download.bytesReceived, resumedAt: download.resumedAt, irwDigest: file.digest))
            }
            if i > 0 { try staging.addComponent(role: part.role, provenance: described.components[i - 1].provenance(imported: described.imported)) }
        }
        step?("verified")
        staging.provenance = described.provenance
        let outcome = try store.commit(staging, name: name, replace: replace)
        for (part, layer) in zip(parts, artifact.layers) {
            try? store.recordTransfer(blob: part.blob.digest, ociDigest: layer.digest, name: name, remote: reference.repositoryPath)
        }
        return PullOutcome(reference: reference, manifestDigest: manifestDigest, commit: outcome, blobs: reports, bytesReceived: received)
    }

    /// The name the model was pushed under, else the repository's last path component.
    static func defaultName(_ pushed: String, _ reference: OCIReference) throws -> String {
        if (try? ModelStore.validateName(pushed)) != nil { return pushed }
        return String(reference.repository.split(separator: "/").last ?? "model")
    }
}
