import Foundation

/// The registered variants: every `Zoo/*.json`, compiled into the binary at build time (the
/// EmbedZoo plugin writes `EmbeddedZoo.files`) so the CLI needs no resource files at run time.
/// Each manifest's config is typed by its family from `families` (IRModels' `Families`).
public struct Zoo: Sendable {
    public let manifests: [ZooManifest]
    public let families: FamilyCatalog

    /// Decodes manifests given as (file name, JSON text) and types each config with its family;
    /// errors name the file and the field.
    public init(files: [(name: String, json: String)], families: FamilyCatalog) throws {
        var out = [ZooManifest]()
        var seen = [String: String]()
        for (name, json) in files {
            var m: ZooManifest
            do {
                m = try StrictJSONDecoding.decode(ZooManifest.self, from: json)
                try m.typeConfig(with: families)
            } catch {
                throw ZooError(file: name, reason: DecodingErrorText.describe(error))
            }
            guard name == m.id + ".json" else {
                throw ZooError(file: name, reason: "file name must be the id plus .json ('\(m.id).json')")
            }
            if let other = seen[m.id] { throw ZooError(file: name, reason: "id '\(m.id)' is also used by \(other)") }
            seen[m.id] = name
            out.append(m)
        }
        manifests = out.sorted { $0.id < $1.id }
        self.families = families
    }

    /// The manifests compiled into this binary.
    public static func embedded(families: FamilyCatalog) throws -> Zoo {
        try Zoo(files: EmbeddedZoo.files.map { (name: $0.name, json: $0.json) }, families: families)
    }

    /// The manifest files compiled into this binary, as (file name, exact JSON text).
    public static var embeddedFiles: [(name: String, json: String)] { EmbeddedZoo.files }

    /// Every `*.json` directly in `directory` (tests compare this with the embedded copy).
    public static func load(directory: String, families: FamilyCatalog) throws -> Zoo {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        return try Zoo(files: names.map { name in
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else { throw ZooError(file: path, reason: "cannot read") }
            return (name: name, json: String(decoding: data, as: UTF8.self))
        }, families: families)
    }

    public func manifest(_ id: String) -> ZooManifest? { manifests.first { $0.id == id } }

    public var ids: [String] { manifests.map { $0.id } }
}

public struct ZooError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let reason: String
    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
    public var description: String { "\(file): \(reason)" }
}
