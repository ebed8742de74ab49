import Foundation
import IRFormat
import IRTensor
import IRTestSupport
import XCTest

/// Issue 19: convert is a pure function of the weights, and identical weights are stored once,
/// whatever container, wrapper, file name or environment they came from.
final class DedupCLITests: XCTestCase {
    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
    private func dedup(_ name: String) -> String { TestSupport.fixture("dedup/\(name)") }

    /// The same checkpoint converted under another time zone, locale, SIMD level and CPU set, from
    /// another file name and directory, gives the same bytes (a config with many keys included).
    func testConvertGivesTheSameBytesInAnyEnvironment() throws {
        let h = CLIHarness()
        let source = TestSupport.fixture("models/symunet-tiny/checkpoint.pth")
        let elsewhere = h.path("copied/renamed.pth")
        try FileManager.default.createDirectory(atPath: h.path("copied"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source, toPath: elsewhere)

        let a = h.path("a.irw"), b = h.path("b.irw"), c = h.path("c.irw")
        XCTAssertEqual(try h.run(["convert", source, "-o", a], env: ["TZ": "UTC", "LC_ALL": "C"]).status, 0)
        let r = try h.run(["convert", elsewhere, "-o", b], env: ["TZ": "Pacific/Kiritimati", "LC_ALL": "de_DE.UTF-8", "LANG": "tr_TR.UTF-8", "IRZOO_SIMD": "baseline"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try bytes(a), try bytes(b))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset") {
            // One CPU: the hashing and zip-inflating threads interleave differently.
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
            p.arguments = ["-c", "0", TestSupport.irzooBinary, "convert", source, "-o", c]
            p.environment = ProcessInfo.processInfo.environment.merging(["TZ": "America/St_Johns", "IRZOO_HOME": h.home]) { $1 }
            try p.run()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0)
            XCTAssertEqual(try bytes(a), try bytes(c))
        }
        let file = try IRWFile.open(path: a)
        XCTAssertEqual(file.version, "1.1")
        XCTAssertEqual(file.metadata.architecture, "symunet")
        XCTAssertNil(file.metadata.provenance)
        // The file's own sha256 and its .irw digest are both stable: a second run prints the same digest.
        let again = try h.json(["convert", source, "-o", h.path("d.irw")])
        XCTAssertEqual(again["digest"]?.stringValue, file.digest)
    }

    /// The same tensors saved by torch.save (zip and legacy), safetensors and inside a BasicSR
    /// wrapper (Tools/gen_dedup_fixtures.py) land on one blob; each name keeps its provenance.
    func testSameTensorsFromEveryContainerShareOneBlob() throws {
        let h = CLIHarness()
        let sources = [("zip", "same-zip.pth", "torch-zip"), ("legacy", "same-legacy.pth", "torch-legacy"),
                       ("st", "same.safetensors", "safetensors"), ("basicsr", "same-basicsr.pth", "torch-zip")]
        var digests = Set<String>()
        for (name, file, container) in sources {
            let r = try h.json(["import", dedup(file), "--name", name])
            digests.insert(try XCTUnwrap(r["manifest"]?["blob"]?["digest"]?.stringValue))
            XCTAssertEqual(r["manifest"]?["source"]?["container"], .string(container), name)
            XCTAssertEqual(r["manifest"]?["source"]?["file_name"], .string(file), name)
        }
        XCTAssertEqual(digests.count, 1, "one blob for the same weights")
        XCTAssertEqual(h.entries("blobs").count, 1)
        let shown = try h.json(["show", "basicsr"])
        XCTAssertEqual(shown["source"]?["wrapper"]?.stringValue?.contains("params_ema"), true, "\(shown["source"] ?? .null)")
        XCTAssertEqual(shown["source"]?["sha256"]?.stringValue, SHA256Hasher.hex(of: Array(try bytes(dedup("same-basicsr.pth")))))
        let text = try h.run(["show", "legacy"])
        XCTAssertTrue(text.stdout.contains("same-legacy.pth (torch-legacy"), text.stdout)

        // The blob holds PyTorch's bytes for every tensor.
        let expected = try XCTUnwrap(try JSON.parse(Array(try bytes(dedup("expected.json"))))["tensors"]?.objectValue)
        let blob = try IRWFile.open(path: "\(h.home)/blobs/\(h.entries("blobs")[0])")
        XCTAssertEqual(blob.tensors.count, expected.count)
        for t in blob.tensors { XCTAssertEqual(t.sha256, expected[t.name]?["sha256"]?.stringValue, t.name) }

        // Another model: another blob.
        XCTAssertEqual(try h.json(["import", dedup("other.pth"), "--name", "other"])["status"], .string("installed"))
        XCTAssertEqual(h.entries("blobs").count, 2)
    }

    /// The issue's reproduction: one file under three names is one blob; `rm` of two keeps it,
    /// the third `rm` frees it and `gc` finds nothing left.
    func testThreeNamesOneBlobUntilTheLastIsRemoved() throws {
        let h = CLIHarness()
        let source = dedup("same-zip.pth")
        XCTAssertEqual(try h.json(["import", source, "--name", "one"])["status"], .string("installed"))
        XCTAssertEqual(try h.json(["import", source, "--name", "two"])["status"], .string("installed-shared"))
        XCTAssertEqual(try h.json(["import", source, "--name", "three"])["status"], .string("installed-shared"))
        XCTAssertEqual(h.entries("blobs").count, 1)
        let listed = try XCTUnwrap(try h.json(["list"])["models"]?.arrayValue)
        XCTAssertEqual(listed.compactMap { $0["name"]?.stringValue }, ["one", "three", "two"])
        XCTAssertEqual(try h.run(["rm", "one"]).status, 0)
        XCTAssertEqual(try h.run(["rm", "two"]).status, 0)
        XCTAssertEqual(h.entries("blobs").count, 1, "a blob stays while a name uses it")
        XCTAssertEqual(try h.json(["gc", "--dry-run"])["freed_bytes"], .int(0))
        XCTAssertEqual(try h.run(["rm", "three"]).status, 0)
        XCTAssertEqual(h.entries("blobs"), [])
        XCTAssertEqual(try h.json(["gc"])["freed_bytes"], .int(0), "nothing is left for gc")
    }

    /// Format 1.0 files (provenance inside, key order as written) keep verifying and importing;
    /// their provenance moves to the store record.
    func testFormat10FileStillVerifiesAndImports() throws {
        let h = CLIHarness()
        let old = TestSupport.fixture("irw/v1-all-dtypes.irw")
        let file = try IRWFile.open(path: old)
        XCTAssertEqual(file.version, "1.0")
        XCTAssertNotNil(file.metadata.provenance)
        XCTAssertTrue(file.verify().isIntact)
        let r = try h.json(["import", old, "--name", "old"])
        let blob = try IRWFile.open(path: try XCTUnwrap(r["blob_path"]?.stringValue))
        XCTAssertEqual(blob.version, "1.1", "imported into the current format")
        let notes = r["manifest"]?["notes"]?.arrayValue?.compactMap { $0.stringValue } ?? []
        XCTAssertTrue(notes.contains { $0.hasPrefix("converted from '") }, "the 1.0 file's own provenance is kept: \(notes)")
        XCTAssertEqual(r["manifest"]?["blob"]?["format_version"], .string("1.1"))
        XCTAssertEqual(try h.run(["verify", "old"]).status, 0)
    }
}
