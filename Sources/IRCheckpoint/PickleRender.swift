import IRTensor

/// Text forms of pickle values: short type names for messages, safe printing of untrusted
/// strings, and a canonical rendering (bounded like every walk) that tests compare against
/// the same rendering done in Python by the fixture generators.
public enum PickleRender {
    /// An untrusted string made safe for a one-line message: control and format characters
    /// (terminal escapes, bidi overrides, newlines) are escaped, and long strings cut.
    public static func printable(_ s: String, limit: Int = 200) -> String {
        var out = ""
        var n = 0
        for u in s.unicodeScalars {
            if n == limit { out += "…"; break }
            n += 1
            switch u.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                out += "\\u{\(String(u.value, radix: 16))}"
            default:
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// "None", "int", "str", "list", "dict", "global os.system", "argparse.Namespace", "tensor", ...
    public static func typeName(_ v: PickleValue, _ heap: PickleHeap) -> String {
        switch v {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .ref(let r):
            switch heap[r] {
            case .tuple: return "tuple"
            case .list: return "list"
            case .set(_, let frozen): return frozen ? "frozenset" : "set"
            case .dict(let d): return d.className ?? "dict"
            case .global(let g): return "global \(printable(g.qualifiedName))"
            case .object(let o): return o.kind == .placeholder ? "placeholder \(printable(o.className))" : printable(o.className)
            case .storage: return "storage"
            case .tensor: return "tensor"
            }
        }
    }

    /// The canonical rendering (see Tools/gen_torch_fixtures.py `render`): floats as their
    /// IEEE bits, strings quoted when plain ASCII and hex otherwise, containers in order,
    /// sets sorted. Throws when the value is deeper or larger than `limits` allow.
    public static func render(_ v: PickleValue, _ heap: PickleHeap, limits: PickleLimits = PickleLimits()) throws -> String {
        var r = Renderer(heap: heap, limits: limits)
        var out = ""
        try r.render(v, depth: 0, into: &out)
        return out
    }

    /// Decimal digits of a two's complement little-endian integer.
    static func decimal(_ twos: [UInt8]) -> String {
        guard let top = twos.last else { return "0" }
        let negative = top & 0x80 != 0
        var mag = twos
        if negative {
            var carry = 1
            for i in mag.indices {
                let v = Int(~mag[i]) + carry
                mag[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
        }
        var digits: [UInt8] = []
        while mag.contains(where: { $0 != 0 }) {
            var rem = 0
            for i in mag.indices.reversed() {
                let cur = rem * 256 + Int(mag[i])
                mag[i] = UInt8(cur / 10)
                rem = cur % 10
            }
            digits.append(UInt8(rem) + 0x30)
        }
        if digits.isEmpty { digits = [0x30] }
        return (negative ? "-" : "") + String(decoding: digits.reversed(), as: UTF8.self)
    }

    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        SHA256Hasher.hex(Array(bytes))
    }

    private struct Renderer {
        let heap: PickleHeap
        let limits: PickleLimits
        var visited = 0
        var onPath = Set<Int>()

        mutating func render(_ v: PickleValue, depth: Int, into out: inout String) throws {
            visited += 1
            guard visited <= limits.maxWalkNodes else { throw PickleError("structure expands past \(limits.maxWalkNodes) nodes") }
            guard depth <= limits.maxNesting else { throw PickleError("nesting deeper than \(limits.maxNesting) levels") }
            switch v {
            case .none: out += "None"
            case .bool(let b): out += b ? "True" : "False"
            case .int(let i): out += String(i)
            case .bigInt(let b): out += PickleRender.decimal(b)
            case .float(let d): out += "float(\(String(d.bitPattern, radix: 16)))"
            case .string(let s): out += PickleRender.quoted(s)
            case .bytes(let b): out += "b:" + PickleRender.hex(b.bytes)
            case .ref(let r):
                guard onPath.insert(r).inserted else { out += "<cycle>"; return }
                defer { onPath.remove(r) }
                try renderNode(r, depth: depth, into: &out)
            }
        }

        mutating func renderList(_ items: [PickleValue], depth: Int, into out: inout String) throws {
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                try render(item, depth: depth + 1, into: &out)
            }
        }

        mutating func renderNode(_ r: Int, depth: Int, into out: inout String) throws {
            switch heap[r] {
            case .tuple(let items):
                out += "("
                try renderList(items, depth: depth, into: &out)
                out += items.count == 1 ? ",)" : ")"
            case .list(let l):
                out += "["
                try renderList(l.items, depth: depth, into: &out)
                out += "]"
            case .set(let s, let frozen):
                var parts: [String] = []
                for item in s.items {
                    var p = ""
                    try render(item, depth: depth + 1, into: &p)
                    parts.append(p)
                }
                out += (frozen ? "frozenset[" : "set[") + parts.sorted().joined(separator: ", ") + "]"
            case .dict(let d):
                if let c = d.className { out += c }
                out += "{"
                for i in 0 ..< d.count {
                    if i > 0 { out += ", " }
                    try render(d.keys[i], depth: depth + 1, into: &out)
                    out += ": "
                    try render(d.values[i], depth: depth + 1, into: &out)
                }
                out += "}"
                if let a = d.attributes {
                    out += "@attrs("
                    try render(a, depth: depth + 1, into: &out)
                    out += ")"
                }
            case .global(let g):
                out += "global(\(PickleRender.printable(g.qualifiedName)))"
            case .object(let o):
                out += PickleRender.printable(o.className) + "("
                try renderList(o.args, depth: depth, into: &out)
                out += ")"
                if let s = o.state {
                    out += "@state("
                    try render(s, depth: depth + 1, into: &out)
                    out += ")"
                }
            case .storage(let s):
                out += "storage(\(PickleRender.quoted(s.key)), \(s.type.name), \(s.numel))"
            case .tensor(let t):
                out += "tensor(\(PickleRender.quoted(t.storage.key)), \(t.elementTypeName), offset=\(t.offset), shape=\(t.shape), strides=\(t.strides))"
            }
        }
    }

    /// Printable ASCII strings in double quotes; anything else as `str:<utf-8 hex>`.
    static func quoted(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) { return "\"\(s)\"" }
        return "str:" + hex(s.utf8)
    }
}
