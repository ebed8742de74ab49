import IRTensor

/// safetensors files, validated as strictly as the reference implementation
/// (huggingface/safetensors `read_metadata` + `Metadata::validate`: header length ≤ 100 MB,
/// UTF-8, JSON, string-to-string `__metadata__` (null allowed), known dtypes, offsets sorted and
/// tiling the data section exactly, sizes overflow-checked), and a little stricter: duplicate
/// keys, unknown fields in a tensor entry and leading whitespace are refused (the reference keeps
/// the last duplicate, ignores extra fields and skips leading blanks; duplicates and extra fields
/// are parser differentials a hostile file could exploit). Each rule has a file in
/// Tests/Fixtures/safetensors/malformed/, checked against the reference by the fixture script.
///
/// Tensors are zero-copy views into the file's mapping, in file order (sorted by offset).
public enum SafetensorsReader {
    public static func read(file: ByteBuffer, path: String) throws -> LoadedCheckpoint {
        let header: SafetensorsHeader
        do {
            header = try file.whole.withUnsafeBytes { try SafetensorsHeader.parse($0) }
        } catch let e as SafetensorsFormatError {
            throw CheckpointError(file: path, entry: e.entry, reason: e.reason, offset: e.offset)
        }
        var tensors: [TensorRecord] = []
        tensors.reserveCapacity(header.entries.count)
        for entry in header.entries {
            guard let dtype = entry.dtype else {
                throw CheckpointError(file: path, entry: entry.name,
                                      reason: "dtype \(entry.dtypeName) is valid safetensors but irzoo does not support it (supported: \(supportedNames))")
            }
            let view = ByteView(buffer: file, offset: header.dataStart + entry.begin, count: entry.end - entry.begin)
            do {
                tensors.append(try TensorRecord(name: entry.name, dtype: dtype, shape: entry.shape, data: view))
            } catch let e as TensorRecordError {
                throw CheckpointError(file: path, entry: entry.name, reason: e.reason)
            }
        }
        return LoadedCheckpoint(format: .safetensors, tensors: tensors, metadata: header.metadata)
    }

    /// Opens and reads a safetensors file by path.
    public static func read(path: String) throws -> LoadedCheckpoint {
        let file: ByteBuffer
        do { file = try ByteBuffer.map(path: path) } catch let e as IOFailure {
            throw CheckpointError(file: path, reason: e.reason)
        }
        return try read(file: file, path: path)
    }

    static let supportedNames = DType.allCases.map(\.safetensorsName).joined(separator: " ")
}

/// A header problem: the tensor it concerns (if any), the reason, and the file offset.
public struct SafetensorsFormatError: Error, CustomStringConvertible, Sendable {
    public let entry: String?
    public let reason: String
    public let offset: Int?
    public var description: String {
        (entry.map { "\($0): " } ?? "") + reason + (offset.map { " (at byte \($0))" } ?? "")
    }
}

/// The validated header of a safetensors file.
public struct SafetensorsHeader: Sendable {
    public struct Entry: Sendable {
        public let name: String
        /// The dtype as spelled in the file (e.g. "F32", "F8_E4M3").
        public let dtypeName: String
        /// nil for dtypes the format defines but irzoo does not carry (U16, F8_*, ...).
        public let dtype: DType?
        public let shape: [Int]
        /// Byte range relative to the data section.
        public let begin: Int
        public let end: Int
    }

    /// Sorted by offset: the order of the bytes in the file.
    public let entries: [Entry]
    public let metadata: [String: String]
    /// File offset of the data section (8 + header length).
    public let dataStart: Int

    /// The reference's limit on the JSON header.
    public static let maxHeaderLength = 100_000_000

    /// Every dtype the format defines, with its size in bits (sub-byte types included).
    static let formatDTypeBits: [String: Int] = [
        "BOOL": 8, "U8": 8, "I8": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
        "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64,
        "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
        "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
    ]

    /// Parses and validates the header of a whole file held in `file`.
    public static func parse(_ file: UnsafeRawBufferPointer) throws -> SafetensorsHeader {
        func fail(_ reason: String, _ entry: String? = nil, at offset: Int? = nil) -> SafetensorsFormatError {
            SafetensorsFormatError(entry: entry, reason: reason, offset: offset)
        }
        guard file.count >= 8 else {
            throw fail("file is \(file.count) bytes, too small for the 8-byte safetensors header length")
        }
        let rawLength = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard rawLength <= UInt64(maxHeaderLength) else {
            throw fail("header length \(rawLength) exceeds the 100 MB limit", at: 0)
        }
        let n = Int(rawLength)
        guard n <= file.count - 8 else {
            throw fail("header length \(n) runs past the end of the file (\(file.count) bytes)", at: 0)
        }
        let text = UnsafeRawBufferPointer(rebasing: file[8..<8 + n])
        if let bad = UTF8Validation.firstInvalid(text) {
            throw fail("header is not valid UTF-8", at: 8 + bad)
        }
        guard n > 0, text[0] == UInt8(ascii: "{") else {
            throw fail("header does not start with '{'", at: 8)
        }
        let root: JSON
        do { root = try JSON.parse(text, maxDepth: 128) } catch let e as JSONParseError {
            throw fail("header is not valid JSON: \(e.reason)", at: 8 + e.offset)
        }
        guard let object = root.objectValue else { throw fail("header is not a JSON object", at: 8) }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        entries.reserveCapacity(object.count)
        for (name, value) in object.members {
            if name == "__metadata__" {
                metadata = try parseMetadata(value)
                continue
            }
            entries.append(try parseEntry(name: name, value))
        }

        // The reference sorts by (begin, end); a stable sort keeps header order among equal ranges.
        let sorted = entries.enumerated().sorted { a, b in
            (a.element.begin, a.element.end, a.offset) < (b.element.begin, b.element.end, b.offset)
        }.map(\.element)

        var cursor = 0
        for e in sorted {
            guard e.end >= e.begin else {
                throw fail("data_offsets [\(e.begin), \(e.end)] end before they begin", e.name)
            }
            guard e.begin == cursor else {
                let kind = e.begin < cursor ? "overlap the previous tensor" : "leave a gap after the previous tensor"
                throw fail("data_offsets [\(e.begin), \(e.end)] \(kind) (expected begin \(cursor))", e.name)
            }
            cursor = e.end
            let bits = formatDTypeBits[e.dtypeName]!
            guard let elements = ShapeMath.elementCount(e.shape) else {
                throw fail("shape \(e.shape) overflows", e.name)
            }
            let (totalBits, overflow) = elements.multipliedReportingOverflow(by: bits)
            guard !overflow else { throw fail("shape \(e.shape) of \(e.dtypeName) overflows", e.name) }
            guard totalBits % 8 == 0 else {
                throw fail("shape \(e.shape) of \(e.dtypeName) does not end on a byte boundary", e.name)
            }
            guard totalBits / 8 == e.end - e.begin else {
                throw fail("shape \(e.shape) of \(e.dtypeName) needs \(totalBits / 8) bytes but data_offsets span \(e.end - e.begin)", e.name)
            }
        }
        let dataStart = 8 + n
        let dataLength = file.count - dataStart
        guard cursor == dataLength else {
            throw fail(cursor < dataLength
                       ? "tensors cover \(cursor) bytes but the data section holds \(dataLength): the buffer must be fully indexed"
                       : "tensors need \(cursor) bytes but the data section holds only \(dataLength) (truncated file?)",
                       at: dataStart + min(cursor, dataLength))
        }
        return SafetensorsHeader(entries: sorted, metadata: metadata, dataStart: dataStart)
    }

    private static func parseMetadata(_ value: JSON) throws -> [String: String] {
        if value.isNull { return [:] }
        guard let map = value.objectValue else {
            throw SafetensorsFormatError(entry: "__metadata__", reason: "must be a map of string to string, found \(value.typeName)", offset: nil)
        }
        var out: [String: String] = [:]
        for (k, v) in map.members {
            guard let s = v.stringValue else {
                throw SafetensorsFormatError(entry: "__metadata__", reason: "value of \(JSON.quote(k)) must be a string, found \(v.typeName)", offset: nil)
            }
            out[k] = s
        }
        return out
    }

    private static func parseEntry(name: String, _ value: JSON) throws -> Entry {
        func fail(_ reason: String) -> SafetensorsFormatError { SafetensorsFormatError(entry: name, reason: reason, offset: nil) }
        guard let info = value.objectValue else { throw fail("tensor entry must be an object, found \(value.typeName)") }
        for key in info.keys where key != "dtype" && key != "shape" && key != "data_offsets" {
            throw fail("unexpected field \(JSON.quote(key)) (an entry holds exactly dtype, shape, data_offsets)")
        }
        guard let dtypeValue = info["dtype"] else { throw fail("missing field \"dtype\"") }
        guard let shapeValue = info["shape"] else { throw fail("missing field \"shape\"") }
        guard let offsetsValue = info["data_offsets"] else { throw fail("missing field \"data_offsets\"") }

        guard let dtypeName = dtypeValue.stringValue else { throw fail("dtype must be a string, found \(dtypeValue.typeName)") }
        guard formatDTypeBits[dtypeName] != nil else { throw fail("unknown dtype \(JSON.quote(dtypeName))") }

        guard let dims = shapeValue.arrayValue else { throw fail("shape must be an array, found \(shapeValue.typeName)") }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for d in dims {
            guard let u = d.numberValue?.uint64, u <= UInt64(Int.max) else {
                throw fail("shape dimension \(problem(d))")
            }
            shape.append(Int(u))
        }

        guard let offsets = offsetsValue.arrayValue else {
            throw fail("data_offsets must be an array [begin, end], found \(offsetsValue.typeName)")
        }
        guard offsets.count == 2 else { throw fail("data_offsets must hold exactly 2 integers, found \(offsets.count)") }
        var bounds: [Int] = []
        for o in offsets {
            guard let u = o.numberValue?.uint64, u <= UInt64(Int.max) else {
                throw fail("data offset \(problem(o))")
            }
            bounds.append(Int(u))
        }
        return Entry(name: name, dtypeName: dtypeName, dtype: DType(safetensorsName: dtypeName),
                     shape: shape, begin: bounds[0], end: bounds[1])
    }

    /// Why `v` is not a usable size or offset, starting with the value itself.
    private static func problem(_ v: JSON) -> String {
        guard case .number(let n) = v else { return "is a \(v.typeName), not a non-negative integer" }
        let text = n.literal.count > 40 ? String(n.literal.prefix(40)) + "..." : n.literal
        if n.isIntegerLiteral && !n.literal.hasPrefix("-") { return "\(text) is out of range (at most \(Int.max))" }
        return "\(text) is not a non-negative integer"
    }
}
