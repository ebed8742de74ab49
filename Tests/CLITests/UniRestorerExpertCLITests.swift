import Foundation
import XCTest
import IRCheckpoint
import IRTensor
import IRTestSupport

/// UniRestorer's experts through the built binary: `irzoo import` of BasicSR {'params'} files
/// (Tools/gen_unirestorer_expert_goldens.py), the LoRA one merged at import, then `irzoo run` on .npy.
final class UniRestorerExpertCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    /// The LoRA-Restormer file is detected (no --arch), merged at import (said so), and runs as PyTorch does.
    func testLoRARestormerImportsMergedAndRuns() throws {
        let r = try cli.run(["import", golden("restormer-lora", "model.pth"), "--name", "lora"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue((r.stdout + r.stderr).contains("ConvLoRA"), r.stdout + r.stderr)
        let show = try cli.run(["show", "lora"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("restormer"), show.stdout)
        let doc = try cli.json(["run", "lora", "--input", golden("restormer-lora", "input.npy"), "--output", cli.path("out.npy")])
        XCTAssertEqual(doc["family"]?.stringValue, "restormer")
        let error = maxAbs(try npyValues(cli.path("out.npy")), try npyValues(golden("restormer-lora", "output.npy")))
        print("irzoo run LoRA-Restormer (merged at import): max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)
    }

    /// NAFNetLocal with its own train size given as --config (it is not in the weights).
    func testNAFNetLocalWithTrainSizeConfig() throws {
        let r = try cli.run(["import", golden("nafnet-local", "model.pth"), "--arch", "nafnet-local", "--name", "naf",
                             "--config", #"{"width": 4, "enc_blk_nums": [1, 1, 1, 2], "dec_blk_nums": [1, 1, 1, 1], "train_size": [1, 3, 16, 24]}"#])
        XCTAssertEqual(r.status, 0, r.stderr)
        _ = try cli.json(["run", "naf", "--input", golden("nafnet-local", "input.npy"), "--output", cli.path("naf.npy")])
        let error = maxAbs(try npyValues(cli.path("naf.npy")), try npyValues(golden("nafnet-local", "output.npy")))
        print("irzoo run NAFNetLocal: max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)
    }
}
