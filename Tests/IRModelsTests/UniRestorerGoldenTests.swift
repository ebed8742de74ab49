import Foundation
import XCTest
import IRTestSupport
import IRTensor
import IRCheckpoint
import IRRegistry
import IRRuntime
import IRModels

/// The whole UniRestorer against PyTorch on a tiny tree with the released shape (1 + 7 + 23
/// modules in init_experts_three_layers' order, every expert family, 4 LoRA-Restormers), read from
/// `{'params': state_dict}` the way `irzoo import --arch unirestorer` reads it: the manifest's layout
/// (drops, splits, renames, LoRA merge), then every expert's family read off its keys.
final class UniRestorerGoldenTests: XCTestCase {
    let golden = ModelCase("unirestorer-tiny")

    /// The family behind each pool index under the released init order (§6.1 of the spec).
    static let releasedPoolFamilies: [String] =
        ["restormer"] + Array(repeating: "restormer", count: 4) + ["dehazeformer", "retinexformer", "nafnet"]
        + Array(repeating: "restormer", count: 17) + ["dehazeformer", "dehazeformer", "retinexformer", "retinexformer", "nafnet"]

    func imported() throws -> (resolution: Resolution<TensorRecord>, config: UniRestorerConfig) {
        let manifest = try XCTUnwrap(try Zoo.embedded().manifest("unirestorer"))
        let loaded = try CheckpointReader.read(path: golden.path("model.pth"))
        let resolution = try ModelResolver.resolve(loaded.tensors, manifest: manifest)
        let config = try XCTUnwrap(resolution.config.typed(UniRestorerConfig.self))
        return (resolution, config)
    }

    func model() throws -> UniRestorerModel {
        let (r, _) = try imported()
        let m = try ModelFactory.make(config: r.config, records: r.mapped.tensors, source: "model.pth")
        return try XCTUnwrap(m as? UniRestorerModel)
    }

    func testImportDetectsEveryExpertFromItsKeys() throws {
        let (r, config) = try imported()
        XCTAssertTrue(r.isExact, "\(r.report)")
        XCTAssertEqual(r.configSource, "detected from shapes")
        XCTAssertEqual(config.experts.count, 30, "l2_experts.22 is dropped, the 30 routed modules kept")
        XCTAssertEqual(config.pool.map { config.expert(named: $0)?.family ?? "?" }, Self.releasedPoolFamilies)
        // LayerNorm kinds tell the Restormers apart; the LoRA ones arrive merged as WithBias.
        func norm(_ name: String) -> String? {
            if case .object(let o)? = config.expert(named: name)?.config, case .string(let s)? = o["LayerNorm_type"] { return s }
            return nil
        }
        XCTAssertEqual(norm("l0_experts.0"), "WithBias")
        XCTAssertEqual(norm("l1_experts.0"), "BiasFree")
        XCTAssertEqual(norm("l2_experts.3"), "WithBias")
        XCTAssertEqual(config.router.hiddenAct, "gelu")
        XCTAssertEqual(config.embedDim, 16)
        let dropped = Set(r.mapped.dropped.map(\.pattern))
        for p in ["daclip_model.clip.{rest*}", "daclip_model.visual.{rest*}", "daclip_model.logit_scale",
                  "daclip_model.visual_control.transformer.zero_modules.{rest*}", "gamma", "beta", "mean", "std",
                  "l2_experts.22.{rest*}", "lf_gate.0.noise.weight", "layer_gate.0.noise.weight", "{path*}.num_batches_tracked"] {
            XCTAssertTrue(dropped.contains(p), "\(p) not reported among \(dropped.sorted())")
        }
        XCTAssertTrue(r.mapped.notes.contains { $0.contains("ConvLoRA") }, r.mapped.notes.joined(separator: "\n"))
    }

    /// Natural routing, with the Swift CLIP preprocessing of the images: image 0 goes to leaf 5 /
    /// level 2 (pool 13, a merged LoRA-Restormer), image 1 to leaf 20 / level 2 (pool 28, a
    /// RetinexFormer under the released order). Only those two experts are ever built.
    func testNaturalRoutingMatchesPyTorch() throws {
        let m = try model()
        XCTAssertEqual(m.builtExperts, [])
        let y = try m.run(try golden.tensor("input.npy"))
        assertGolden(y, try golden.tensor("output.npy"), "UniRestorer tiny, natural routing")
        XCTAssertEqual(m.lastRoutes.map(\.poolIndex), [13, 28])
        XCTAssertEqual(m.lastRoutes.map(\.leaf), [5, 20])
        XCTAssertEqual(m.lastRoutes.map(\.level), [2, 2])
        XCTAssertEqual(m.lastRoutes.map(\.family), ["restormer", "retinexformer"])
        XCTAssertEqual(m.builtExperts, ["l2_experts.20", "l2_experts.5"])
    }

    /// `--expert N`: one expert of every family (Restormer WithBias and BiasFree, DehazeFormer,
    /// RetinexFormer, NAFNetLocal, merged LoRA-Restormer) on the same images.
    func testForcedRoutingToEachFamilyMatchesPyTorch() throws {
        let m = try model()
        let x = try golden.tensor("input.npy")
        for pool in [0, 1, 5, 6, 7, 11] {
            m.forcedExpert = pool
            let y = try m.run(x)
            assertGolden(y, try golden.tensor("forced_\(pool).npy"), "UniRestorer tiny, forced expert \(pool) (\(Self.releasedPoolFamilies[pool]))")
            XCTAssertTrue(m.lastRoutes.allSatisfy { $0.forced && $0.poolIndex == pool })
        }
    }
    /// A big image runs in tiles the way `irzoo run` tiles it: routed once on the whole image
    /// (the route an untiled pass takes, checked against PyTorch above), then only the chosen
    /// expert on each tile, exactly as that expert runs in tiles on its own.
    func testTilesAreRoutedOnceOnTheWholeImage() throws {
        let m = try model()
        let batch = try golden.tensor("input.npy")
        for i in 0..<2 {
            let x = try batch.rows(i, 1)
            _ = try m.run(x)
            let whole = m.lastRoutes.map(\.poolIndex)
            let plan = try TilePlan(tile: 16, overlap: 4)
            let tiled = try TiledInference.run(m, image: x, plan: plan)
            XCTAssertEqual(m.lastRoutes.map(\.poolIndex), whole, "image \(i): a tiled pass routes like the whole pass")
            XCTAssertEqual(m.lastRoutes.map(\.poolIndex), [[13], [28]][i])
            let expert = try m.expertModel(m.lastRoutes[0].expert)
            XCTAssertEqual(tiled.scalars, try TiledInference.run(expert, image: x, plan: plan).scalars, "image \(i)")
        }
        XCTAssertThrowsError(try TiledInference.run(m, image: batch, plan: try TilePlan(tile: 16, overlap: 4))) {
            XCTAssertTrue("\($0)".contains("one image at a time"), "\($0)")
        }
    }
}
