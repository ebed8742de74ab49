/// Any JSON value, for the parts of a manifest whose shape the registry does not type
/// (configs of families without a Swift model yet) and for `--config` overrides.
/// Numbers keep whether they were written as integers, so re-encoding is faithful.
public indirect enum AnyJSON: Codable, Equatable, Sendable, CustomStringConvertible {
    case object([String: AnyJSON])
    case array([AnyJSON])
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case null

    public init(from decoder: Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items = [AnyJSON]()
            while !array.isAtEnd { items.append(try array.decode(AnyJSON.self)) }
            self = .array(items)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyCodingKey.self) {
            var members = [String: AnyJSON]()
            for key in object.allKeys { members[key.stringValue] = try object.decode(AnyJSON.self, forKey: key) }
            self = .object(members)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let b = try? single.decode(Bool.self) { self = .bool(b) }
        else if let i = try? single.decode(Int.self) { self = .integer(i) }
        else if let d = try? single.decode(Double.self) { self = .number(d) }
        else { self = .string(try single.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .object(let members):
            var c = encoder.container(keyedBy: AnyCodingKey.self)
            for key in members.keys.sorted() { try c.encode(members[key]!, forKey: AnyCodingKey(key)) }
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .string(let s): var c = encoder.singleValueContainer(); try c.encode(s)
        case .integer(let i): var c = encoder.singleValueContainer(); try c.encode(i)
        case .number(let d): var c = encoder.singleValueContainer(); try c.encode(d)
        case .bool(let b): var c = encoder.singleValueContainer(); try c.encode(b)
        case .null: var c = encoder.singleValueContainer(); try c.encodeNil()
        }
    }

    /// Object members of `overrides` replace (recursively merge into) this object's members.
    public func merging(_ overrides: AnyJSON) -> AnyJSON {
        guard case .object(var base) = self, case .object(let over) = overrides else { return overrides }
        for (k, v) in over { base[k] = base[k].map { $0.merging(v) } ?? v }
        return .object(base)
    }

    /// Compact JSON with sorted keys (stable, so it can be compared and stored).
    public var description: String {
        switch self {
        case .object(let m):
            return "{" + m.keys.sorted().map { "\(AnyJSON.quote($0)):\(m[$0]!)" }.joined(separator: ",") + "}"
        case .array(let a): return "[" + a.map { $0.description }.joined(separator: ",") + "]"
        case .string(let s): return AnyJSON.quote(s)
        case .integer(let i): return String(i)
        case .number(let d): return "\(d)"  // Swift's shortest round-trip spelling, valid JSON
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// A coding key for any string: used to list the keys an object really has.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?
    public init(_ s: String) { stringValue = s; intValue = nil }
    public init?(stringValue: String) { self.init(stringValue) }
    public init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}
