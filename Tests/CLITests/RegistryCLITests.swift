import Foundation
import XCTest
import IRTensor
import IRTestSupport

/// `irzoo list --available`, `irzoo show ID` for a registered variant, and how `import --arch`
/// reports a checkpoint of another architecture (issue 5).
final class RegistryCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    /// Every manifest compiled into the binary appears, runnable ones say so, and the ones that
    /// are not give their reason (RAM's from its manifest); the text table says the same.
    func testListAvailableShowsEveryVariantAndWhyNot() throws {
        let doc = try cli.json(["list", "--available"])
        let rows = try XCTUnwrap(doc["available"]?.arrayValue)
        let zooFiles = try FileManager.default.contentsOfDirectory(atPath: TestSupport.repoRoot.appendingPathComponent("Zoo").path).filter { $0.hasSuffix(".json") }
        XCTAssertEqual(Set(rows.compactMap { $0["id"]?.stringValue }), Set(zooFiles.map { String($0.dropLast(5)) }))
        func row(_ id: String) throws -> JSON { try XCTUnwrap(rows.first { $0["id"]?.stringValue == id }, id) }
        for id in ["symunet", "se-symunet", "clip-vit-l-14", "anyir-t", "anyir-s", "promptir"] {
            XCTAssertEqual(try row(id)["runnable"], .bool(true), id)
            XCTAssertEqual(try row(id)["reason"], .null, id)
        }
        let ram = try row("ram-ren2024")
        XCTAssertEqual(ram["runnable"], .bool(false))
        XCTAssertEqual(ram["family"]?.stringValue, "ram")
        XCTAssertTrue(ram["reason"]?.stringValue?.contains("no public code or weights") ?? false, "\(ram)")
        for r in rows where r["runnable"] == .bool(false) {
            XCTAssertFalse(r["reason"]?.stringValue?.isEmpty ?? true, "a not-runnable variant gives a reason: \(r)")
        }

        let text = try cli.run(["list", "--available"])
        XCTAssertEqual(text.status, 0, text.stderr)
        let ramLine = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.hasPrefix("ram-ren2024 ") })
        XCTAssertTrue(ramLine.contains("  no  ") && ramLine.contains("not runnable: no public code or weights"), String(ramLine))
        let symunetLine = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.hasPrefix("symunet ") })
        XCTAssertTrue(symunetLine.contains("  yes  ") && symunetLine.contains("22.3M"), String(symunetLine))
        XCTAssertTrue(text.stdout.contains("\(rows.count) registered variants, "), text.stdout)
    }

    /// `show ID` of a registered variant that is not installed prints the registry entry, with
    /// the reason it cannot run; an unknown name is still "not installed" (status 5).
    func testShowOfARegisteredIdGivesItsRunnability() throws {
        let r = try cli.run(["show", "ram-ren2024"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("registered architecture; not installed"), r.stdout)
        XCTAssertTrue(r.stdout.contains("runnable:      no: no public code or weights"), r.stdout)
        let doc = try cli.json(["show", "anyir-s"])
        XCTAssertEqual(doc["installed"], .bool(false))
        XCTAssertEqual(doc["runnable"], .bool(true))
        XCTAssertEqual(doc["parameters"]?.intValue, 8_513_436)
        XCTAssertEqual(try cli.run(["show", "no-such-model"]).status, 5)
    }

    /// A checkpoint of a totally different architecture: one error line with the counts, at most
    /// ten lines of each kind of problem, a pointer to --json, status 4; `--json` prints every
    /// missing and unexpected tensor.
    func testImportOfAnotherArchitecturePrintsASummary() throws {
        let ckpt = TestSupport.fixture("models/anyir-s/model.ckpt")
        let r = try cli.run(["import", ckpt, "--arch", "symunet"])
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertEqual(r.stdout, "")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("irzoo: error: \(ckpt): does not fit symunet: 453 missing, 253 unexpected (0 match)"), lines[0])
        XCTAssertEqual(lines.filter { $0.hasPrefix("  missing ") }.count, 10, r.stderr)
        XCTAssertEqual(lines.filter { $0.hasPrefix("  unexpected ") }.count, 10, r.stderr)
        XCTAssertTrue(lines.contains("  ... and 443 more missing"), r.stderr)
        XCTAssertTrue(lines.contains("  ... and 243 more unexpected"), r.stderr)
        XCTAssertTrue(lines.contains { $0.contains("is this checkpoint another architecture?") }, r.stderr)
        XCTAssertEqual(lines.last, "  (add --json for the full report)")
        XCTAssertLessThan(lines.count, 30)
        XCTAssertLessThan(lines.map(\.count).max() ?? 0, 200, "no very long line")

        let j = try cli.run(["import", ckpt, "--arch", "symunet", "--json"])
        XCTAssertEqual(j.status, 4, j.stderr)
        XCTAssertEqual(j.stderr.split(separator: "\n").count, 1, "the error line only: \(j.stderr)")
        let doc = try JSON.parse(j.stdout)
        XCTAssertEqual(doc["status"]?.stringValue, "inventory-mismatch")
        XCTAssertEqual(doc["architecture"]?.stringValue, "symunet")
        XCTAssertEqual(doc["missing"]?.arrayValue?.count, 453)
        XCTAssertEqual(doc["unexpected"]?.arrayValue?.count, 253)
        XCTAssertEqual(doc["mis_shaped"]?.arrayValue?.count, 0)
        XCTAssertEqual(doc["missing"]?.arrayValue?.first?["name"]?.stringValue, "intro.weight")
        XCTAssertEqual(doc["missing"]?.arrayValue?.first?["expected"], .array([.int(48), .int(3), .int(3), .int(3)]))
        XCTAssertEqual(cli.entries("blobs").count, 0, "nothing installed")
    }

    /// Some tensors fit (10 match), so no "another architecture?" hint; mis-shaped tensors are
    /// cut short like the others.
    func testMisShapedTensorsAreCutShortToo() throws {
        let r = try cli.run(["import", TestSupport.fixture("models/anyir-s/model.ckpt"), "--arch", "promptir"])
        XCTAssertEqual(r.status, 4, r.stderr)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasSuffix("does not fit promptir: 411 missing, 122 unexpected, 121 mis-shaped (10 match)"), lines[0])
        XCTAssertEqual(lines.filter { $0.hasPrefix("  mis-shaped ") }.count, 10, r.stderr)
        XCTAssertTrue(lines.contains("  ... and 111 more mis-shaped"), r.stderr)
        XCTAssertFalse(r.stderr.contains("another architecture?"), r.stderr)
        XCTAssertEqual(lines.count, 1 + 3 * 11 + 1, r.stderr)
    }
}
