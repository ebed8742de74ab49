import Foundation
import XCTest
import IRCheckpoint
import IRTensor
import IRTestSupport

/// UniRestorer through the built binary: `irzoo import` of the tiny released-shaped `model.pth`
/// (Tools/gen_unirestorer_goldens.py), `irzoo run` with natural routing (the route reported per
/// image, also in --json) and with `--expert N`, against PyTorch.
final class UniRestorerCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    func golden(_ file: String) -> String { TestSupport.fixture("models/unirestorer-tiny/\(file)") }

    func values(_ path: String) throws -> [Float] {
        let r = try NumpyArray.read(path: path)
        return r.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func importTiny(_ extra: [String] = ["--arch", "unirestorer"]) throws -> String {
        let r = try cli.run(["import", golden("model.pth"), "--name", "uni"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout + r.stderr
    }

    func testImportReportsTheDroppedGroupsAndRunRoutes() throws {
        let said = try importTiny()
        for group in ["daclip_model.clip.", "daclip_model.visual.", "zero_modules", "l2_experts.22", "noise", "ConvLoRA"] {
            XCTAssertTrue(said.contains(group), "\(group) not reported:\n\(said)")
        }
        let doc = try cli.json(["run", "uni", "--input", golden("input.npy"), "--output", cli.path("out.npy")])
        XCTAssertEqual(doc["family"]?.stringValue, "unirestorer")
        let routes = try XCTUnwrap(doc["routing"]?.arrayValue)
        XCTAssertEqual(routes.count, 2)
        XCTAssertEqual(routes.map { $0["expert"] }, [.int(13), .int(28)])
        XCTAssertEqual(routes.map { $0["leaf"] }, [.int(5), .int(20)])
        XCTAssertEqual(routes.map { $0["level"] }, [.int(2), .int(2)])
        XCTAssertEqual(routes.map { $0["module"]?.stringValue }, ["l2_experts.5", "l2_experts.20"])
        XCTAssertEqual(routes.map { $0["expert_family"]?.stringValue }, ["restormer", "retinexformer"])
        XCTAssertEqual(routes.map { $0["leaf_label"]?.stringValue }, ["heavy compression", "light blur"])
        let error = maxAbs(try values(cli.path("out.npy")), try values(golden("output.npy")))
        print("irzoo run unirestorer (natural routing): max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)

        let text = try cli.run(["run", "uni", "--input", golden("input.npy"), "--output", cli.path("out2.npy")])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("route: image 0: leaf 5 (heavy compression), level 2 -> expert 13 (l2_experts.5, restormer)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("route: image 1: leaf 20 (light blur), level 2 -> expert 28 (l2_experts.20, retinexformer)"), text.stdout)
    }

    func testExpertForcesOneExpert() throws {
        _ = try importTiny()
        let doc = try cli.json(["run", "uni", "--input", golden("input.npy"), "--output", cli.path("f.npy"), "--expert", "6"])
        let routes = try XCTUnwrap(doc["routing"]?.arrayValue)
        XCTAssertEqual(routes.map { $0["forced"] }, [.bool(true), .bool(true)])
        XCTAssertEqual(routes.map { $0["module"]?.stringValue }, ["l1_experts.5", "l1_experts.5"])
        let error = maxAbs(try values(cli.path("f.npy")), try values(golden("forced_6.npy")))
        print("irzoo run unirestorer --expert 6: max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)

        let bad = try cli.run(["run", "uni", "--input", golden("input.npy"), "--output", cli.path("bad.npy"), "--expert", "30"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--expert 30") && bad.stderr.contains("0...29"), bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cli.path("bad.npy")))
    }

    /// `--expert` on a model that does not route is a usage error, before any work.
    func testExpertOnAnotherModelIsAUsageError() throws {
        let r = try cli.run(["import", TestSupport.fixture("models/anyir-t/model.ckpt"), "--arch", "anyir-t", "--name", "plain"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let bad = try cli.run(["run", "plain", "--input", TestSupport.fixture("models/anyir-t/input.npy"), "--output", cli.path("x.npy"), "--expert", "1"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("not a mixture of experts"), bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
    }

    /// Without --arch the registry finds UniRestorer from the keys alone.
    func testDetectedWithoutArch() throws {
        _ = try importTiny([])
        let show = try cli.run(["show", "uni"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("unirestorer"), show.stdout)
        XCTAssertTrue(show.stdout.contains("pool 30 of 30 experts"), show.stdout)
    }
}
