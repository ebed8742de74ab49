import Foundation
import XCTest
import IRTestSupport
import IRTensor
import IRRegistry
import IRRuntime
import IRModels

/// `KeptLoRA` without the CLI: the LoRA-Restormer fixture mapped with its layout's merge left out,
/// built by `ModelFactory.make(family:config:records:)` from a config carrying `kept_lora_alpha`.
final class KeptLoRAModelTests: XCTestCase {
    func testKeptFactorsAreMergedAtBuildAndMatchPyTorch() throws {
        let golden = ModelCase("restormer-lora")
        let imported = try BasicSRImport(golden, manifest: "restormer")
        let kept = try XCTUnwrap(try KeptLoRA.unmerged(imported.loaded.tensors, layout: imported.resolution.layout))
        XCTAssertEqual(kept.alpha, 16)
        XCTAssertEqual(kept.sites, imported.resolution.mapped.loraMerged)
        XCTAssertEqual(kept.mapped.tensors.map { $0.name }, imported.loaded.tensors.map { $0.name })

        let config = imported.resolution.config.json.merging(.object([KeptLoRA.configKey: .int(16)]))
        let model = try ModelFactory.make(family: "restormer", config: config, records: kept.mapped.tensors, source: "kept")
        assertGolden(try model.run(try golden.tensor("input.npy")), try golden.tensor("output.npy"), "LoRA-Restormer tiny 17x22 (kept, merged at build)")

        // Without the key nothing is merged, and the factors are not part of Restormer's inventory.
        XCTAssertThrowsError(try ModelFactory.make(family: "restormer", config: imported.resolution.config.json,
                                                   records: kept.mapped.tensors, source: "kept")) { error in
            XCTAssertTrue(error is InventoryMismatchError, "\(error)")
        }
        // A different alpha is a different network: the key's value is what is used.
        let alpha8 = try ModelFactory.make(family: "restormer", config: imported.resolution.config.json.merging(.object([KeptLoRA.configKey: .int(8)])),
                                           records: kept.mapped.tensors, source: "kept")
        XCTAssertGreaterThan(maxAbsDifference(try alpha8.run(try golden.tensor("input.npy")), try golden.tensor("output.npy")), 1e-3)
    }

    func testSplitTakesTheKeyOffAndRefusesANonNumber() throws {
        let (config, alpha) = try KeptLoRA.split(.object(["dim": .int(4), KeptLoRA.configKey: .double(16.5)]))
        XCTAssertEqual(config, .object(["dim": .int(4)]))
        XCTAssertEqual(alpha, 16.5)
        XCTAssertNil(try KeptLoRA.split(.object(["dim": .int(4)])).alpha)
        XCTAssertThrowsError(try KeptLoRA.split(.object([KeptLoRA.configKey: .string("16")])))
    }
}
