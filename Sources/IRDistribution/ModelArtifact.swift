import IRStore
import IRTensor

/// The media types of docs/OCI.md and of the manifests a pull must recognise to refuse them.
public enum MediaType {
    /// The manifest's `artifactType`: "this is an irzoo model".
    public static let model = "application/vnd.irzoo.model.v1+json"
    /// The config blob: the store manifest (what `show --json` prints, minus local fields).
    public static let modelConfig = "application/vnd.irzoo.model.config.v1+json"
    /// A layer: one .irw file, byte for byte.
    public static let irw = "application/vnd.irzoo.irw.v1"

    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociImageConfig = "application/vnd.oci.image.config.v1+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerImageConfig = "application/vnd.docker.container.image.v1+json"

    /// What a pull accepts on the manifest endpoint: everything it can name in a refusal.
    static let manifestAccept = [ociManifest, ociIndex, dockerManifest, dockerManifestList].joined(separator: ", ")
}

/// Annotation keys: the standard ones (image-spec annotations.md) and irzoo's own.
public enum Annotation {
    public static let title = "org.opencontainers.image.title"
    public static let created = "org.opencontainers.image.created"
    public static let source = "org.opencontainers.image.source"
    public static let licenses = "org.opencontainers.image.licenses"
    public static let description = "org.opencontainers.image.description"
    /// On a layer: the .irw tree digest (docs/FORMAT.md), which names the blob in a store.
    public static let irwDigest = "dev.irzoo.irw.digest"
    /// On a layer of a multi-component model: the component's role (unet, vae, ...).
    public static let component = "dev.irzoo.component"
}

/// A content descriptor (image-spec descriptor.md): media type, digest, size, annotations.
public struct Descriptor: Sendable, Equatable {
    public var mediaType: String
    public var digest: String
    public var size: Int
    public var annotations: [(String, String)] = []

    public init(mediaType: String, digest: String, size: Int, annotations: [(String, String)] = []) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
    }

    public static func == (a: Descriptor, b: Descriptor) -> Bool {
        a.mediaType == b.mediaType && a.digest == b.digest && a.size == b.size
            && a.annotations.map { "\($0.0)=\($0.1)" } == b.annotations.map { "\($0.0)=\($0.1)" }
    }

    public func annotation(_ key: String) -> String? { annotations.first { $0.0 == key }?.1 }

    var json: JSON {
        var members: [(String, JSON)] = [("mediaType", .string(mediaType)), ("digest", .string(digest)), ("size", .int(size))]
        if !annotations.isEmpty { members.append(("annotations", .object(annotations.map { ($0.0, JSON.string($0.1)) }))) }
        return .object(members)
    }
}

/// An irzoo model as an OCI image manifest (image-spec 1.1, "artifacts with a config blob"):
/// `artifactType` says what it is, the config blob describes the model, one layer per .irw blob.
public struct ModelArtifact: Sendable {
    public var config: Descriptor
    public var layers: [Descriptor]
    public var annotations: [(String, String)]
    /// False for the form without `artifactType`, for registries that refuse the field; readers
    /// then identify the artifact by `config.mediaType` (image-spec's stated fallback).
    public var withArtifactType = true

    public init(config: Descriptor, layers: [Descriptor], annotations: [(String, String)], withArtifactType: Bool = true) {
        self.config = config
        self.layers = layers
        self.annotations = annotations
        self.withArtifactType = withArtifactType
    }

    /// The manifest's bytes: compact JSON, members in a fixed order, so the same model gives
    /// the same manifest digest.
    public var manifestBytes: [UInt8] {
        var members: [(String, JSON)] = [("schemaVersion", .int(2)), ("mediaType", .string(MediaType.ociManifest))]
        if withArtifactType { members.append(("artifactType", .string(MediaType.model))) }
        members.append(("config", config.json))
        members.append(("layers", .array(layers.map { $0.json })))
        if !annotations.isEmpty { members.append(("annotations", .object(annotations.map { ($0.0, JSON.string($0.1)) }))) }
        return JSON.object(members).serializedBytes()
    }

    // MARK: config

    /// The config blob's JSON for a store manifest: what `show --json` holds (architecture,
    /// config, source, tensors, digests, format version), without what only this machine knows
    /// (when it was last verified, where it was pushed).
    public static func configJSON(for manifest: StoreManifest, ociDigests: [String]) -> JSON {
        var m = manifest
        m.verified = nil
        m.remotes = []
        m.blob.ociDigest = ociDigests.first
        for i in m.components.indices where i + 1 < ociDigests.count { m.components[i].blob.ociDigest = ociDigests[i + 1] }
        guard case .object(var members) = m.json else { return m.json }
        members["verified"] = nil
        return .object(members)
    }

    /// Reads a config blob back into the store manifest it describes (strictly: every field the
    /// store schema requires). `what` names it in errors.
    public static func parseConfig(_ bytes: [UInt8], what: String) throws -> StoreManifest {
        let json: JSON
        do { json = try JSON.parse(bytes) } catch { throw DistributionError(.refused, "\(what): \(error)") }
        guard case .object(var members) = json else { throw DistributionError(.refused, "\(what): not a JSON object") }
        if members["verified"] == nil { members["verified"] = .null }
        do {
            let m = try StoreManifest(json: .object(members), path: what)
            guard m.blobs.allSatisfy({ $0.ociDigest != nil }) else { throw DistributionError(.refused, "\(what): a blob has no oci_digest") }
            return m
        } catch let e as StoreError {
            throw DistributionError(.refused, e.message)
        }
    }

    // MARK: reading a manifest

    /// Parses a manifest as served (`contentType` from the response) and refuses anything that
    /// is not an irzoo model with a one-line reason: an image index, a container image, another
    /// kind of artifact, a malformed descriptor.
    public static func parse(_ bytes: [UInt8], contentType: String?, what: String) throws -> ModelArtifact {
        func refuse(_ why: String) -> DistributionError { DistributionError(.refused, "\(what): \(why)") }
        let json: JSON
        do { json = try JSON.parse(bytes) } catch { throw refuse("the manifest is not valid JSON: \(error)") }
        guard let o = json.objectValue else { throw refuse("the manifest is not a JSON object") }
        let mediaType = o["mediaType"]?.stringValue ?? contentType.map { String($0.split(separator: ";")[0]).trimmingSpaces } ?? ""
        switch mediaType {
        case MediaType.ociIndex, MediaType.dockerManifestList:
            throw refuse("this is an image index (\(mediaType)), such as a multi-platform container image, not an irzoo model")
        case MediaType.dockerManifest:
            throw refuse("this is a Docker container image manifest, not an irzoo model")
        case MediaType.ociManifest, "":
            break
        default:
            throw refuse("unsupported manifest media type '\(mediaType)' (irzoo models are \(MediaType.ociManifest))")
        }
        if o["manifests"] != nil { throw refuse("this is an image index, not an irzoo model") }
        guard o["schemaVersion"]?.intValue == 2 else { throw refuse("schemaVersion must be 2") }
        guard let configJSON = o["config"] else { throw refuse("the manifest has no config") }
        let config = try descriptor(configJSON, refuse, "config")
        let artifactType = o["artifactType"]?.stringValue
        if let artifactType, artifactType != MediaType.model {
            throw refuse("this is an OCI artifact of type '\(artifactType)', not an irzoo model (\(MediaType.model))")
        }
        if config.mediaType != MediaType.modelConfig {
            if config.mediaType == MediaType.ociImageConfig || config.mediaType == MediaType.dockerImageConfig {
                throw refuse("this is a container image (config \(config.mediaType)), not an irzoo model")
            }
            throw refuse("the config is '\(config.mediaType)', not an irzoo model config (\(MediaType.modelConfig))")
        }
        guard let layerArray = o["layers"]?.arrayValue, !layerArray.isEmpty else { throw refuse("the manifest has no layers") }
        let layers = try layerArray.enumerated().map { try descriptor($1, refuse, "layers[\($0)]") }
        for (i, l) in layers.enumerated() where l.mediaType != MediaType.irw {
            throw refuse("layers[\(i)] is '\(l.mediaType)', not an .irw blob (\(MediaType.irw))")
        }
        var annotations: [(String, String)] = []
        if let a = o["annotations"] {
            guard let obj = a.objectValue else { throw refuse("annotations must be an object of strings") }
            for (k, v) in obj {
                guard let s = v.stringValue else { throw refuse("annotation '\(k)' must be a string") }
                annotations.append((k, s))
            }
        }
        return ModelArtifact(config: config, layers: layers, annotations: annotations, withArtifactType: artifactType != nil)
    }

    /// Largest manifest and config a pull reads (the distribution spec suggests 4 MiB for manifests).
    static let maxManifestBytes = 4 << 20
    static let maxConfigBytes = 4 << 20

    private static func descriptor(_ json: JSON, _ refuse: (String) -> DistributionError, _ field: String) throws -> Descriptor {
        guard let o = json.objectValue else { throw refuse("\(field) is not a descriptor object") }
        guard let mediaType = o["mediaType"]?.stringValue, !mediaType.isEmpty else { throw refuse("\(field) has no mediaType") }
        guard let digest = o["digest"]?.stringValue else { throw refuse("\(field) has no digest") }
        guard OCIReference.isSHA256Digest(digest) else {
            throw refuse("\(field) digest '\(digest)' is not sha256: and 64 lowercase hex digits (the only algorithm irzoo checks)")
        }
        guard let size = o["size"]?.intValue, size >= 0 else { throw refuse("\(field) size must be a non-negative integer") }
        var annotations: [(String, String)] = []
        if let a = o["annotations"]?.objectValue {
            for (k, v) in a { if let s = v.stringValue { annotations.append((k, s)) } }
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: size, annotations: annotations)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
