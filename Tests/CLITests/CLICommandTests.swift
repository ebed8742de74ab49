import Foundation
import IRFormat
import IRTensor
import IRTestSupport
import XCTest

/// The commands end to end through the built binary.
final class CLICommandTests: XCTestCase {
    let fixture = TestSupport.fixture("irw/v1-all-dtypes.irw")

    func testInspectJSONFollowsTheContract() throws {
        let h = CLIHarness()
        let doc = try h.json(["inspect", fixture])
        XCTAssertEqual(doc["format"], .string("irw"))
        XCTAssertEqual(doc["wrapper"], .null)
        let tensors = try XCTUnwrap(doc["tensors"]?.arrayValue)
        XCTAssertEqual(tensors.count, 13)
        XCTAssertEqual(tensors[0], .object([("name", .string("encoder.conv.weight")), ("dtype", .string("f32")),
                                            ("shape", .array([.int(2), .int(3), .int(3), .int(3)]))]))
        XCTAssertEqual(tensors.map { $0.objectValue?.keys ?? [] }, Array(repeating: ["name", "dtype", "shape"], count: 13))
        XCTAssertEqual(doc["parameters"], .int(93))
        XCTAssertEqual(doc["irw"]?["digest"], .string("6e331d752bbda432302cdf72dff3f14cb96cc1cf2b94ecc9f9b129893314684b"))
        let text = try h.run(["inspect", fixture])
        XCTAssertEqual(text.status, 0)
        let row = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.hasPrefix("größe.ß ") })
        XCTAssertEqual(row.split(separator: " ", omittingEmptySubsequences: true), ["größe.ß", "f32", "[1]"])
    }

    func testConvertToIRWAndSafetensorsKeepsEveryValue() throws {
        let h = CLIHarness()
        let irw = h.path("copy.irw"), st = h.path("copy.safetensors"), back = h.path("back.irw")
        XCTAssertEqual(try h.run(["convert", fixture, "-o", irw]).status, 0)
        XCTAssertEqual(try h.run(["convert", irw, "-o", st]).status, 0)
        XCTAssertEqual(try h.json(["inspect", st])["format"], .string("safetensors"))
        let converted = try h.json(["convert", st, "-o", back])
        let original = try IRWFile.open(path: fixture), roundTrip = try IRWFile.open(path: back)
        // Format 1.1 lays tensors out in name order; the same tensors, whatever the order.
        XCTAssertEqual(roundTrip.tensors.map { $0.name }, original.tensors.map { $0.name }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        for t in original.tensors {
            let r = try XCTUnwrap(roundTrip.tensors.first { $0.name == t.name }, t.name)
            XCTAssertEqual(r.sha256, t.sha256, t.name)
            XCTAssertEqual(r.shape, t.shape)
        }
        XCTAssertEqual(converted["source"]?["container"], .string("safetensors"), "the source is the file converted")
        XCTAssertNil(roundTrip.metadata.provenance, "a 1.1 file holds content only")
        XCTAssertTrue(roundTrip.verify().isIntact)

        // --dtype f16 changes floating tensors only, rounding as torch does.
        let half = h.path("half.irw")
        let halved = try h.json(["convert", fixture, "-o", half, "--dtype", "f16"])
        let f = try IRWFile.open(path: half)
        let floating: Set<String> = ["f32", "f16", "bf16", "f64"]
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: f.tensors.map { ($0.name, $0.dtype.rawValue) }),
                       Dictionary(uniqueKeysWithValues: original.tensors.map { ($0.name, floating.contains($0.dtype.rawValue) ? "f16" : $0.dtype.rawValue) }))
        let bias = f.record(f.index(of: "encoder.conv.bias")!)
        XCTAssertEqual(ElementConversion.value(bias.data.pointer, .f16, 1), -2.25)
        let notes = halved["notes"]?.arrayValue?.compactMap { $0.stringValue } ?? []
        XCTAssertTrue(notes.contains { $0.contains("converted to f16") }, "\(notes)")
        XCTAssertEqual(try h.run(["convert", fixture, "-o", h.path("x.bin")]).status, 2)
        XCTAssertEqual(try h.run(["convert", fixture, "-o", half, "--dtype", "f8"]).status, 2)
    }

    func testImportListShowVerifyRemoveGC() throws {
        let h = CLIHarness()
        XCTAssertEqual(try h.installed(), [])
        let imported = try h.json(["import", fixture, "--name", "demo"])
        XCTAssertEqual(imported["status"], .string("installed"))
        let digest = try XCTUnwrap(imported["manifest"]?["blob"]?["digest"]?.stringValue)
        XCTAssertEqual(try h.json(["import", fixture, "--name", "demo"])["status"], .string("already-installed"))
        XCTAssertEqual(try h.json(["import", fixture, "--name", "twin"])["status"], .string("installed-shared"))

        let listed = try h.json(["list"])
        let rows = try XCTUnwrap(listed["models"]?.arrayValue)
        XCTAssertEqual(rows.map { $0["name"]?.stringValue }, ["demo", "twin"])
        XCTAssertEqual(rows[0]["architecture"], .string("raw"))
        XCTAssertEqual(rows[0]["parameters"], .int(93))
        XCTAssertEqual(rows[0]["shared_blob"], .bool(true))
        XCTAssertEqual(rows[0]["last_verified"], .null)
        XCTAssertEqual(listed["total_size_on_disk"], rows[0]["size_on_disk"], "a shared blob counts once")

        let shown = try h.json(["show", "demo"])
        XCTAssertEqual(shown["blob"]?["digest"], .string(digest))
        XCTAssertEqual(shown["shared_with"], .array([.string("twin")]))
        XCTAssertEqual(shown["config"]?["width"], .int(4), "an .irw keeps its metadata when imported")
        XCTAssertEqual(shown["source"]?["container"], .string("irw"))
        let schema = try JSONSchemaValidator(schemaText: try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("Schemas/store-manifest.schema.json"), encoding: .utf8))
        let manifest = try JSON.parse(try String(contentsOfFile: "\(h.home)/manifests/demo.json", encoding: .utf8))
        XCTAssertEqual(schema.validate(manifest), [])

        let verified = try h.json(["verify"])
        XCTAssertEqual(verified["intact"], .bool(true))
        XCTAssertNotEqual(try h.json(["list"])["models"]?.arrayValue?[0]["last_verified"], .null)

        let rm1 = try h.json(["rm", "demo"])
        XCTAssertEqual(rm1["removed"]?.arrayValue?[0]["freed_bytes"], .int(0))
        XCTAssertEqual(h.entries("blobs").count, 1)
        XCTAssertEqual(try h.run(["rm", "twin"]).status, 0)
        XCTAssertEqual(h.entries("blobs"), [], "no orphan is left")
        XCTAssertEqual(h.entries("manifests"), [])
        XCTAssertEqual(try h.json(["gc", "--dry-run"])["freed_bytes"], .int(0))
        XCTAssertEqual(h.entries("tmp"), [])
    }

    func testImportReadsSafetensors() throws {
        let h = CLIHarness()
        let src = TestSupport.fixture("safetensors/torch_all_dtypes.safetensors")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: src), "safetensors fixture not present")
        let inspected = try h.json(["inspect", src])
        let r = try h.json(["import", src, "--name", "st"])
        let m = try XCTUnwrap(r["manifest"])
        XCTAssertEqual(m["source"]?["container"], .string("safetensors"))
        XCTAssertEqual(m["tensors"]?["count"]?.intValue, inspected["tensors"]?.arrayValue?.count)
        let blob = try IRWFile.open(path: try XCTUnwrap(r["blob_path"]?.stringValue))
        XCTAssertEqual(blob.tensors.map { $0.name }, inspected["tensors"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        XCTAssertEqual(m["source"]?["sha256"]?.stringValue, try Data(contentsOf: URL(fileURLWithPath: src)).withUnsafeBytes { SHA256Hasher.hex(of: $0) })
    }

    /// A BasicSR torch.save checkpoint end to end: the blob's per-tensor SHA-256s are the ones
    /// PyTorch computed for the same tensors (Tests/Fixtures/torch/expected.json).
    func testImportedTorchCheckpointHasPyTorchsBytes() throws {
        let h = CLIHarness()
        let src = TestSupport.fixture("torch/basicsr.pth")
        let expectedURL = URL(fileURLWithPath: TestSupport.fixture("torch/expected.json"))
        try XCTSkipUnless(FileManager.default.fileExists(atPath: src) && FileManager.default.fileExists(atPath: expectedURL.path))
        let expected = try XCTUnwrap(try JSON.parse(Array(try Data(contentsOf: expectedURL)))["files"]?["basicsr.pth"]?["tensors"]?.arrayValue)
        let r = try h.json(["import", src])
        XCTAssertEqual(r["manifest"]?["name"], .string("basicsr"))
        XCTAssertEqual(r["manifest"]?["source"]?["container"], .string("torch-zip"))
        XCTAssertNotEqual(r["manifest"]?["source"]?["wrapper"], .null)
        let blob = try IRWFile.open(path: try XCTUnwrap(r["blob_path"]?.stringValue))
        // In name order in the blob (format 1.1), each with PyTorch's bytes and shape.
        XCTAssertEqual(blob.tensors.map { $0.name }.sorted(), expected.compactMap { $0["name"]?.stringValue }.sorted())
        for e in expected {
            let t = try XCTUnwrap(blob.tensors.first { $0.name == e["name"]?.stringValue })
            XCTAssertEqual(t.sha256, e["sha256"]?.stringValue, t.name)
            XCTAssertEqual(t.shape, e["shape"]?.arrayValue?.compactMap { $0.intValue } ?? [], t.name)
        }
        let rules = r["manifest"]?["key_mapping"]?.arrayValue?.compactMap { $0.stringValue } ?? []
        XCTAssertTrue(rules.contains { $0.hasPrefix("unwrapped ") }, "the record keeps the key mapping: \(rules)")
        XCTAssertTrue(blob.verify().isIntact)
    }

    func testErrorsAreOneLineWithDistinctExitCodes() throws {
        let h = CLIHarness()
        func check(_ args: [String], _ status: Int32, _ fragment: String, line: UInt = #line) throws {
            let r = try h.run(args)
            XCTAssertEqual(r.status, status, "\(args): \(r.stderr)", line: line)
            XCTAssertTrue(r.stderr.contains(fragment), "\(args): '\(r.stderr)' lacks '\(fragment)'", line: line)
            if status != 2 {
                XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)", line: line)
                XCTAssertEqual(r.stdout, "", line: line)
            }
        }
        try check(["inspect"], 2, "Missing expected argument")
        try check(["frobnicate"], 2, "Unexpected argument")
        try check(["inspect", h.path("missing.pth")], 3, "missing.pth")
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: fixture)))
        try Data(bytes.prefix(bytes.count - 10)).write(to: URL(fileURLWithPath: h.path("cut.irw")))
        try check(["inspect", h.path("cut.irw")], 3, "cut.irw: preamble: the file is \(bytes.count - 10) bytes but its preamble describes \(bytes.count) (truncated)")
        bytes[bytes.count - 5] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: h.path("flip.irw")))
        try check(["import", h.path("flip.irw")], 3, "flip.irw: header: digest mismatch")
        try check(["show", "nothing"], 5, "no model named 'nothing' is installed")
        try check(["rm", "nothing"], 5, "no model named 'nothing'")
        try check(["verify", "nothing"], 5, "no model named 'nothing'")
        try check(["import", fixture, "--name", "../evil"], 2, "not a valid model name")
        try check(["import", fixture, "--arch", "symunet-nope"], 2, "unknown architecture 'symunet-nope'")
        try check(["import", fixture, "--config", "{\"a\":1,\"a\":2}"], 2, "duplicate key")
        XCTAssertEqual(try h.run(["import", fixture, "--name", "a"]).status, 0)
        try check(["import", h.makeSource("other.irw"), "--name", "a"], 5, "already installed with other weights")
        XCTAssertEqual(try h.run(["import", h.makeSource("other.irw"), "--name", "a", "--replace"]).status, 0)
        XCTAssertEqual(h.entries("blobs").count, 1, "the replaced blob is gone")
        XCTAssertEqual(try h.run(["--help"]).status, 0)
    }
}
