import Foundation
import XCTest
import IRFormat
import IRTensor
import IRTestSupport

/// Issue 19: the same weights give the same bytes. `convert` is a pure function of its input
/// (time zone, locale, CPUs and the source container do not matter), and the store keeps one
/// blob for identical weights, whatever file, wrapper or name they were imported from.
/// Fixtures: Tools/gen_dedup_fixtures.py (the symunet-tiny weights saved four ways).
final class DeterministicStoreTests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    func fixture(_ name: String) -> String { TestSupport.fixture("dedup/\(name)") }
    let sources = ["zip.pth", "legacy.pth", "model.safetensors", "basicsr.pth"]

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
    func blobs() -> [String] { cli.entries("blobs").filter { $0.hasSuffix(".irw") } }

    /// Runs `irzoo ARGS` pinned to one CPU (`taskset`), with the store's environment.
    func runOnOneCPU(_ args: [String], env extra: [String: String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        p.arguments = ["-c", "0", TestSupport.irzooBinary] + args
        p.environment = ProcessInfo.processInfo.environment.merging(cli.env.merging(extra) { $1 }) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    func testConvertIsAPureFunctionOfTheWeights() throws {
        let first = cli.path("first.irw")
        XCTAssertEqual(try cli.run(["convert", fixture("zip.pth"), "-o", first], env: ["TZ": "UTC", "LC_ALL": "C"]).status, 0)
        // Another time zone and locale, a second later, on one CPU.
        sleep(1)
        let second = cli.path("second.irw")
        XCTAssertEqual(try runOnOneCPU(["convert", fixture("zip.pth"), "-o", second],
                                       env: ["TZ": "Pacific/Chatham", "LC_ALL": "de_DE.UTF-8", "LANG": "tr_TR.UTF-8"]), 0)
        XCTAssertEqual(try bytes(first), try bytes(second), "two conversions of one file differ")

        // The same tensors from every container and wrapper: the very same file.
        for source in sources.dropFirst() {
            let out = cli.path("from-\(source).irw")
            let r = try cli.run(["convert", fixture(source), "-o", out])
            XCTAssertEqual(r.status, 0, "\(source): \(r.stderr)")
            XCTAssertEqual(try bytes(out), try bytes(first), "\(source) converts to other bytes than zip.pth")
        }

        // Format 1.1: the header is RFC 8785 canonical JSON, tensors in name order, no provenance.
        let file = try IRWFile.open(path: first)
        XCTAssertEqual(file.version, "1.1")
        let data = try bytes(first)
        let header = data.suffix(Int(file.preamble.headerLength))
        XCTAssertEqual(Array(header), file.header.json.canonicalBytes())
        let names = file.tensors.map { $0.name }
        XCTAssertEqual(names, names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        XCTAssertEqual(file.tensors.map { $0.offset }, file.tensors.map { $0.offset }.sorted())
        XCTAssertNil(file.metadata.provenance)
        let text = String(decoding: header, as: UTF8.self)
        for field in ["\"source\"", "\"created\"", "\"converter\"", "\"key_mapping\"", "\"source_name\"", "zip.pth"] {
            XCTAssertFalse(text.contains(field), "the 1.1 header still holds \(field)")
        }
    }

    func testOneBlobForTheSameWeightsUnderManyNames() throws {
        for name in ["a", "b", "c"] {
            XCTAssertEqual(try cli.run(["import", fixture("zip.pth"), "--name", name]).status, 0)
        }
        XCTAssertEqual(blobs().count, 1, "\(blobs())")
        XCTAssertEqual(try cli.installed(), ["a", "b", "c"])
        XCTAssertEqual(try cli.run(["rm", "a"]).status, 0)
        XCTAssertEqual(try cli.run(["rm", "b"]).status, 0)
        XCTAssertEqual(blobs().count, 1, "removing two of three names must keep the blob")
        XCTAssertEqual(try cli.run(["show", "c"]).status, 0)
        XCTAssertEqual(try cli.run(["rm", "c"]).status, 0)
        XCTAssertEqual(try cli.run(["gc"]).status, 0)
        XCTAssertEqual(blobs(), [], "the blob outlived its last model")
    }

    func testEveryContainerAndWrapperLandsOnOneBlobWithItsOwnProvenance() throws {
        for (i, source) in sources.enumerated() {
            let r = try cli.run(["import", fixture(source), "--name", "m\(i)"])
            XCTAssertEqual(r.status, 0, "\(source): \(r.stderr)")
        }
        XCTAssertEqual(blobs().count, 1, "one set of weights, four containers: \(blobs())")
        // Each record keeps where its weights came from.
        let expected = [("zip.pth", "torch-zip", nil), ("legacy.pth", "torch-legacy", nil),
                        ("model.safetensors", "safetensors", nil), ("basicsr.pth", "torch-zip", "params")]
        var digests = Set<String>()
        for (i, (file, container, wrapper)) in expected.enumerated() {
            let doc = try cli.json(["show", "m\(i)"])
            XCTAssertEqual(doc["source"]?["file_name"]?.stringValue, file)
            XCTAssertEqual(doc["source"]?["container"]?.stringValue, container)
            XCTAssertEqual(doc["source"]?["wrapper"]?.stringValue, wrapper)
            XCTAssertNotNil(doc["converter"]?.stringValue)
            XCTAssertEqual(doc["key_mapping"]?.arrayValue?.isEmpty, false, "\(file): no key mapping recorded")
            digests.insert(doc["blob"]?["digest"]?.stringValue ?? "")
        }
        XCTAssertEqual(digests.count, 1)
        // Other weights: another blob.
        XCTAssertEqual(try cli.run(["import", TestSupport.repoRoot.appendingPathComponent("Zoo/demo/symunet-demo.pth").path, "--name", "demo"]).status, 0)
        XCTAssertEqual(blobs().count, 2)
        // What the record says survives the blob's lack of it: `show` prints the mapping.
        let shown = try cli.run(["show", "m3"])
        XCTAssertTrue(shown.stdout.contains("mapping:       unwrapped params"), shown.stdout)
    }

    /// Format 1.0 files (provenance in the header) still verify and import; the import is stored as 1.1.
    func testAFormat10FileStillReadsAndImports() throws {
        let old = TestSupport.fixture("irw/v1-all-dtypes.irw")
        XCTAssertEqual(try IRWFile.open(path: old).version, "1.0")
        XCTAssertNotNil(try IRWFile.open(path: old).metadata.provenance)
        let inspected = try cli.run(["inspect", old])
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        XCTAssertTrue(inspected.stdout.contains("converter:"), inspected.stdout)
        let r = try cli.run(["import", old, "--name", "old"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try cli.json(["show", "old"])
        XCTAssertEqual(doc["blob"]?["format_version"]?.stringValue, "1.1")
        XCTAssertEqual(doc["source"]?["container"]?.stringValue, "irw")
        XCTAssertTrue(doc["notes"]?.arrayValue?.contains { $0.stringValue?.hasPrefix("converted from ") == true } == true, "\(doc)")
        XCTAssertEqual(try cli.run(["verify", "old"]).status, 0)
    }
}
