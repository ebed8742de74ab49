/// A tensor-name pattern from a manifest: literal text with placeholders.
///
/// - `{name}` matches one or more characters other than `.` (one dotted segment or part of one:
///   `in_proj_{p}` matches `in_proj_weight`);
/// - `{name*}` matches one or more characters, dots included (`clip_model.text_model.{rest*}`).
///
/// Patterns match whole names. A template (`to` side of a rename) uses the same placeholders,
/// filled with what the pattern captured.
public struct KeyPattern: Sendable, Hashable, CustomStringConvertible {
    enum Piece: Sendable, Hashable {
        case literal([UInt8])
        case segment(String)
        case rest(String)
    }

    let pieces: [Piece]
    public let description: String

    public init(_ text: String) throws {
        var pieces = [Piece]()
        var literal = [UInt8]()
        var bytes = Array(text.utf8)[...]
        while let c = bytes.first {
            if c == UInt8(ascii: "{") {
                guard let close = bytes.firstIndex(of: UInt8(ascii: "}")) else {
                    throw KeyPatternError(pattern: text, reason: "unclosed '{'")
                }
                var name = String(decoding: bytes[bytes.index(after: bytes.startIndex)..<close], as: UTF8.self)
                let isRest = name.hasSuffix("*")
                if isRest { name.removeLast() }
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw KeyPatternError(pattern: text, reason: "bad placeholder name '{\(name)}'")
                }
                if !literal.isEmpty { pieces.append(.literal(literal)); literal = [] }
                if let last = pieces.last, !Self.isLiteral(last) {
                    throw KeyPatternError(pattern: text, reason: "two placeholders need literal text between them")
                }
                pieces.append(isRest ? .rest(name) : .segment(name))
                bytes = bytes[bytes.index(after: close)...]
            } else if c == UInt8(ascii: "}") {
                throw KeyPatternError(pattern: text, reason: "unmatched '}'")
            } else {
                literal.append(c)
                bytes = bytes.dropFirst()
            }
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        self.pieces = pieces
        self.description = text
    }

    private static func isLiteral(_ p: Piece) -> Bool { if case .literal = p { return true } else { return false } }

    /// Placeholder names in order of appearance.
    public var placeholders: [String] {
        pieces.compactMap {
            switch $0 {
            case .segment(let n), .rest(let n): return n
            case .literal: return nil
            }
        }
    }

    /// The captures when `name` matches the whole pattern, else nil.
    public func match(_ name: String) -> [String: String]? {
        let bytes = Array(name.utf8)
        var captures = [String: String]()
        return matchFrom(0, 0, bytes, &captures) ? captures : nil
    }

    public func matches(_ name: String) -> Bool { match(name) != nil }

    private func matchFrom(_ pi: Int, _ si: Int, _ s: [UInt8], _ caps: inout [String: String]) -> Bool {
        if pi == pieces.count { return si == s.count }
        switch pieces[pi] {
        case .literal(let lit):
            guard s.count - si >= lit.count else { return false }
            for k in 0..<lit.count where s[si + k] != lit[k] { return false }
            return matchFrom(pi + 1, si + lit.count, s, &caps)
        case .segment(let name), .rest(let name):
            let allowsDots: Bool
            if case .rest = pieces[pi] { allowsDots = true } else { allowsDots = false }
            // Longest first, so `{a*}.pos_embed` binds as much as it can; backtrack on failure.
            var end = si
            while end < s.count && (allowsDots || s[end] != UInt8(ascii: ".")) { end += 1 }
            while end > si {
                caps[name] = String(decoding: s[si..<end], as: UTF8.self)
                if matchFrom(pi + 1, end, s, &caps) { return true }
                end -= 1
            }
            caps[name] = nil
            return false
        }
    }

    /// Fills this pattern's placeholders from `captures` (used for the `to` side of renames).
    public func fill(_ captures: [String: String]) throws -> String {
        var out = [UInt8]()
        for p in pieces {
            switch p {
            case .literal(let lit): out += lit
            case .segment(let n), .rest(let n):
                guard let v = captures[n] else {
                    throw KeyPatternError(pattern: description, reason: "placeholder {\(n)} is not captured by the source pattern")
                }
                out += Array(v.utf8)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public struct KeyPatternError: Error, CustomStringConvertible, Sendable {
    public let pattern: String
    public let reason: String
    public var description: String { "key pattern '\(pattern)': \(reason)" }
}
