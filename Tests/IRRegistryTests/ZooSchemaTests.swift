import Foundation
import IRModels
import IRRegistry
import IRTensor
import IRTestSupport
import XCTest

/// Every manifest also passes `Schemas/zoo-manifest.schema.json` (the store's validator), and
/// each config passes its family's `configSchema`.
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

    /// Each family's config schema lives in its config type; together they are the `$defs`
    /// (keyed by family id) every manifest's config is checked against.
    func testTypedFamilyConfigsValidateAgainstTheirDefinitions() throws {
        var members = [(String, JSON)]()
        for family in Families.all {
            do { members.append((family.id, try JSON.parse(family.architecture.configSchema))) } catch {
                XCTFail("\(family.id): configSchema is not JSON: \(error)")
            }
        }
        let defs = JSON.object(members)
        var checked = Set<String>()
        for (name, text) in try manifests() {
            let doc = try JSON.parse(text)
            guard let family = doc.objectValue?["family"]?.stringValue, Families.named(family) != nil else { continue }
            let validator = try JSONSchemaValidator(schema: .object([("$defs", defs), ("$ref", .string("#/$defs/\(family)"))]))
            let config = try XCTUnwrap(doc.objectValue?["config"])
            XCTAssertEqual(validator.validate(config).map(\.description), [], name)
            // The canonical JSON the registry writes for that config passes too.
            let decoded = try XCTUnwrap(try Zoo.embedded().manifest(String(name.dropLast(5)))?.modelConfig)
            XCTAssertEqual(validator.validate(try JSON.parse(decoded.json.serialized())).map(\.description), [], name)
            checked.insert(family)
        }
        // Every registered family has at least one manifest, and each was validated.
        XCTAssertEqual(checked, Set(Families.all.map(\.id)))
    }

    /// A config schema refuses what the family's strict decoding refuses (an unknown field).
    func testAFamilyConfigSchemaRefusesAnUnknownField() throws {
        let schema = try JSON.parse(try XCTUnwrap(Families.named("symunet")).architecture.configSchema)
        let validator = try JSONSchemaValidator(schema: schema)
        let manifest = try JSON.parse(try String(contentsOf: root.appendingPathComponent("Zoo/symunet.json"), encoding: .utf8))
        guard case .object(var fields)? = manifest.objectValue?["config"] else { return XCTFail("symunet.json has no config object") }
        XCTAssertEqual(validator.validate(.object(fields)).map(\.description), [])
        fields["colour"] = .int(1)
        XCTAssertFalse(validator.validate(.object(fields)).isEmpty)
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
