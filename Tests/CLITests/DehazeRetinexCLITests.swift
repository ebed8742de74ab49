import Foundation
import XCTest
import IRCheckpoint
import IRTestSupport

/// UniRestorer's DehazeFormer and RetinexFormer experts through the built binary: `irzoo import`
/// of the BasicSR {'params'} goldens (Tools/gen_expert_goldens.py), then `irzoo run`, against PyTorch.
final class DehazeRetinexCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    /// A 29×34 8-bit PNG in, PyTorch's answer to those pixels out.
    func testDehazeFormerImportsAndRunsOnAPNG() throws {
        let r = try cli.run(["import", golden("dehazeformer-tiny", "model.pth"), "--arch", "dehazeformer-l", "--name", "dehaze"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try cli.json(["run", "dehaze", "--input", golden("dehazeformer-tiny", "input.png"), "--output", cli.path("d.npy")])
        XCTAssertEqual(doc["family"]?.stringValue, "dehazeformer")
        XCTAssertEqual(doc["output"]?["shape"], .array([.int(1), .int(3), .int(29), .int(34)]))
        let error = maxAbs(try npyValues(cli.path("d.npy")), try npyValues(golden("dehazeformer-tiny", "png_output.npy")))
        print("irzoo run dehazeformer (PNG in): max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)
    }

    /// Without --arch the family and config are detected; a side that is not a multiple of 4 runs.
    func testRetinexFormerIsDetectedAndRuns() throws {
        let r = try cli.run(["import", golden("retinexformer-tiny", "model.pth"), "--name", "retinex"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let show = try cli.run(["show", "retinex"])
        XCTAssertTrue(show.stdout.contains("retinexformer") && show.stdout.contains("n_feat 8"), show.stdout)
        _ = try cli.json(["run", "retinex", "--input", golden("retinexformer-tiny", "input_odd.npy"), "--output", cli.path("r.npy")])
        let error = maxAbs(try npyValues(cli.path("r.npy")), try npyValues(golden("retinexformer-tiny", "output_odd.npy")))
        print("irzoo run retinexformer (21x30 .npy): max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)
    }
}
