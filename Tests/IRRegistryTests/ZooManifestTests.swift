import Foundation
import IRModels
import IRRegistry
import IRTestSupport
import XCTest

final class ZooManifestTests: XCTestCase {
    private var zooDirectory: String { TestSupport.repoRoot.appendingPathComponent("Zoo").path }

    private func manifestText(_ id: String) throws -> String {
        try String(contentsOfFile: zooDirectory + "/\(id).json", encoding: .utf8)
    }

    func testEveryManifestDecodesStrictly() throws {
        let zoo = try KeyList.zoo()
        let required = ["symunet", "se-symunet", "clip-vit-l-14", "symunet-demo", "anyir-t", "anyir-s", "promptir", "ram-ren2024",
                        "unirestorer", "unirestorer-lora", "restormer", "dehazeformer-l", "retinexformer", "nafnet-local",
                        "sdxl-vae", "sdxl-unet", "clip-vit-l-14-text", "openclip-vit-bigg-14-text", "unildiff"]
        for id in required { XCTAssertNotNil(zoo.manifest(id), "Zoo/\(id).json is missing") }
        for m in zoo.manifests {
            XCTAssertFalse(m.title.isEmpty)
            XCTAssertFalse(m.paper.title.isEmpty, m.id)
            if !m.runnable { XCTAssertFalse((m.reason ?? "").isEmpty, "\(m.id) must say why it cannot run") }
            // Typed families decode and validate their config; the others keep it as data.
            if Families.catalog.named(m.family) != nil { XCTAssertNotNil(m.modelConfig, m.id) }
            if let g = m.golden {
                XCTAssertLessThanOrEqual(g.maxAbsError, 1e-4, m.id)
                XCTAssertTrue(FileManager.default.fileExists(atPath: TestSupport.fixture(g.fixture + "/config.json")), "\(m.id): golden \(g.fixture)")
            }
        }
    }

    func testEmbeddedZooMatchesZooFolder() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: zooDirectory).filter { $0.hasSuffix(".json") }.sorted()
        let embedded = Zoo.embeddedFiles
        XCTAssertEqual(embedded.map(\.name), names, "the EmbedZoo plugin did not embed Zoo/ as it is")
        for (name, json) in embedded {
            let onDisk = try Data(contentsOf: URL(fileURLWithPath: zooDirectory + "/" + name))
            XCTAssertEqual(Data(json.utf8), onDisk, "\(name) differs from its embedded copy")
        }
        XCTAssertEqual(try Zoo.embedded().ids, try KeyList.zoo().ids)
    }

    func testRAMIsRegisteredButNotRunnableWithItsReason() throws {
        let ram = try XCTUnwrap(try Zoo.embedded().manifest("ram-ren2024"))
        XCTAssertFalse(ram.runnable)
        XCTAssertTrue(ram.reason?.contains("no public code or weights") == true)
        XCTAssertTrue(ram.availability.hasPrefix("not runnable: no public code or weights"), ram.availability)
        // Its id must not collide with the other models called RAM.
        XCTAssertNil(try Zoo.embedded().manifest("ram"))
    }

    func testUnknownFieldsAreRejectedWherever() throws {
        let text = try manifestText("symunet")
        let cases: [(String, String, String)] = [
            ("\"id\": \"symunet\"", "\"id\": \"symunet\", \"colour\": 1", "'colour'"),
            ("\"padMultiple\": 32", "\"padMultiple\": 32, \"padSize\": 32", "'padSize'"),
            ("\"width\": 48", "\"width\": 48, \"widht\": 48", "'widht'"),
            ("\"wrapper\": \"params\"", "\"wrapper\": \"params\", \"prefix\": \"x\"", "'prefix'"),
        ]
        for (find, replace, expected) in cases {
            let bad = text.replacingOccurrences(of: find, with: replace)
            XCTAssertNotEqual(bad, text)
            XCTAssertThrowsError(try Zoo(files: [("symunet.json", bad)], families: Families.catalog)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
                XCTAssertTrue("\(error)".hasPrefix("symunet.json: "), "\(error)")
            }
        }
    }

    func testInvalidManifestsAreRefusedWithTheField() throws {
        let text = try manifestText("symunet")
        let cases: [(String, String, String)] = [
            ("\"restormer_heads\": [\n      1,\n      2,\n      4\n    ]", "\"restormer_heads\": [5, 2, 4]", "restormer_heads[0]"),
            ("\"runnable\": true,", "\"runnable\": false,\n  \"reasons\": \"x\",", "'reasons'"),
            ("\"id\": \"symunet\"", "\"id\": \"SymUNet\"", "lowercase id"),
            ("\"padMode\": \"reflect\"", "\"padMode\": \"mirror\"", "padMode"),
            ("\"pattern\"", "\"pattern\"", ""),
        ]
        for (find, replace, expected) in cases where !expected.isEmpty {
            let bad = text.replacingOccurrences(of: find, with: replace)
            XCTAssertNotEqual(bad, text, "fixture text changed: \(find)")
            XCTAssertThrowsError(try Zoo(files: [("symunet.json", bad)], families: Families.catalog)) { error in
                XCTAssertTrue("\(error)".contains(expected), "expected '\(expected)' in: \(error)")
            }
        }
        XCTAssertThrowsError(try Zoo(files: [("other.json", text)], families: Families.catalog)) { error in
            XCTAssertTrue("\(error)".contains("file name must be the id"), "\(error)")
        }
        XCTAssertThrowsError(try Zoo(files: [("symunet.json", text), ("symunet.json", text)], families: Families.catalog))
    }

    func testManifestConfigsDecodeIntoTheirFamilies() throws {
        let zoo = try Zoo.embedded()
        XCTAssertEqual(zoo.manifest("symunet")?.modelConfig?.typed(SymUNetConfig.self), .published)
        XCTAssertEqual(zoo.manifest("se-symunet")?.modelConfig?.typed(SESymUNetConfig.self), .published)
        XCTAssertEqual(zoo.manifest("clip-vit-l-14")?.modelConfig?.typed(CLIPVisionConfig.self), .vitL14)
        XCTAssertEqual(zoo.manifest("anyir-t")?.modelConfig?.typed(AnyIRConfig.self), .tiny)
        XCTAssertEqual(zoo.manifest("anyir-s")?.modelConfig?.typed(AnyIRConfig.self), .small)
        XCTAssertEqual(zoo.manifest("promptir")?.modelConfig?.typed(PromptIRConfig.self), .published)
        XCTAssertEqual(zoo.manifest("symunet")?.input.padMultiple, SymUNetConfig.published.padMultiple)
        // UniRestorer's manifest config is the router and table; experts are read off each import's keys.
        let uni = try XCTUnwrap(zoo.manifest("unirestorer")?.modelConfig?.typed(UniRestorerConfig.self))
        XCTAssertEqual(uni.router, UniRestorerConfig.daclipViTB32)
        XCTAssertEqual(uni.pathTable, UniRestorerConfig.releasedPathTable)
        XCTAssertEqual(uni.pool, UniRestorerConfig.releasedPool)
        XCTAssertTrue(uni.experts.isEmpty)
        XCTAssertEqual(zoo.manifest("unirestorer-lora")?.modelConfig?.typed(UniRestorerLoRAConfig.self), .published)
    }

    func testConfigJSONIsCanonicalAndOverridable() throws {
        let c = try ModelConfig(SymUNetConfig.published)
        let text = c.json.serialized()
        XCTAssertTrue(text.hasPrefix("{\"LayerNorm_type\":\"WithBias\",\"bias\":false,\"dec_blk_nums\":[6,6,4]"), text)
        let family = try XCTUnwrap(Families.catalog.named("symunet"))
        let overridden = try family.decode(c.json.merging(.object(["width": .int(32)])))
        XCTAssertEqual(overridden.typed(SymUNetConfig.self)?.width, 32)
        XCTAssertThrowsError(try family.decode(c.json.merging(.object(["wdth": .int(32)])))) { error in
            XCTAssertTrue("\(error)".contains("'wdth'"), "\(error)")
        }
        XCTAssertThrowsError(try family.decode(c.json.merging(.object(["width": .int(0)])))) { error in
            XCTAssertTrue("\(error)".contains("width"), "\(error)")
        }
    }
}
