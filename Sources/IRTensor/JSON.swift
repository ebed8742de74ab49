/// A JSON tree with object members kept in document order and numbers kept as their literal
/// text (so 64-bit offsets stay exact). Used for the .irw header, store manifests, JSON Schema
/// validation and the CLI's `--json` output; lives here so every module can share it.
///
/// `JSON.parse` is strict (RFC 8259): valid UTF-8 only, no duplicate keys (a parser
/// differential on duplicates is a known smuggling vector for weight headers), no comments,
/// trailing commas, leading zeros, NaN or control characters, bounded nesting.
public indirect enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Number)
    case string(String)
    case array([JSON])
    case object(Object)

    /// A number as its JSON literal.
    public struct Number: Equatable, Sendable, CustomStringConvertible {
        public let literal: String

        /// `literal` must already be a valid JSON number (the parser guarantees it).
        init(literal: String) { self.literal = literal }
        public init(_ value: Int) { literal = String(value) }
        public init(_ value: UInt64) { literal = String(value) }
        /// Nil for NaN and infinities, which JSON cannot spell.
        public init?(_ value: Double) {
            guard value.isFinite else { return nil }
            if value == value.rounded(), abs(value) < 1e15 {
                literal = String(Int64(value))
            } else {
                literal = "\(value)"
            }
        }

        /// True for a literal without fraction or exponent.
        public var isIntegerLiteral: Bool { !literal.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } }
        /// The value when the literal is an integer that fits in Int.
        public var int: Int? { isIntegerLiteral ? Int(literal) : nil }
        /// The value when the literal is a non-negative integer that fits in UInt64.
        public var uint64: UInt64? { isIntegerLiteral && !literal.hasPrefix("-") ? UInt64(literal) : nil }
        public var double: Double { Double(literal) ?? .nan }
        /// True when the value is mathematically an integer (JSON Schema's "integer": 1.0 counts).
        public var isIntegral: Bool { isIntegerLiteral || double == double.rounded() }
        public var description: String { literal }
    }

    /// An object: members in order, unique keys.
    public struct Object: Equatable, Sendable, Sequence {
        public private(set) var members: [(key: String, value: JSON)] = []
        private var index: [String: Int] = [:]

        public init() {}

        /// Builds an object from ordered pairs; a later duplicate key replaces the earlier value.
        public init(_ pairs: [(String, JSON)]) {
            for (k, v) in pairs { self[k] = v }
        }

        public subscript(key: String) -> JSON? {
            get { index[key].map { members[$0].value } }
            set {
                if let i = index[key] {
                    if let newValue { members[i].value = newValue } else { remove(at: i) }
                } else if let newValue {
                    index[key] = members.count
                    members.append((key, newValue))
                }
            }
        }

        private mutating func remove(at i: Int) {
            members.remove(at: i)
            index = [:]
            for (j, m) in members.enumerated() { index[m.key] = j }
        }

        /// Appends a member whose key must not exist yet; returns false (and changes nothing) on a duplicate.
        mutating func appendUnique(_ key: String, _ value: JSON) -> Bool {
            guard index[key] == nil else { return false }
            index[key] = members.count
            members.append((key, value))
            return true
        }

        public var keys: [String] { members.map { $0.key } }
        public var count: Int { members.count }
        public var isEmpty: Bool { members.isEmpty }

        public func makeIterator() -> IndexingIterator<[(key: String, value: JSON)]> { members.makeIterator() }

        public static func == (a: Object, b: Object) -> Bool {
            a.members.count == b.members.count
                && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        }
    }
}

// MARK: - Convenience

extension JSON {
    public static func int(_ v: Int) -> JSON { .number(Number(v)) }
    public static func uint64(_ v: UInt64) -> JSON { .number(Number(v)) }
    /// NaN and infinities become null.
    public static func double(_ v: Double) -> JSON { Number(v).map { .number($0) } ?? .null }
    public static func object(_ pairs: [(String, JSON)]) -> JSON { .object(Object(pairs)) }
    /// A string, or null when `s` is nil.
    public static func stringOrNull(_ s: String?) -> JSON { s.map { .string($0) } ?? .null }

    public var objectValue: Object? { if case .object(let o) = self { return o }; return nil }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a }; return nil }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var numberValue: Number? { if case .number(let n) = self { return n }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var intValue: Int? { numberValue?.int }
    public var isNull: Bool { self == .null }

    public subscript(key: String) -> JSON? { objectValue?[key] }

    /// The JSON Schema type name of this value ("object", "integer", ...).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number(let n): return n.isIntegerLiteral ? "integer" : "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

// MARK: - Parsing

public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    /// Byte offset in the parsed text.
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

extension JSON {
    public static let defaultMaxDepth = 64

    /// Parses exactly one value, surrounded only by JSON whitespace.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) throws -> JSON {
        var p = JSONParser(bytes: bytes, maxDepth: maxDepth)
        p.skipWhitespace()
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        guard p.pos == bytes.count else { throw p.fail("unexpected characters after the value") }
        return v
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws -> JSON {
        try bytes.withUnsafeBytes { try parse($0, maxDepth: maxDepth) }
    }

    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws -> JSON {
        var t = text
        return try t.withUTF8 { try parse(UnsafeRawBufferPointer($0), maxDepth: maxDepth) }
    }
}

private struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    let maxDepth: Int
    var pos = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func fail(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? pos, reason: reason)
    }

    @inline(__always) func peek() -> UInt8? { pos < bytes.count ? bytes[pos] : nil }

    mutating func skipWhitespace() {
        while pos < bytes.count {
            let c = bytes[pos]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            pos += 1
        }
    }

    mutating func value(depth: Int) throws -> JSON {
        guard let c = peek() else { throw fail("unexpected end of input, expected a value") }
        switch c {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("unexpected character \(describe(c))")
        }
    }

    mutating func literal(_ word: String) throws {
        for w in word.utf8 {
            guard peek() == w else { throw fail("invalid literal, expected '\(word)'") }
            pos += 1
        }
    }

    mutating func object(depth: Int) throws -> JSON {
        guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        pos += 1
        var obj = JSON.Object()
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { pos += 1; return .object(obj) }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw fail(pos >= bytes.count ? "unexpected end of input in an object" : "expected a string key") }
            let keyAt = pos
            let key = try string()
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
            pos += 1
            skipWhitespace()
            let v = try value(depth: depth)
            guard obj.appendUnique(key, v) else { throw fail("duplicate key \"\(key)\"", at: keyAt) }
            skipWhitespace()
            guard let c = peek() else { throw fail("unexpected end of input in an object") }
            pos += 1
            if c == UInt8(ascii: "}") { return .object(obj) }
            guard c == UInt8(ascii: ",") else { throw fail("expected ',' or '}'", at: pos - 1) }
        }
    }

    mutating func array(depth: Int) throws -> JSON {
        guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        pos += 1
        var items: [JSON] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth))
            skipWhitespace()
            guard let c = peek() else { throw fail("unexpected end of input in an array") }
            pos += 1
            if c == UInt8(ascii: "]") { return .array(items) }
            guard c == UInt8(ascii: ",") else { throw fail("expected ',' or ']'", at: pos - 1) }
        }
    }

    mutating func number() throws -> JSON.Number {
        let start = pos
        func digit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        if peek() == UInt8(ascii: "-") { pos += 1 }
        guard digit(peek()) else { throw fail("expected a digit") }
        if peek() == UInt8(ascii: "0") {
            pos += 1
            if digit(peek()) { throw fail("leading zeros are not allowed") }
        } else {
            while digit(peek()) { pos += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            pos += 1
            guard digit(peek()) else { throw fail("expected a digit after '.'") }
            while digit(peek()) { pos += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            pos += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { pos += 1 }
            guard digit(peek()) else { throw fail("expected a digit in the exponent") }
            while digit(peek()) { pos += 1 }
        }
        return JSON.Number(literal: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self))
    }

    mutating func string() throws -> String {
        let open = pos
        pos += 1
        // Fast path: no escapes. Validate the run as UTF-8 in one go.
        var scan = pos
        while scan < bytes.count {
            let c = bytes[scan]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
            scan += 1
        }
        if scan < bytes.count, bytes[scan] == UInt8(ascii: "\"") {
            let run = UnsafeRawBufferPointer(rebasing: bytes[pos..<scan])
            if let bad = UTF8Validation.firstInvalid(run) { throw fail("invalid UTF-8 in a string", at: pos + bad) }
            pos = scan + 1
            return String(decoding: run, as: UTF8.self)
        }
        var out: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw fail("unterminated string", at: open) }
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                if out.withUnsafeBytes({ UTF8Validation.firstInvalid($0) }) != nil { throw fail("invalid UTF-8 in a string", at: open) }
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { throw fail("control character in a string") }
            if c != UInt8(ascii: "\\") { out.append(c); pos += 1; continue }
            pos += 1
            guard let e = peek() else { throw fail("unterminated escape") }
            pos += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                let at = pos - 2
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard bytes.count - pos >= 6, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate in a \\u escape", at: at)
                    }
                    pos += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in a \\u escape", at: at) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired surrogate in a \\u escape", at: at)
                }
                out.append(contentsOf: Array(String(Unicode.Scalar(scalar)!).utf8))
            default:
                throw fail("invalid escape \\\(describe(e))", at: pos - 2)
            }
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard bytes.count - pos >= 4 else { throw fail("unexpected end of input in a \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("invalid hex digit in a \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    func describe(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "0x" + String(c, radix: 16)
    }
}

/// Well-formedness of UTF-8 (Unicode table 3-7: no overlongs, surrogates or values past U+10FFFF).
public enum UTF8Validation {
    /// Offset of the first byte of the first ill-formed sequence, or nil when all is valid.
    public static func firstInvalid(_ b: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool { i + k < n && b[i + k] >= lo && b[i + k] <= hi }
            let len: Int
            switch c {
            case 0xC2...0xDF: len = cont(1) ? 2 : 0
            case 0xE0: len = cont(1, 0xA0) && cont(2) ? 3 : 0
            case 0xE1...0xEC, 0xEE...0xEF: len = cont(1) && cont(2) ? 3 : 0
            case 0xED: len = cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0
            case 0xF0: len = cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0
            case 0xF1...0xF3: len = cont(1) && cont(2) && cont(3) ? 4 : 0
            case 0xF4: len = cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0
            default: len = 0
            }
            if len == 0 { return i }
            i += len
        }
        return nil
    }
}

// MARK: - Writing

extension JSON {
    /// Compact JSON (no spaces), or `pretty` with two-space indentation. Members keep their order.
    public func serialized(pretty: Bool = false) -> String {
        var out = ""
        write(into: &out, pretty: pretty, indent: 0)
        return out
    }

    public func serializedBytes(pretty: Bool = false) -> [UInt8] { Array(serialized(pretty: pretty).utf8) }

    private func write(into out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n.literal
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            // Arrays of scalars (shapes) stay on one line even when pretty.
            let flat = !pretty || items.allSatisfy { if case .array = $0 { return false }; if case .object = $0 { return false }; return true }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += flat && pretty ? ", " : "," }
                if !flat { newline(&out, indent + 1) }
                item.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if !flat { newline(&out, indent) }
            out += "]"
        case .object(let obj):
            if obj.isEmpty { out += "{}"; return }
            out += "{"
            for (i, m) in obj.members.enumerated() {
                if i > 0 { out += "," }
                if pretty { newline(&out, indent + 1) }
                JSON.quote(m.key, into: &out)
                out += pretty ? ": " : ":"
                m.value.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&out, indent) }
            out += "}"
        }
    }

    private func newline(_ out: inout String, _ indent: Int) {
        out += "\n"
        out += String(repeating: "  ", count: indent)
    }

    /// Appends `s` as a JSON string literal; non-ASCII stays raw UTF-8.
    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F || isInvisibleControl(u) {
                    // Also C1 controls, separators and bidi/format characters: still valid JSON,
                    // and `--json` printed on a terminal cannot drive it.
                    let units = u.value > 0xFFFF ? Array(String(u).utf16) : [UInt16(u.value)]
                    for unit in units {
                        let hex = String(unit, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    private static func isInvisibleControl(_ u: Unicode.Scalar) -> Bool {
        guard u.value >= 0x80 else { return false }
        switch u.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    public static func quote(_ s: String) -> String {
        var out = ""
        quote(s, into: &out)
        return out
    }
}

// MARK: - Codable

/// A coding key for any string: lists the keys an object really has (strict decoding, any-JSON decoding).
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?
    public init(_ s: String) { stringValue = s; intValue = nil }
    public init?(stringValue: String) { self.init(stringValue) }
    public init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

/// `["key": value, ...]` builds an object in the order written.
extension JSON.Object: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSON)...) { self.init(elements) }
}

/// Through `Codable` a JSON value is a field whose shape the decoding type does not fix (a
/// manifest's family config, a stored config). A `Decoder` exposes no member order, so object
/// members arrive sorted by key; numbers keep integer spelling when they were integers.
/// Text from outside should go through `JSON.parse`, which is stricter than `JSONDecoder`.
extension JSON: Codable {
    public init(from decoder: Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items = [JSON]()
            while !array.isAtEnd { items.append(try array.decode(JSON.self)) }
            self = .array(items)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyCodingKey.self) {
            var members = Object()
            for key in object.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                members[key.stringValue] = try object.decode(JSON.self, forKey: key)
            }
            self = .object(members)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let b = try? single.decode(Bool.self) { self = .bool(b) }
        else if let i = try? single.decode(Int.self) { self = .int(i) }
        else if let d = try? single.decode(Double.self) { self = .double(d) }
        else { self = .string(try single.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .object(let members):
            var c = encoder.container(keyedBy: AnyCodingKey.self)
            for m in members { try c.encode(m.value, forKey: AnyCodingKey(m.key)) }
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .string(let s): var c = encoder.singleValueContainer(); try c.encode(s)
        case .number(let n):
            var c = encoder.singleValueContainer()
            if let i = n.int { try c.encode(i) } else { try c.encode(n.double) }
        case .bool(let b): var c = encoder.singleValueContainer(); try c.encode(b)
        case .null: var c = encoder.singleValueContainer(); try c.encodeNil()
        }
    }

    /// Object members of `overrides` replace (recursively merge into) this object's members;
    /// new members go last. Any other pair: `overrides` wins.
    public func merging(_ overrides: JSON) -> JSON {
        guard case .object(var base) = self, case .object(let over) = overrides else { return overrides }
        for (k, v) in over { base[k] = base[k].map { $0.merging(v) } ?? v }
        return .object(base)
    }
}
