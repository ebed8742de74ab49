/// Canonical JSON after RFC 8785 (JSON Canonicalization Scheme): the same logical value always
/// gives the same bytes, whatever order its members were built in. .irw headers are written this
/// way (docs/FORMAT.md), so converting the same weights twice gives the same file.
///
/// - object members sorted by their keys' UTF-16 code units, no whitespace anywhere;
/// - strings escape only `"`, `\` and U+0000...U+001F (`\b \t \n \f \r`, else `\u00xx`),
///   everything else is raw UTF-8;
/// - numbers as ECMAScript's Number-to-String of their double value (shortest round trip:
///   `1`, `2.66`, `1e-7`, `1e+21`). One departure: an integer literal is kept digit for digit,
///   where RFC 8785 would round integers above 2^53 through a double (headers hold byte offsets).
extension JSON {
    public func canonicalBytes() -> [UInt8] { Array(canonical().utf8) }

    public func canonical() -> String {
        var out = ""
        writeCanonical(into: &out)
        return out
    }

    private func writeCanonical(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n.canonicalLiteral
        case .string(let s): JSON.canonicalQuote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.writeCanonical(into: &out)
            }
            out += "]"
        case .object(let obj):
            out += "{"
            let sorted = obj.members.sorted { $0.key.utf16.lexicographicallyPrecedes($1.key.utf16) }
            for (i, m) in sorted.enumerated() {
                if i > 0 { out += "," }
                JSON.canonicalQuote(m.key, into: &out)
                out += ":"
                m.value.writeCanonical(into: &out)
            }
            out += "}"
        }
    }

    static func canonicalQuote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x08: out += "\\b"
            case 0x09: out += "\\t"
            case 0x0A: out += "\\n"
            case 0x0C: out += "\\f"
            case 0x0D: out += "\\r"
            case 0..<0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}

extension JSON.Number {
    /// The RFC 8785 spelling of this number (see `JSON.canonical`).
    public var canonicalLiteral: String {
        if isIntegerLiteral {
            // "-0" is the double -0, which ECMAScript prints as "0".
            return literal == "-0" ? "0" : literal
        }
        return Self.ecmaScriptString(double)
    }

    /// ECMAScript's Number::toString for a finite double, from Swift's shortest round-trip digits.
    static func ecmaScriptString(_ value: Double) -> String {
        if value == 0 { return "0" }
        var text = "\(abs(value))" // shortest round trip: "2.66", "1e-07", "1.5e+300", "100.0"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...])!
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        var digits = Array(parts[0]) + (parts.count > 1 ? Array(parts[1]) : [])
        var point = parts[0].count + exponent // value = 0.DIGITS x 10^point before stripping
        while digits.first == "0" { digits.removeFirst(); point -= 1 }
        while digits.last == "0" { digits.removeLast() }
        let k = digits.count, n = point
        let d = String(digits)
        var out = value < 0 ? "-" : ""
        if k <= n && n <= 21 {
            out += d + String(repeating: "0", count: n - k)
        } else if 0 < n && n <= 21 {
            out += String(digits[0..<n]) + "." + String(digits[n...])
        } else if -6 < n && n <= 0 {
            out += "0." + String(repeating: "0", count: -n) + d
        } else {
            let e = n - 1
            out += String(digits[0]) + (k > 1 ? "." + String(digits[1...]) : "") + "e" + (e < 0 ? "-" : "+") + String(abs(e))
        }
        return out
    }
}
