/// Validates JSON documents against a JSON Schema (draft 2020-12), for the subset of keywords the
/// project's schemas use. A schema that uses any other keyword is refused when the validator is
/// built, so a rule can never be silently ignored.
///
/// Assertions: `type`, `enum`, `const`, `required`, `properties`, `additionalProperties`, `items`,
/// `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern`, `minimum`, `maximum`, `anyOf`,
/// and `$ref` to `#/$defs/NAME`. Annotations (`$schema`, `$id`, `$comment`, `title`,
/// `description`, `default`, `examples`, `$defs`) are accepted and not checked.
public final class JSONSchemaValidator {
    public struct SchemaError: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let reason: String
        public var description: String { "schema \(path): \(reason)" }
    }

    /// One failed assertion: where in the document (`$.a.b[2]`) and why.
    public struct Violation: CustomStringConvertible, Sendable, Equatable {
        public let path: String
        public let message: String
        public var description: String { "\(path): \(message)" }
    }

    private static let assertions: Set<String> = [
        "type", "enum", "const", "required", "properties", "additionalProperties", "items",
        "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "anyOf", "$ref",
    ]
    private static let annotations: Set<String> = [
        "$schema", "$id", "$comment", "title", "description", "default", "examples", "$defs",
    ]
    private static let typeNames: Set<String> = ["null", "boolean", "integer", "number", "string", "array", "object"]

    public let schema: JSON
    private var patterns: [String: Regex<AnyRegexOutput>] = [:]

    /// Checks that `schema` uses only supported keywords with well-formed values.
    public init(schema: JSON) throws {
        self.schema = schema
        try check(schema, at: "#")
    }

    public convenience init(schemaText: String) throws {
        try self.init(schema: try JSON.parse(schemaText))
    }

    /// Every violation found (empty when `document` is valid).
    public func validate(_ document: JSON) -> [Violation] {
        var out: [Violation] = []
        validate(document, against: schema, at: "$", into: &out)
        return out
    }

    public func isValid(_ document: JSON) -> Bool { validate(document).isEmpty }

    // MARK: schema checking

    private func check(_ s: JSON, at path: String) throws {
        if case .bool = s { return }
        guard let obj = s.objectValue else { throw SchemaError(path: path, reason: "a schema must be an object or a boolean") }
        for (key, value) in obj {
            let here = "\(path)/\(key)"
            if Self.annotations.contains(key) {
                if key == "$defs" {
                    guard let defs = value.objectValue else { throw SchemaError(path: here, reason: "must be an object") }
                    for (name, sub) in defs { try check(sub, at: "\(here)/\(name)") }
                }
                continue
            }
            guard Self.assertions.contains(key) else {
                throw SchemaError(path: here, reason: "keyword '\(key)' is not supported by this validator")
            }
            switch key {
            case "type":
                let names: [String]
                if let s = value.stringValue { names = [s] } else if let a = value.arrayValue, a.allSatisfy({ $0.stringValue != nil }) {
                    names = a.compactMap { $0.stringValue }
                } else { throw SchemaError(path: here, reason: "must be a type name or an array of them") }
                for n in names where !Self.typeNames.contains(n) { throw SchemaError(path: here, reason: "unknown type '\(n)'") }
            case "enum":
                guard value.arrayValue != nil else { throw SchemaError(path: here, reason: "must be an array") }
            case "required":
                guard let a = value.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
                    throw SchemaError(path: here, reason: "must be an array of strings")
                }
            case "properties":
                guard let props = value.objectValue else { throw SchemaError(path: here, reason: "must be an object") }
                for (name, sub) in props { try check(sub, at: "\(here)/\(name)") }
            case "additionalProperties", "items":
                try check(value, at: here)
            case "anyOf":
                guard let a = value.arrayValue, !a.isEmpty else { throw SchemaError(path: here, reason: "must be a non-empty array") }
                for (i, sub) in a.enumerated() { try check(sub, at: "\(here)/\(i)") }
            case "minItems", "maxItems", "minLength", "maxLength":
                guard let n = value.intValue, n >= 0 else { throw SchemaError(path: here, reason: "must be a non-negative integer") }
            case "minimum", "maximum":
                guard value.numberValue != nil else { throw SchemaError(path: here, reason: "must be a number") }
            case "pattern":
                guard let p = value.stringValue else { throw SchemaError(path: here, reason: "must be a string") }
                do { patterns[p] = try Regex(p) } catch {
                    throw SchemaError(path: here, reason: "invalid regular expression '\(p)'")
                }
            case "$ref":
                guard let r = value.stringValue, resolve(r) != nil else {
                    throw SchemaError(path: here, reason: "only local references '#/$defs/NAME' that exist are supported")
                }
            default:
                break // "const" takes any value
            }
        }
    }

    /// A local JSON pointer ("#/$defs/sha256", "#/properties/blob"); no escapes are needed here.
    private func resolve(_ ref: String) -> JSON? {
        guard ref.hasPrefix("#/") else { return nil }
        var node: JSON? = schema
        for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
        return node
    }

    // MARK: validation

    private func validate(_ v: JSON, against s: JSON, at path: String, into out: inout [Violation]) {
        if case .bool(let allowed) = s {
            if !allowed { out.append(Violation(path: path, message: "no value is allowed here")) }
            return
        }
        guard let obj = s.objectValue else { return }
        func fail(_ m: String) { out.append(Violation(path: path, message: m)) }

        if let ref = obj["$ref"]?.stringValue, let target = resolve(ref) {
            validate(v, against: target, at: path, into: &out)
        }
        if let t = obj["type"] {
            let names = t.stringValue.map { [$0] } ?? (t.arrayValue ?? []).compactMap { $0.stringValue }
            if !names.contains(where: { Self.matches(v, type: $0) }) {
                fail("expected \(names.joined(separator: " or ")), found \(v.typeName)")
                return // the other keywords would only repeat the type mismatch
            }
        }
        if let options = obj["enum"]?.arrayValue, !options.contains(where: { Self.equal($0, v) }) {
            fail("must be one of \(options.map { $0.serialized() }.joined(separator: ", "))")
        }
        if let c = obj["const"], !Self.equal(c, v) {
            fail("must be \(c.serialized())")
        }
        if let anyOf = obj["anyOf"]?.arrayValue {
            var branches: [[Violation]] = []
            for sub in anyOf {
                var tmp: [Violation] = []
                validate(v, against: sub, at: path, into: &tmp)
                if tmp.isEmpty { branches = []; break }
                branches.append(tmp)
            }
            if !branches.isEmpty {
                fail("matches none of the allowed forms (" + branches.map { $0.map { $0.description }.joined(separator: "; ") }.joined(separator: " | ") + ")")
            }
        }
        switch v {
        case .number(let n):
            if let m = obj["minimum"]?.numberValue, Self.less(n, m) { fail("must be ≥ \(m.literal)") }
            if let m = obj["maximum"]?.numberValue, Self.less(m, n) { fail("must be ≤ \(m.literal)") }
        case .string(let str):
            let length = str.unicodeScalars.count
            if let m = obj["minLength"]?.intValue, length < m { fail("must be at least \(m) characters long") }
            if let m = obj["maxLength"]?.intValue, length > m { fail("must be at most \(m) characters long") }
            if let p = obj["pattern"]?.stringValue, let re = patterns[p], (try? re.firstMatch(in: str)) == nil {
                fail("\(JSON.quote(str)) does not match the pattern \(p)")
            }
        case .array(let items):
            if let m = obj["minItems"]?.intValue, items.count < m { fail("must have at least \(m) items") }
            if let m = obj["maxItems"]?.intValue, items.count > m { fail("must have at most \(m) items") }
            if let itemSchema = obj["items"] {
                for (i, item) in items.enumerated() { validate(item, against: itemSchema, at: "\(path)[\(i)]", into: &out) }
            }
        case .object(let members):
            for name in obj["required"]?.arrayValue ?? [] {
                if let n = name.stringValue, members[n] == nil { fail("missing required property '\(n)'") }
            }
            let props = obj["properties"]?.objectValue ?? JSON.Object()
            for (key, value) in members {
                let childPath = "\(path).\(key)"
                if let sub = props[key] {
                    validate(value, against: sub, at: childPath, into: &out)
                } else if let extra = obj["additionalProperties"] {
                    if case .bool(false) = extra {
                        out.append(Violation(path: childPath, message: "unexpected property"))
                    } else {
                        validate(value, against: extra, at: childPath, into: &out)
                    }
                }
            }
        default:
            break
        }
    }

    private static func matches(_ v: JSON, type: String) -> Bool {
        switch (type, v) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object), ("number", .number):
            return true
        case ("integer", .number(let n)):
            return n.isIntegral
        default:
            return false
        }
    }

    /// JSON equality with numbers compared by value (1 == 1.0), as the spec requires.
    private static func equal(_ a: JSON, _ b: JSON) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)):
            if let i = x.int, let j = y.int { return i == j }
            return x.double == y.double
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { m in y[m.key].map { equal(m.value, $0) } ?? false }
        default:
            return a == b
        }
    }

    private static func less(_ a: JSON.Number, _ b: JSON.Number) -> Bool {
        if let i = a.int, let j = b.int { return i < j }
        return a.double < b.double
    }
}
