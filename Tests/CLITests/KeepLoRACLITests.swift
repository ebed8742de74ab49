import Foundation
import XCTest
import IRCheckpoint
import IRFormat
import IRTensor
import IRTestSupport

/// `irzoo import --keep-lora`: the LoRA-Restormer fixture (Tools/gen_unirestorer_expert_goldens.py,
/// r=8, alpha=16, random lora_B) stored with its ConvLoRA factors apart, merged only in memory by
/// `irzoo run`; it must run as PyTorch does and as the import-time merge does.
final class KeepLoRACLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    func testKeptLoRAIsStoredApartAndRunsAsMerged() throws {
        let src = golden("restormer-lora", "model.pth")
        let kept = try cli.json(["import", src, "--keep-lora", "--name", "kept", "--json"])
        let merged = try cli.json(["import", src, "--name", "merged", "--json"])

        // The .irw holds the source's tensors under their source names: factors and wrapped convs, nothing merged.
        let keptIRW = try IRWFile.open(path: try XCTUnwrap(kept["blob_path"]?.stringValue))
        let mergedIRW = try IRWFile.open(path: try XCTUnwrap(merged["blob_path"]?.stringValue))
        let sourceNames = try XCTUnwrap(cli.json(["inspect", src])["tensors"]?.arrayValue).compactMap { $0["name"]?.stringValue }
        let keptNames = keptIRW.tensors.map { $0.name }
        XCTAssertEqual(Set(keptNames), Set(sourceNames))
        let sites = keptNames.filter { $0.hasSuffix(".lora_A") }.count
        XCTAssertGreaterThan(sites, 10)
        XCTAssertEqual(keptNames.filter { $0.hasSuffix(".lora_B") }.count, sites)
        XCTAssertEqual(keptNames.filter { $0.hasSuffix(".conv.weight") }.count, sites)
        XCTAssertFalse(mergedIRW.tensors.contains { $0.name.contains("lora_") || $0.name.contains(".conv.weight") })
        XCTAssertEqual(keptIRW.metadata.config.objectValue?["kept_lora_alpha"]?.intValue, 16)
        XCTAssertNil(mergedIRW.metadata.config.objectValue?["kept_lora_alpha"])

        let show = try cli.run(["show", "kept"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("kept_lora_alpha") && show.stdout.contains("ConvLoRA sites apart"), show.stdout)

        let input = golden("restormer-lora", "input.npy")
        let doc = try cli.json(["run", "kept", "--input", input, "--output", cli.path("kept.npy")])
        XCTAssertEqual(doc["family"]?.stringValue, "restormer")
        _ = try cli.json(["run", "merged", "--input", input, "--output", cli.path("merged.npy")])
        let keptOut = try npyValues(cli.path("kept.npy"))
        let error = maxAbs(keptOut, try npyValues(golden("restormer-lora", "output.npy")))
        let vsMerged = maxAbs(keptOut, try npyValues(cli.path("merged.npy")))
        print("irzoo run LoRA-Restormer (--keep-lora, merged in memory): max abs error \(error) vs PyTorch, \(vsMerged) vs the merged import")
        XCTAssertLessThanOrEqual(error, 1e-4)
        // Same merge (LoRAMerge), same f32 weights: the two imports compute the same network.
        XCTAssertLessThanOrEqual(vsMerged, 1e-6)
    }

    /// A whole UniRestorer checkpoint keeps its four LoRA experts' factors too; forced to the first
    /// of them (expert 11, l2_experts.3) it runs as PyTorch does (fixture of Tools/gen_unirestorer_goldens.py).
    func testUniRestorerKeepsItsLoRAExperts() throws {
        let dir = "unirestorer-tiny"
        let r = try cli.run(["import", golden(dir, "model.pth"), "--arch", "unirestorer", "--keep-lora", "--name", "uni"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("ConvLoRA sites apart"), r.stdout)
        _ = try cli.json(["run", "uni", "--input", golden(dir, "input.npy"), "--expert", "11", "--output", cli.path("e11.npy")])
        let error = maxAbs(try npyValues(cli.path("e11.npy")), try npyValues(golden(dir, "forced_11.npy")))
        print("irzoo run unirestorer --keep-lora --expert 11 (LoRA expert): max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)
    }

    /// A file whose layout has no LoRA merge (a plain Restormer, raw tensors) refuses the flag in one line.
    func testKeepLoRAOnNonLoRAFileIsAUsageError() throws {
        for extra in [[String](), ["--arch", "raw"]] {
            let r = try cli.run(["import", golden("restormer-withbias", "model.pth"), "--keep-lora", "--name", "plain"] + extra)
            XCTAssertEqual(r.status, 2, r.stderr)
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("--keep-lora"), r.stderr)
        }
        XCTAssertNotEqual(try cli.run(["show", "plain"]).status, 0)
    }
}
