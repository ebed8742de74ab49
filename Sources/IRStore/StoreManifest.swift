import IRFormat
import IRTensor

/// The record of one installed model: `manifests/NAME.json`, validated against
/// `Schemas/store-manifest.schema.json`. The blob it names holds the weights.
public struct StoreManifest: Sendable, Equatable {
    public static let schemaVersion = 1

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
        .object([
            ("schema_version", .int(Self.schemaVersion)),
            ("name", .string(name)),
            ("architecture", .string(architecture)),
            ("variant", .stringOrNull(variant)),
            ("config", config),
            ("blob", .object([
                ("digest", .string(blob.digest)), ("size", .int(blob.size)),
                ("content_id", .string(blob.contentID)), ("format_version", .string(blob.formatVersion)),
            ] + (blob.ociDigest.map { [("oci_digest", JSON.string($0))] } ?? []))),
            ("source", source.json),
            ("key_mapping", .array(keyMapping.map { .string($0) })),
            ("notes", .array(notes.map { .string($0) })),
            ("converter", .stringOrNull(converter)),
            ("tensors", .object([
                ("count", .int(tensors.count)), ("parameters", .int(tensors.parameters)), ("bytes", .int(tensors.bytes)),
                ("dtypes", .object(tensors.dtypes.map { ($0.dtype, JSON.int($0.count)) })),
            ])),
            ("imported", .string(imported)),
            ("verified", verified.map { v in
                .object([("time", .string(v.time)), ("intact", .bool(v.intact)), ("problems", .array(v.problems.map { .string($0) }))])
            } ?? .null),
        ] + (remotes.isEmpty ? [] : [("remotes", JSON.array(remotes.map { .string($0) }))]))
    }

    /// Strict decoding: every field the schema requires, with its type.
    public init(json: JSON, path: String) throws {
        func bad(_ why: String) -> StoreError { StoreError(.unreadable, "\(path): damaged manifest: \(why)") }
        guard let o = json.objectValue else { throw bad("not a JSON object") }
        guard let version = o["schema_version"]?.intValue else { throw bad("no schema_version") }
        guard version == Self.schemaVersion else {
            throw StoreError(.unreadable, "\(path): manifest schema version \(version) is not readable by irzoo \(IRWLayout.version) (it reads \(Self.schemaVersion))")
        }
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
        self.init(name: try str(o, "name"), architecture: try str(o, "architecture"), variant: try optStr(o, "variant"), config: config,
                  blob: Blob(digest: digest, size: try int(b, "size"), contentID: try str(b, "content_id"), formatVersion: try str(b, "format_version")),
                  source: IRWSource(fileName: try str(s, "file_name"), sha256: try str(s, "sha256"), container: try str(s, "container"),
                                    size: sourceSize, wrapper: try optStr(s, "wrapper")),
                  tensors: Tensors(count: try int(t, "count"), parameters: try int(t, "parameters"), bytes: try int(t, "bytes"), dtypes: dtypes),
                  imported: try str(o, "imported"), verified: verified)
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
