import IRTensor

/// One row of the tensor table. `offset` is relative to the data section.
public struct IRWTensorEntry: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var offset: Int
    public var length: Int
    /// Lowercase hex SHA-256 of the tensor's bytes.
    public var sha256: String
    /// The key this tensor had in the source checkpoint, when key mapping renamed it.
    public var sourceName: String?

    public init(name: String, dtype: DType, shape: [Int], offset: Int, length: Int, sha256: String, sourceName: String? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.offset = offset
        self.length = length
        self.sha256 = sha256
        self.sourceName = sourceName
    }

    public var elementCount: Int { ShapeMath.elementCount(shape) ?? 0 }
}

/// Where the weights came from.
public struct IRWSource: Sendable, Equatable {
    public var fileName: String
    /// SHA-256 of the whole source file.
    public var sha256: String
    /// The container spelling (`torch-zip`, `safetensors`, ..., `irw`).
    public var container: String
    public var size: Int?
    /// How the weights were found inside it ("params", "state_dict (prefix 'net.' stripped)"), if wrapped.
    public var wrapper: String?

    public init(fileName: String, sha256: String, container: String, size: Int? = nil, wrapper: String? = nil) {
        self.fileName = fileName
        self.sha256 = sha256
        self.container = container
        self.size = size
        self.wrapper = wrapper
    }

    /// As the store's record and `convert --json` spell it.
    public var json: JSON {
        .object([
            ("file_name", .string(fileName)), ("sha256", .string(sha256)), ("container", .string(container)),
            ("size", size.map { .int($0) } ?? .null), ("wrapper", .stringOrNull(wrapper)),
        ])
    }
}

/// How a file's weights were made: which source, how its keys were mapped, by which program,
/// when. Format 1.0 kept this in the header; from 1.1 it lives in the store's record beside the
/// blob (docs/FORMAT.md, "Content, not provenance"), so the same weights give the same bytes.
public struct IRWProvenance: Sendable, Equatable {
    public var source: IRWSource
    /// The key-mapping rules applied, one human-readable line each, in order.
    public var keyMapping: [String]
    /// The program that wrote the file ("irzoo 0.1.0").
    public var converter: String
    /// RFC 3339 UTC time of writing.
    public var created: String
    /// Anything else worth keeping (dtype conversion, choices made), one line each.
    public var notes: [String]

    public init(source: IRWSource, keyMapping: [String] = [], converter: String = IRWLayout.converter,
                created: String = Timestamp.now(), notes: [String] = []) {
        self.source = source
        self.keyMapping = keyMapping
        self.converter = converter
        self.created = created
        self.notes = notes
    }
}

/// What the file is: its architecture and configuration, and (read from a 1.0 file, or handed to
/// the writer, which does not store it) how it was made.
public struct IRWMetadata: Sendable, Equatable {
    /// Registry id (`symunet`, ...) or `raw` for a table no architecture claimed.
    public var architecture: String
    public var variant: String?
    /// The architecture's configuration: a JSON object.
    public var config: JSON
    /// Nil for a file of format 1.1 or later, which holds content only.
    public var provenance: IRWProvenance?

    public init(architecture: String = "raw", variant: String? = nil, config: JSON = .object(JSON.Object()),
                provenance: IRWProvenance?) {
        self.architecture = architecture
        self.variant = variant
        self.config = config
        self.provenance = provenance
    }

    public init(architecture: String = "raw", variant: String? = nil, config: JSON = .object(JSON.Object()),
                source: IRWSource, keyMapping: [String] = [], converter: String = IRWLayout.converter,
                created: String = Timestamp.now(), notes: [String] = []) {
        self.init(architecture: architecture, variant: variant, config: config,
                  provenance: IRWProvenance(source: source, keyMapping: keyMapping, converter: converter, created: created, notes: notes))
    }

    public var keyMapping: [String] { provenance?.keyMapping ?? [] }
    public var notes: [String] { provenance?.notes ?? [] }
}

extension IRWLayout {
    public static let version = "0.1.0"
    public static let converter = "irzoo \(version)"
}

/// The decoded JSON header.
public struct IRWHeader: Sendable {
    public var metadata: IRWMetadata
    public var tensors: [IRWTensorEntry]
    /// The header as parsed, unknown fields included (they are ignored, never rejected).
    public var json: JSON

    public init(metadata: IRWMetadata, tensors: [IRWTensorEntry]) {
        self.metadata = metadata
        self.tensors = tensors
        self.json = .null
        self.json = encodedJSON()
    }

    /// Total elements over all tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }
    public var tensorBytes: Int { tensors.reduce(0) { $0 + $1.length } }

    // MARK: encoding

    /// The header as a 1.1 writer stores it: content only (no provenance, no source key names),
    /// serialized canonically by the writer.
    public func encodedJSON() -> JSON {
        let m = metadata
        let meta = JSON.object([
            ("architecture", .string(m.architecture)),
            ("variant", .stringOrNull(m.variant)),
            ("config", m.config),
        ])
        let table = tensors.map { t -> JSON in
            .object([
                ("name", .string(t.name)), ("dtype", .string(t.dtype.rawValue)),
                ("shape", .array(t.shape.map { .int($0) })),
                ("offset", .int(t.offset)), ("length", .int(t.length)), ("sha256", .string(t.sha256)),
            ])
        }
        return .object([
            ("endianness", .string("little")),
            ("alignment", .int(IRWLayout.alignment)),
            ("metadata", meta),
            ("tensors", .array(table)),
        ])
    }

    // MARK: decoding

    /// Parses and validates a header: strict JSON, a complete tensor table whose ranges tile
    /// `dataLength` bytes exactly (64-byte aligned starts, zero-filled gaps below 64 bytes, no
    /// overlaps), known dtypes, overflow-checked sizes, unique names. Unknown fields are ignored.
    /// `minor` is the preamble's minor version: 1.0 headers carry provenance, 1.1 ones do not.
    public static func decode(_ bytes: UnsafeRawBufferPointer, dataLength: Int, path: String, minor: UInt16 = IRWLayout.minorVersion) throws -> IRWHeader {
        func bad(_ reason: String, _ entry: String = "header") -> IRWError { IRWError(.malformed, path: path, entry: entry, reason: reason) }
        let root: JSON
        do { root = try JSON.parse(bytes) } catch let e as JSONParseError {
            throw bad(e.description)
        }
        guard let obj = root.objectValue else { throw bad("must be a JSON object") }
        guard obj["endianness"]?.stringValue == "little" else {
            throw IRWError(.unsupported, path: path, entry: "header", reason: "endianness must be \"little\" (found \(obj["endianness"]?.serialized() ?? "nothing"))")
        }
        guard obj["alignment"]?.intValue == IRWLayout.alignment else {
            throw bad("alignment must be \(IRWLayout.alignment) (found \(obj["alignment"]?.serialized() ?? "nothing"))")
        }
        guard let metaJSON = obj["metadata"]?.objectValue else { throw bad("missing the \"metadata\" object") }
        let metadata = try decodeMetadata(metaJSON, withProvenance: minor == 0, bad)
        guard let rows = obj["tensors"]?.arrayValue else { throw bad("missing the \"tensors\" array") }
        guard rows.count <= IRWLayout.maxTensorCount else { throw bad("\(rows.count) tensors is more than the limit of \(IRWLayout.maxTensorCount)") }

        var tensors: [IRWTensorEntry] = []
        tensors.reserveCapacity(rows.count)
        var names = Set<String>(minimumCapacity: rows.count)
        var end = 0 // end of the previous tensor, relative to the data section
        for (i, row) in rows.enumerated() {
            guard let t = row.objectValue else { throw bad("tensors[\(i)] is not an object") }
            guard let name = t["name"]?.stringValue, !name.isEmpty, name.utf8.count <= IRWLayout.maxNameBytes else {
                throw bad("tensors[\(i)] needs a non-empty \"name\" of at most \(IRWLayout.maxNameBytes) bytes")
            }
            let entry = "tensor '\(name)'"
            guard names.insert(name).inserted else { throw bad("duplicate tensor name", entry) }
            guard let dtypeName = t["dtype"]?.stringValue else { throw bad("missing \"dtype\"", entry) }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw IRWError(.unsupported, path: path, entry: entry, reason: "dtype \"\(dtypeName)\" is not known to irzoo \(IRWLayout.version) (it knows \(DType.allCases.map { $0.rawValue }.joined(separator: " ")))")
            }
            guard let dims = t["shape"]?.arrayValue, dims.count <= IRWLayout.maxRank else {
                throw bad("\"shape\" must be an array of at most \(IRWLayout.maxRank) dimensions", entry)
            }
            var shape: [Int] = []
            shape.reserveCapacity(dims.count)
            for d in dims {
                guard let v = d.numberValue?.uint64, v <= UInt64(Int.max) else { throw bad("shape \(JSON.array(dims).serialized()) has a dimension that is not a non-negative integer", entry) }
                shape.append(Int(v))
            }
            guard let need = ShapeMath.byteCount(shape, dtype) else { throw bad("shape \(shape) of \(dtype.rawValue) overflows", entry) }
            guard let offset = t["offset"]?.numberValue?.uint64.flatMap({ $0 <= UInt64(Int.max) ? Int($0) : nil }),
                  let length = t["length"]?.numberValue?.uint64.flatMap({ $0 <= UInt64(Int.max) ? Int($0) : nil }) else {
                throw bad("\"offset\" and \"length\" must be non-negative integers", entry)
            }
            guard length == need else { throw bad("length \(length) does not match shape \(shape) of \(dtype.rawValue) (\(need) bytes)", entry) }
            guard let expected = IRWLayout.aligned(end) else { throw bad("offsets overflow", entry) }
            if offset % IRWLayout.alignment != 0 { throw bad("offset \(offset) is not \(IRWLayout.alignment)-byte aligned", entry) }
            if offset < expected { throw bad("offset \(offset) overlaps the previous tensor, which ends at \(end)", entry) }
            if offset > expected { throw bad("offset \(offset) leaves a gap after the previous tensor (expected \(expected))", entry) }
            let (e, o) = offset.addingReportingOverflow(length)
            guard !o, e <= dataLength else { throw bad("bytes [\(offset), \(o ? "overflow" : String(e))) extend past the data section (\(dataLength) bytes)", entry) }
            guard let sha = t["sha256"]?.stringValue, isHexDigest(sha) else { throw bad("\"sha256\" must be 64 lowercase hex digits", entry) }
            let sourceName = t["source_name"]?.stringValue
            tensors.append(IRWTensorEntry(name: name, dtype: dtype, shape: shape, offset: offset, length: length, sha256: sha, sourceName: sourceName))
            end = e
        }
        guard end == dataLength else {
            throw bad("the tensor table covers \(end) bytes of the \(dataLength)-byte data section; the rest is not indexed")
        }
        var header = IRWHeader(metadata: metadata, tensors: tensors)
        header.json = root
        return header
    }

    private static func decodeMetadata(_ m: JSON.Object, withProvenance: Bool, _ bad: (String, String) -> IRWError) throws -> IRWMetadata {
        func string(_ key: String, in o: JSON.Object, _ what: String) throws -> String {
            guard let s = o[key]?.stringValue else { throw bad("\(what)\"\(key)\" must be a string", "header") }
            return s
        }
        func optionalString(_ key: String, in o: JSON.Object, _ what: String) throws -> String? {
            guard let v = o[key], !v.isNull else { return nil }
            guard let s = v.stringValue else { throw bad("\(what)\"\(key)\" must be a string or null", "header") }
            return s
        }
        guard let config = m["config"], config.objectValue != nil else { throw bad("metadata \"config\" must be an object", "header") }
        return IRWMetadata(architecture: try string("architecture", in: m, "metadata "),
                           variant: try optionalString("variant", in: m, "metadata "), config: config,
                           provenance: withProvenance ? try decodeProvenance(m, string, optionalString, bad) : nil)
    }

    /// The 1.0 header's provenance fields, all required.
    private static func decodeProvenance(_ m: JSON.Object, _ string: (String, JSON.Object, String) throws -> String,
                                         _ optionalString: (String, JSON.Object, String) throws -> String?,
                                         _ bad: (String, String) -> IRWError) throws -> IRWProvenance {
        func strings(_ key: String) throws -> [String] {
            guard let v = m[key] else { return [] }
            guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else { throw bad("metadata \"\(key)\" must be an array of strings", "header") }
            return a.compactMap { $0.stringValue }
        }
        guard let src = m["source"]?.objectValue else { throw bad("metadata \"source\" must be an object", "header") }
        let sha = try string("sha256", src, "source ")
        guard isHexDigest(sha) else { throw bad("source \"sha256\" must be 64 lowercase hex digits", "header") }
        var size: Int? = nil
        if let s = src["size"], !s.isNull {
            guard let v = s.intValue, v >= 0 else { throw bad("source \"size\" must be a non-negative integer", "header") }
            size = v
        }
        let source = IRWSource(fileName: try string("file_name", src, "source "), sha256: sha,
                               container: try string("container", src, "source "), size: size,
                               wrapper: try optionalString("wrapper", src, "source "))
        guard m["key_mapping"]?.arrayValue != nil else { throw bad("metadata \"key_mapping\" must be an array of strings", "header") }
        return IRWProvenance(source: source, keyMapping: try strings("key_mapping"), converter: try string("converter", m, "metadata "),
                             created: try string("created", m, "metadata "), notes: try strings("notes"))
    }

    static func isHexDigest(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}
