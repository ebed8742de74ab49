import Foundation
import XCTest
import IRCheckpoint
import IRTensor
import IRTestSupport

/// UniRestorer-LoRA (reconstructed) through the built binary: `irzoo import --arch unirestorer-lora`
/// of the tiny LoRA tree (Tools/gen_unirestorer_lora_goldens.py), `irzoo run` with the route
/// reported as for the full model, and `--expert N`, against PyTorch.
final class UniRestorerLoRACLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    func golden(_ file: String) -> String { TestSupport.fixture("models/unirestorer-lora-tiny/\(file)") }

    func values(_ path: String) throws -> [Float] {
        let r = try NumpyArray.read(path: path)
        return r.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func testImportAndRunRoutes() throws {
        let imported = try cli.run(["import", golden("model.pth"), "--arch", "unirestorer-lora", "--name", "unilora"])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let doc = try cli.json(["run", "unilora", "--input", golden("input.npy"), "--output", cli.path("out.npy")])
        XCTAssertEqual(doc["family"]?.stringValue, "unirestorer-lora")
        let routes = try XCTUnwrap(doc["routing"]?.arrayValue)
        XCTAssertEqual(routes.map { $0["expert"] }, [.int(13), .int(7)])
        XCTAssertEqual(routes.map { $0["module"]?.stringValue }, ["experts.12", "experts.6"])
        XCTAssertEqual(routes.map { $0["leaf_label"]?.stringValue }, ["heavy compression", "light blur"])
        let error = maxAbs(try values(cli.path("out.npy")), try values(golden("output.npy")))
        print("irzoo run unirestorer-lora (natural routing): max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)

        let text = try cli.run(["run", "unilora", "--input", golden("input.npy"), "--output", cli.path("o2.npy")])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("route: image 1: leaf 20 (light blur), level 1 -> expert 7 (experts.6, restormer)"), text.stdout)

        let forced = try cli.json(["run", "unilora", "--input", golden("input.npy"), "--output", cli.path("f.npy"), "--expert", "20"])
        let fr = try XCTUnwrap(forced["routing"]?.arrayValue)
        XCTAssertEqual(fr.map { $0["module"]?.stringValue }, ["experts.19", "experts.19"])
        let ferror = maxAbs(try values(cli.path("f.npy")), try values(golden("forced_20.npy")))
        print("irzoo run unirestorer-lora --expert 20: max abs error \(ferror)")
        XCTAssertLessThanOrEqual(ferror, 1e-4)
    }
}
