import Foundation
import IRTensor

/// Swift's synthesized `Decodable` ignores members it does not know. Manifests and configs are
/// hand-written, so a misspelt field must be an error rather than a silently missing setting:
/// every registry type calls `rejectUnknownKeys` first.
extension Decoder {
    public func rejectUnknownKeys<K: CodingKey & CaseIterable>(_ keys: K.Type, in what: String) throws {
        let known = Set(K.allCases.map { $0.stringValue })
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let unknown = container.allKeys.map { $0.stringValue }.filter { !known.contains($0) }.sorted()
        if let first = unknown.first {
            let list = unknown.count == 1 ? "'\(first)'" : unknown.map { "'\($0)'" }.joined(separator: ", ")
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: codingPath,
                debugDescription: "unknown field\(unknown.count == 1 ? "" : "s") \(list) in \(what) (known: \(known.sorted().joined(separator: ", ")))"))
        }
    }
}

/// Decoding errors as one readable line: the JSON path, then what is wrong.
public enum DecodingErrorText {
    public static func describe(_ error: Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ p: [CodingKey]) -> String {
            let s = p.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return s.isEmpty ? "top level" : String(s.drop(while: { $0 == "." }))
        }
        switch e {
        case .keyNotFound(let key, let ctx):
            return "\(path(ctx.codingPath + [key])): required field missing"
        case .typeMismatch(let type, let ctx):
            return "\(path(ctx.codingPath)): expected \(type)"
        case .valueNotFound(let type, let ctx):
            return "\(path(ctx.codingPath)): expected \(type), found null"
        case .dataCorrupted(let ctx):
            if let underlying = ctx.underlyingError as NSError?, ctx.codingPath.isEmpty {
                return "not valid JSON (\(underlying.localizedDescription))"
            }
            return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// Decodes `T` from JSON text or from a `JSON` value, and encodes a config as canonical JSON.
public enum StrictJSONDecoding {
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from value: JSON) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(value.serialized().utf8))
    }

    /// `value` as JSON with every object's members sorted by key (the canonical form).
    public static func encode<T: Encodable>(_ value: T) throws -> JSON {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try JSON.parse(Array(encoder.encode(value)))
    }
}
