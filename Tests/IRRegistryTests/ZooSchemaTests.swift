import Foundation
import IRModels
import IRRegistry
import IRTensor
import IRTestSupport
import XCTest

/// Every manifest also passes `Schemas/zoo-manifest.schema.json` (the store's validator), and
/// the typed families' configs pass the schema's `$defs`.
final class ZooSchemaTests: XCTestCase {
    private let root = TestSupport.repoRoot
    private var schemaText: String {
        get throws { try String(contentsOf: root.appendingPathComponent("Schemas/zoo-manifest.schema.json"), encoding: .utf8) }
    }

    private func manifests() throws -> [(String, String)] {
        let dir = root.appendingPathComponent("Zoo")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted().map {
            ($0, try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8))
        }
    }

    func testEveryManifestValidates() throws {
        let validator = try JSONSchemaValidator(schemaText: try schemaText)
        let files = try manifests()
        XCTAssertGreaterThanOrEqual(files.count, 20)
        for (name, text) in files {
            XCTAssertEqual(validator.validate(try JSON.parse(text)).map(\.description), [], name)
        }
    }

    func testTypedFamilyConfigsValidateAgainstTheirDefinitions() throws {
        let schema = try JSON.parse(try schemaText)
        let defs = try XCTUnwrap(schema.objectValue?["$defs"])
        // Each registered family's $defs entry is named by rule ("se-symunet" -> "seSymunetConfig"),
        // so a new family needs its entry in the schema and nothing in this test.
        func definition(_ family: String) -> String {
            var name = ""
            for (i, word) in family.split(separator: "-").enumerated() {
                name += i == 0 ? String(word) : word.prefix(1).uppercased() + String(word.dropFirst())
            }
            return name + "Config"
        }
        let definitions = Dictionary(uniqueKeysWithValues: Families.all.map { ($0.id, definition($0.id)) })
        XCTAssertEqual(Set(definitions.values), Set((defs.objectValue?.members ?? []).map(\.key).filter { $0.hasSuffix("Config") }))
        var checked = Set<String>()
        for (name, text) in try manifests() {
            let doc = try JSON.parse(text)
            guard let family = doc.objectValue?["family"]?.stringValue, let def = definitions[family] else { continue }
            let validator = try JSONSchemaValidator(schema: .object([("$defs", defs), ("$ref", .string("#/$defs/\(def)"))]))
            let config = try XCTUnwrap(doc.objectValue?["config"])
            XCTAssertEqual(validator.validate(config).map(\.description), [], name)
            // The canonical JSON the registry writes for that config passes too.
            let decoded = try XCTUnwrap(try Zoo.embedded().manifest(String(name.dropLast(5)))?.modelConfig)
            XCTAssertEqual(validator.validate(try JSON.parse(decoded.json.serialized())).map(\.description), [], name)
            checked.insert(family)
        }
        // Every typed family has at least one manifest, and each was validated.
        XCTAssertEqual(checked, Set(definitions.keys))
    }

    func testSchemaRefusesWhatStrictDecodingRefuses() throws {
        let validator = try JSONSchemaValidator(schemaText: try schemaText)
        let text = try String(contentsOf: root.appendingPathComponent("Zoo/symunet.json"), encoding: .utf8)
        let cases: [(String, String)] = [
            ("\"id\": \"symunet\"", "\"id\": \"symunet\", \"colour\": 1"),
            ("\"padMultiple\": 32", "\"padMultiple\": 32, \"padSize\": 32"),
            ("\"wrapper\": \"params\"", "\"wrapper\": \"params\", \"prefix\": \"x\""),
            ("\"id\": \"symunet\"", "\"id\": \"SymUNet\""),
            ("\"maxAbsError\": 0.0001", "\"maxAbsError\": 0.01"),
            ("\"runnable\": true,", ""),
        ]
        for (find, replace) in cases {
            let bad = text.replacingOccurrences(of: find, with: replace)
            XCTAssertNotEqual(bad, text, find)
            XCTAssertFalse(validator.validate(try JSON.parse(bad)).isEmpty, "schema accepted: \(replace)")
        }
    }
}
