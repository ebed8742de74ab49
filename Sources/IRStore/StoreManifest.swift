import IRFormat
import IRTensor

/// The record of one installed model: `manifests/NAME.json`, validated against
/// `Schemas/store-manifest.schema.json`. The blob it names holds the weights; a pipeline's
/// record (schema version 2) also names one blob per component, each with its role.
public struct StoreManifest: Sendable, Equatable {
    /// The newest version written: a record with components. A one-blob record is still written
    /// as version 1, which irzoo builds from before pipelines read.
    public static let schemaVersion = 2
    public static let readableVersions = 1...2

    public struct Blob: Sendable, Equatable {
        /// The .irw file digest; the blob is `blobs/sha256-DIGEST.irw`.
        public var digest: String
        /// Bytes on disk.
        public var size: Int
        /// Identifies the weights and metadata regardless of when and from which file name they
        /// were converted; two imports with the same content id share one blob.
        public var contentID: String
        /// The .irw format version of the blob ("1.0").
        public var formatVersion: String
        /// "sha256:" + the SHA-256 of the file's bytes: the blob's digest in an OCI registry
        /// (docs/OCI.md). Not the tree digest above; recorded by push and pull (computing it
        /// reads the whole file, which import does not pay for), nil until then.
        public var ociDigest: String? = nil

        var json: JSON {
            .object([
                ("digest", .string(digest)), ("size", .int(size)),
                ("content_id", .string(contentID)), ("format_version", .string(formatVersion)),
            ] + (ociDigest.map { [("oci_digest", JSON.string($0))] } ?? []))
        }
    }

    public struct Tensors: Sendable, Equatable {
        public var count: Int
        /// Elements over all tensors (buffers included).
        public var parameters: Int
        /// Bytes of tensor data (the logical size).
        public var bytes: Int
        /// Tensor count per dtype, in first-seen order.
        public var dtypes: [(dtype: String, count: Int)]

        public static func == (a: Tensors, b: Tensors) -> Bool {
            a.count == b.count && a.parameters == b.parameters && a.bytes == b.bytes
                && a.dtypes.map { "\($0.dtype)=\($0.count)" } == b.dtypes.map { "\($0.dtype)=\($0.count)" }
        }

        var json: JSON {
            .object([
                ("count", .int(count)), ("parameters", .int(parameters)), ("bytes", .int(bytes)),
                ("dtypes", .object(dtypes.map { ($0.dtype, JSON.int($0.count)) })),
            ])
        }

        /// "f32", or "f32+i64" for a mix (the most common first).
        public var dtypeSummary: String {
            dtypes.isEmpty ? "-" : dtypes.sorted { $0.count > $1.count }.map { $0.dtype }.joined(separator: "+")
        }
    }

    public struct Verification: Sendable, Equatable {
        public var time: String
        public var intact: Bool
        /// One line per problem found (empty when intact).
        public var problems: [String]
    }

    /// One part of a pipeline (docs/FORMAT.md, "Pipelines"): its role (`unet`, `vae`,
    /// `text_encoder`, `tokenizer`, `scheduler`, ...) and the blob holding it, described as a
    /// one-blob record describes its blob.
    public struct Component: Sendable, Equatable {
        public var role: String
        public var architecture: String
        public var variant: String?
        public var config: JSON
        public var blob: Blob
        public var source: IRWSource
        public var keyMapping: [String]
        public var notes: [String]
        public var converter: String?
        public var tensors: Tensors

        /// Describes the .irw `file` installed as component `role`, made as `provenance` says.
        public init(role: String, file: IRWFile, provenance: IRWProvenance?) throws {
            let m = try StoreManifest(name: "component", file: file, provenance: provenance)
            self.init(role: role, record: m)
        }

        init(role: String, record m: StoreManifest) {
            self.role = role
            architecture = m.architecture
            variant = m.variant
            config = m.config
            blob = m.blob
            source = m.source
            keyMapping = m.keyMapping
            notes = m.notes
            converter = m.converter
            tensors = m.tensors
        }
    }

    public var name: String
    public var architecture: String
    public var variant: String?
    public var config: JSON
    public var blob: Blob
    /// Where the weights came from. Format 1.1 blobs hold content only, so this record is where
    /// provenance lives (docs/FORMAT.md); `show` reads it from here.
    public var source: IRWSource
    /// The key-mapping rules the import applied, one line each.
    public var keyMapping: [String] = []
    /// The import's notes (dtype conversion, choices made).
    public var notes: [String] = []
    /// The program that converted the weights ("irzoo 0.1.0"), when known.
    public var converter: String? = nil
    public var tensors: Tensors
    public var imported: String
    public var verified: Verification?
    /// Registry repositories (`REGISTRY/REPO`) this model was pushed to or pulled from, most
    /// recent first: where `push` may mount its blobs from instead of uploading them.
    public var remotes: [String] = []
    /// A pipeline's parts, in the order the pipeline lists them; empty for a one-blob model. The
    /// record's own `blob` then holds the pipeline's description (`model_index.json`).
    public var components: [Component] = []

    public var isPipeline: Bool { !components.isEmpty }

    /// Every blob the record names, its own first: what `verify` hashes and `rm`/`gc` keep.
    public var blobs: [Blob] { [blob] + components.map { $0.blob } }
    public var digests: [String] { blobs.map { $0.digest } }

    /// Parameters, tensors and tensor bytes over every blob.
    public var totalTensors: Tensors {
        guard isPipeline else { return tensors }
        var all = tensors
        for c in components {
            all.count += c.tensors.count
            all.parameters += c.tensors.parameters
            all.bytes += c.tensors.bytes
            for (d, n) in c.tensors.dtypes {
                if let i = all.dtypes.firstIndex(where: { $0.dtype == d }) { all.dtypes[i].count += n } else { all.dtypes.append((d, n)) }
            }
        }
        return all
    }

    public init(name: String, architecture: String, variant: String?, config: JSON, blob: Blob, source: IRWSource,
                tensors: Tensors, imported: String, verified: Verification? = nil) {
        self.name = name
        self.architecture = architecture
        self.variant = variant
        self.config = config
        self.blob = blob
        self.source = source
        self.tensors = tensors
        self.imported = imported
        self.verified = verified
    }

    /// Describes the model in `file`, installed as `name`, made as `provenance` says. A 1.0 file
    /// carries its own provenance, which wins: a record pulled from an older push may lack the
    /// key mapping its header has. A 1.1 file has none, so the caller's is used.
    public init(name: String, file: IRWFile, provenance: IRWProvenance?, imported: String = Timestamp.now()) throws {
        guard let made = file.metadata.provenance ?? provenance else {
            throw StoreError(.unreadable, "\(file.path): a format \(file.version) file holds no provenance; the caller must say where it came from")
        }
        var dtypes: [(dtype: String, count: Int)] = []
        for t in file.tensors {
            if let i = dtypes.firstIndex(where: { $0.dtype == t.dtype.rawValue }) { dtypes[i].count += 1 } else { dtypes.append((t.dtype.rawValue, 1)) }
        }
        let m = file.metadata
        self.init(name: name, architecture: m.architecture, variant: m.variant, config: m.config,
                  blob: Blob(digest: file.digest, size: file.buffer.count, contentID: ModelStore.contentID(of: file), formatVersion: file.version),
                  source: made.source,
                  tensors: Tensors(count: file.tensors.count, parameters: file.header.parameterCount, bytes: file.header.tensorBytes, dtypes: dtypes),
                  imported: imported)
        keyMapping = made.keyMapping
        notes = made.notes
        converter = made.converter
    }

    /// The record's provenance, as the importer handed it over (time = import time).
    public var provenance: IRWProvenance {
        IRWProvenance(source: source, keyMapping: keyMapping, converter: converter ?? "unknown", created: imported, notes: notes)
    }

    // MARK: JSON

    public var json: JSON {
        var fields: [(String, JSON)] = [("schema_version", .int(isPipeline ? Self.schemaVersion : 1)), ("name", .string(name))]
        fields += Component(role: "", record: self).blobFields
        if isPipeline { fields.append(("components", .array(components.map { $0.json }))) }
        fields.append(("imported", .string(imported)))
        fields.append(("verified", verified.map { v in
            .object([("time", .string(v.time)), ("intact", .bool(v.intact)), ("problems", .array(v.problems.map { .string($0) }))])
        } ?? .null))
        if !remotes.isEmpty { fields.append(("remotes", .array(remotes.map { .string($0) }))) }
        return .object(fields)
    }

    /// Strict decoding: every field the schema requires, with its type.
    public init(json: JSON, path: String) throws {
        func bad(_ why: String) -> StoreError { StoreError(.unreadable, "\(path): damaged manifest: \(why)") }
        guard let o = json.objectValue else { throw bad("not a JSON object") }
        guard let version = o["schema_version"]?.intValue else { throw bad("no schema_version") }
        guard Self.readableVersions.contains(version) else {
            throw StoreError(.unreadable, "\(path): manifest schema version \(version) is not readable by irzoo \(IRWLayout.version) (it reads 1 to \(Self.schemaVersion))")
        }
        try self.init(fields: o, path: path, bad: bad)
        if let v = o["components"] {
            guard version >= 2 else { throw bad("\"components\" needs schema_version 2") }
            guard let list = v.arrayValue, !list.isEmpty else { throw bad("\"components\" must be a non-empty array") }
            for (i, item) in list.enumerated() {
                guard let co = item.objectValue else { throw bad("component \(i) must be an object") }
                guard let role = co["role"]?.stringValue, Self.isRole(role) else {
                    throw bad("component \(i): \"role\" must be 1 to 64 lowercase letters, digits or '_'")
                }
                guard !components.contains(where: { $0.role == role }) else { throw bad("component role '\(role)' appears twice") }
                components.append(Component(role: role, record: try StoreManifest(fields: co, path: path, bad: bad)))
            }
        } else if version >= 2 {
            throw bad("a version 2 record must list its \"components\"")
        }
    }

    /// Component roles: `unet`, `text_encoder_2`, ...
    public static func isRole(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    /// The fields a one-blob record and a component share (a component's name, time and
    /// verification are the record's own).
    private init(fields o: JSON.Object, path: String, bad: (String) -> StoreError) throws {
        func str(_ o: JSON.Object?, _ k: String) throws -> String {
            guard let s = o?[k]?.stringValue else { throw bad("\"\(k)\" must be a string") }
            return s
        }
        func optStr(_ o: JSON.Object?, _ k: String) throws -> String? {
            guard let v = o?[k], !v.isNull else { return nil }
            guard let s = v.stringValue else { throw bad("\"\(k)\" must be a string or null") }
            return s
        }
        func int(_ o: JSON.Object?, _ k: String) throws -> Int {
            guard let v = o?[k]?.intValue, v >= 0 else { throw bad("\"\(k)\" must be a non-negative integer") }
            return v
        }
        guard let config = o["config"], config.objectValue != nil else { throw bad("\"config\" must be an object") }
        let b = o["blob"]?.objectValue, s = o["source"]?.objectValue, t = o["tensors"]?.objectValue
        guard b != nil, s != nil, t != nil else { throw bad("\"blob\", \"source\" and \"tensors\" must be objects") }
        let digest = try str(b, "digest")
        guard ModelStore.isDigest(digest) else { throw bad("blob digest must be 64 lowercase hex digits") }
        guard let dt = t?["dtypes"]?.objectValue else { throw bad("\"dtypes\" must be an object") }
        var dtypes: [(dtype: String, count: Int)] = []
        for (k, v) in dt {
            guard let n = v.intValue else { throw bad("dtype counts must be integers") }
            dtypes.append((k, n))
        }
        var verified: Verification? = nil
        if let v = o["verified"], !v.isNull {
            guard let vo = v.objectValue, let intact = vo["intact"]?.boolValue, let problems = vo["problems"]?.arrayValue else {
                throw bad("\"verified\" must be null or an object with time, intact and problems")
            }
            verified = Verification(time: try str(vo, "time"), intact: intact, problems: problems.compactMap { $0.stringValue })
        }
        var sourceSize: Int? = nil
        if let v = s?["size"], !v.isNull { sourceSize = try int(s, "size") }
        var ociDigest: String? = nil
        if let v = b?["oci_digest"] {
            guard let d = v.stringValue, d.hasPrefix("sha256:"), ModelStore.isDigest(String(d.dropFirst(7))) else {
                throw bad("\"oci_digest\" must be \"sha256:\" and 64 lowercase hex digits")
            }
            ociDigest = d
        }
        var remotes: [String] = []
        if let v = o["remotes"] {
            guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else { throw bad("\"remotes\" must be an array of strings") }
            remotes = a.compactMap { $0.stringValue }
        }
        let isComponent = o["role"] != nil
        let name = try isComponent ? "component" : str(o, "name")
        let imported = try isComponent ? "" : str(o, "imported")
        self.init(name: name, architecture: try str(o, "architecture"), variant: try optStr(o, "variant"), config: config,
                  blob: Blob(digest: digest, size: try int(b, "size"), contentID: try str(b, "content_id"), formatVersion: try str(b, "format_version")),
                  source: IRWSource(fileName: try str(s, "file_name"), sha256: try str(s, "sha256"), container: try str(s, "container"),
                                    size: sourceSize, wrapper: try optStr(s, "wrapper")),
                  tensors: Tensors(count: try int(t, "count"), parameters: try int(t, "parameters"), bytes: try int(t, "bytes"), dtypes: dtypes),
                  imported: imported, verified: verified)
        self.blob.ociDigest = ociDigest
        self.remotes = remotes
        // Provenance beside the source (added with format 1.1; older records have none).
        func strings(_ k: String) throws -> [String] {
            guard let v = o[k], !v.isNull else { return [] }
            guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else { throw bad("\"\(k)\" must be an array of strings") }
            return a.compactMap { $0.stringValue }
        }
        self.keyMapping = try strings("key_mapping")
        self.notes = try strings("notes")
        self.converter = try optStr(o, "converter")
    }
}

extension StoreManifest.Component {
    /// The component's provenance, as the importer handed it over (time = the pipeline's import time).
    public func provenance(imported: String) -> IRWProvenance {
        IRWProvenance(source: source, keyMapping: keyMapping, converter: converter ?? "unknown", created: imported, notes: notes)
    }

    /// As the record spells it: the one-blob fields, with the role first.
    public var json: JSON { .object([("role", .string(role))] + blobFields) }

    /// What a one-blob record and a component say alike of their blob.
    var blobFields: [(String, JSON)] {
        [
            ("architecture", .string(architecture)),
            ("variant", .stringOrNull(variant)),
            ("config", config),
            ("blob", blob.json),
            ("source", source.json),
            ("key_mapping", .array(keyMapping.map { .string($0) })),
            ("notes", .array(notes.map { .string($0) })),
            ("converter", .stringOrNull(converter)),
            ("tensors", tensors.json),
        ]
    }
}
