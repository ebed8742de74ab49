import Foundation
import XCTest
import IRTestSupport
import IRTensor
import IRCheckpoint
import IRRegistry
import IRRuntime
import IRModels

/// UniRestorer-LoRA (reconstructed) against PyTorch on a tiny tree (Tools/gen_unirestorer_lora_goldens.py):
/// one base Restormer stored once, 29 experts of ConvLoRA factors (nonzero B), norms and
/// temperatures, the full model's router. Read as `irzoo import --arch unirestorer-lora` reads it.
final class UniRestorerLoRAGoldenTests: XCTestCase {
    let golden = ModelCase("unirestorer-lora-tiny")

    func imported() throws -> (resolution: Resolution<TensorRecord>, config: UniRestorerLoRAConfig) {
        let manifest = try XCTUnwrap(try Zoo.embedded().manifest("unirestorer-lora"))
        let loaded = try CheckpointReader.read(path: golden.path("model.pth"))
        let resolution = try ModelResolver.resolve(loaded.tensors, manifest: manifest)
        let config = try XCTUnwrap(resolution.config.typed(UniRestorerLoRAConfig.self))
        return (resolution, config)
    }

    func model() throws -> UniRestorerModel {
        let (r, _) = try imported()
        let m = try ModelFactory.make(config: r.config, records: r.mapped.tensors, source: "model.pth")
        return try XCTUnwrap(m as? UniRestorerModel)
    }

    func testImportReadsBaseExpertsAndRank() throws {
        let (r, config) = try imported()
        XCTAssertTrue(r.isExact, "\(r.report)")
        XCTAssertEqual(config.experts, 29)
        XCTAssertEqual(config.loraRank, 1)
        XCTAssertEqual(config.loraAlpha, 16)
        XCTAssertEqual(config.base.dim, 2)
        XCTAssertEqual(config.base.layerNorm, .withBias)
        XCTAssertEqual(config.pool.count, 30)
        let written = try String(contentsOfFile: golden.path("config.json"), encoding: .utf8)
        XCTAssertEqual(try StrictJSONDecoding.decode(UniRestorerLoRAConfig.self, from: written), config, "detected = the generator's config")
        // The base is stored once: nothing but factors, norms and temperatures under experts.N.
        let expertKeys = r.mapped.tensors.map(\.name).filter { $0.hasPrefix("experts.") }
        XCTAssertFalse(expertKeys.isEmpty)
        XCTAssertTrue(expertKeys.allSatisfy { $0.hasSuffix(".lora_A") || $0.hasSuffix(".lora_B") || UniRestorerLoRAConfig.isExpertOwn($0) })
        XCTAssertTrue(r.mapped.tensors.contains { $0.name == "base.patch_embed.proj.weight" }, "l0_experts.0 renamed to base")
    }

    /// Natural routing: image 0 -> leaf 5 / level 2 (pool 13, experts.12), image 1 -> leaf 20 /
    /// level 1 (pool 7, experts.6); only those two experts are merged and built.
    func testNaturalRoutingMatchesPyTorch() throws {
        let m = try model()
        XCTAssertEqual(m.family, "unirestorer-lora")
        XCTAssertEqual(m.builtExperts, [])
        let y = try m.run(try golden.tensor("input.npy"))
        assertGolden(y, try golden.tensor("output.npy"), "UniRestorer-LoRA tiny, natural routing")
        XCTAssertEqual(m.lastRoutes.map(\.poolIndex), [13, 7])
        XCTAssertEqual(m.lastRoutes.map(\.leaf), [5, 20])
        XCTAssertEqual(m.lastRoutes.map(\.level), [2, 1])
        XCTAssertEqual(m.lastRoutes.map(\.expert), ["experts.12", "experts.6"])
        XCTAssertEqual(m.builtExperts, ["experts.12", "experts.6"])
    }

    /// `--expert N`: the base itself (pool 0) and one LoRA expert (pool 20, experts.19).
    func testForcedRoutingMatchesPyTorch() throws {
        let m = try model()
        let x = try golden.tensor("input.npy")
        for pool in [0, 20] {
            m.forcedExpert = pool
            let y = try m.run(x)
            assertGolden(y, try golden.tensor("forced_\(pool).npy"), "UniRestorer-LoRA tiny, forced expert \(pool)")
            XCTAssertTrue(m.lastRoutes.allSatisfy { $0.forced && $0.poolIndex == pool })
        }
        XCTAssertEqual(m.builtExperts, ["base", "experts.19"])
    }

    /// The merge is the LoRA delta: an expert's output differs from the base's (B is nonzero).
    func testExpertsDifferFromTheBase() throws {
        let base = try golden.tensor("forced_0.npy"), expert = try golden.tensor("forced_20.npy")
        var diff: Float = 0
        for i in 0..<base.count { diff = max(diff, abs(base.pointer[i] - expert.pointer[i])) }
        XCTAssertGreaterThan(diff, 1e-2)
    }
}
