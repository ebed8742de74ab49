import Foundation
import IRModels
import IRRegistry
import IRTestSupport
import XCTest

final class KeySignatureTests: XCTestCase {
    let signature = KeySignature([KeyCondition("patch_embed.proj.weight", rank: 4), "output.weight"])

    func testMatchesWhenEveryTensorIsThereWithItsRank() {
        XCTAssertNil(signature.mismatch(ShapeTable(shapes: ["patch_embed.proj.weight": [48, 3, 3, 3], "output.weight": [3], "x": [1]])))
    }

    func testNamesTheAbsentTensors() {
        XCTAssertEqual(signature.mismatch(ShapeTable(shapes: ["x": [1]])), ["patch_embed.proj.weight", "output.weight"])
        XCTAssertEqual(signature.mismatch(ShapeTable(shapes: ["output.weight": [3]])), ["patch_embed.proj.weight"])
    }

    /// Present but of another rank: not this family, with nothing missing to name.
    func testAnotherRankIsAMismatchWithoutNames() {
        XCTAssertEqual(signature.mismatch(ShapeTable(shapes: ["patch_embed.proj.weight": [48, 27], "output.weight": [3]])), [])
    }

    func testPrefixedLooksUnderThePrefix() {
        let tower = signature.prefixed("vision.")
        XCTAssertEqual(tower.conditions.map(\.name), ["vision.patch_embed.proj.weight", "vision.output.weight"])
        XCTAssertNil(tower.mismatch(ShapeTable(shapes: ["vision.patch_embed.proj.weight": [8, 3, 2, 2], "vision.output.weight": [3]])))
    }
}

/// The EmbedZoo plugin's worker, run as the build runs it.
final class ZooEmbedderTests: XCTestCase {
    var embedder: String { (TestSupport.irzooBinary as NSString).deletingLastPathComponent + "/ZooEmbedder" }

    func run(_ files: [String: String]) throws -> (status: Int32, stderr: String, output: String) {
        let dir = TestSupport.makeTempDir("zoo-embedder")
        defer { try? FileManager.default.removeItem(at: dir) }
        var paths = [String]()
        for (name, text) in files {
            let p = dir.appendingPathComponent(name).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: p))
            paths.append(p)
        }
        let out = dir.appendingPathComponent("EmbeddedZoo.swift").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: embedder)
        p.arguments = [out] + paths
        let err = Pipe()
        p.standardError = err
        try p.run()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, errText, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    func testEmbedsEachFileExactlyInNameOrder() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: embedder), "ZooEmbedder not built beside irzoo")
        let r = try run(["b.json": "{\"q\": \"say \\\"hi\\\"\\\\n\"}\n", "a.json": "[\n\t1\r\n]"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.output.contains(#"("a.json", "[\n\t1\r\n]"),"#), r.output)
        XCTAssertTrue(r.output.contains(#"("b.json", "{\"q\": \"say \\\"hi\\\"\\\\n\"}\n"),"#), r.output)
        XCTAssertLessThan(try XCTUnwrap(r.output.range(of: "a.json")).lowerBound, try XCTUnwrap(r.output.range(of: "b.json")).lowerBound)
    }

    func testAManifestThatIsNotJSONFailsTheBuildNamingIt() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: embedder), "ZooEmbedder not built beside irzoo")
        let r = try run(["good.json": "{}", "bad.json": "{\"id\": "])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.contains("bad.json: not JSON"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line")
    }
}
