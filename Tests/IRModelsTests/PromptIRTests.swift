import XCTest
import IRTestSupport
import IRRegistry
import IRRuntime
import IRModels

/// PromptIR against PyTorch (Tools/reference/promptir.py) on a tiny decoder=True config with
/// randomised LayerNorms, temperatures and prompt banks, saved as the released `model.ckpt` is
/// (Lightning, `net.` prefix, the unused `chnl_reduce*` / `reduce_noise_channel_*` included).
final class PromptIRTests: XCTestCase {
    let golden = ModelCase("promptir")  // dim 4, blocks 1/1/1/1, prompts 4/8/12 of 8²/4²/6², 40×24

    /// The prompt banks are resized both up (8 → 20×12, 4 → 10×6) and down (6 → 5×3) bilinearly.
    func testLightningCheckpointMatchesPyTorch() throws {
        let imported = try LightningImport(golden, manifest: "promptir")
        XCTAssertTrue(imported.resolution.isExact, "\(imported.resolution.report)")
        XCTAssertEqual(imported.resolution.config, try golden.config(family: "promptir"))
        let y = try imported.model().run(try golden.tensor("input.npy"))
        assertGolden(y, try golden.tensor("output.npy"), "PromptIR tiny")
    }

    /// The six tensors upstream builds but never uses are dropped and reported, whatever their size.
    func testUnusedKeysAreToleratedAndReported() throws {
        let imported = try LightningImport(golden, manifest: "promptir")
        let dropped = imported.resolution.mapped.dropped
        XCTAssertEqual(dropped.flatMap { $0.names }.sorted(),
                       ["chnl_reduce1.weight", "chnl_reduce2.weight", "chnl_reduce3.weight",
                        "reduce_noise_channel_1.weight", "reduce_noise_channel_2.weight", "reduce_noise_channel_3.weight"])
        XCTAssertTrue(imported.resolution.mapped.notes.contains { $0.contains("never used in forward") },
                      "\(imported.resolution.mapped.notes)")
        // Literal upstream sizes: 64², 128², 320·256, (4+64)·4, (8+128)·8, (16+256)·16.
        XCTAssertEqual(dropped.reduce(0) { $0 + $1.elementCount }, 4096 + 16384 + 81920 + 272 + 1088 + 4352)
        XCTAssertFalse(imported.loaded.ignored.joined().contains("optimizer_states"))
    }

    /// Each image of a batch gets its own prompt weights (from its own pooled features).
    func testBatchOfTwoEqualsTwoSingleRuns() throws {
        let model = try LightningImport(golden, manifest: "promptir").model()
        let x = try golden.tensor("input.npy")
        let other = try Tensor(shape: x.shape, values: x.scalars.map { 1 - $0 })
        let batch = try model.run(try ComputeContext().concat([x, other], dim: 0))
        assertGolden(try batch.rows(0, 1), try golden.tensor("output.npy"), "PromptIR tiny, batch item 0")
        assertClose(try batch.rows(1, 1), try model.run(other), tolerance: 1e-5, "batch item 1")
    }

    func testOddSizedInputRunsAtItsOwnSize() throws {
        let model = try LightningImport(golden, manifest: "promptir").model()
        XCTAssertEqual(model.minimumSide, 5)
        XCTAssertEqual(try model.run(try Tensor.zeros([1, 3, 13, 6])).shape, [1, 3, 13, 6])
        XCTAssertThrowsError(try model.run(try Tensor.zeros([1, 3, 13, 4])))
    }

    /// The released configuration (35,592,263 parameters, 548 keys) from its key list: 542 tensors
    /// after the 6 unused ones are dropped, all read by the Swift network, which runs.
    func testPublishedNetworkBuildsFromTheKeyListAndRuns() throws {
        let zoo = try Zoo.embedded()
        let list = try keyListTensors("promptir_state_dict_keys.txt")
        XCTAssertEqual(list.count, 548)
        guard case .matched(let r) = ModelResolver.detect(list, zoo: zoo) else { return XCTFail("promptir not detected") }
        XCTAssertEqual(r.manifest.id, "promptir")
        XCTAssertEqual(r.config.typed(PromptIRConfig.self), .published)
        XCTAssertTrue(r.isExact, "\(r.report)")
        XCTAssertEqual(r.mapped.tensors.count, 542)
        XCTAssertEqual(r.mapped.dropped.reduce(0) { $0 + $1.elementCount }, 215_296)
        XCTAssertEqual(r.config.inventory.parameterCount + 215_296, 35_592_263)
        let model = try PromptIRModel(config: .published, weights: try constantWeights(r.mapped.tensors, fill: 0.01))
        let y = try model.run(try Tensor(shape: [1, 3, 16, 16], values: (0..<768).map { Float($0 % 13) / 13 }))
        try assertMatchesPublishedDegenerate(y, "promptir.npy")
    }
}
