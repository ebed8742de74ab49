import Foundation
import XCTest
import IRTestSupport
import IRTensor
import IRCheckpoint
import IRRegistry
import IRRuntime
import IRModels

/// UniRestorer's router against PyTorch (Tools/reference/unirestorer.py via
/// Tools/gen_unirestorer_goldens.py): the tiny DA-CLIP controller (64 px, patch 16, width 16,
/// exact GELU), the mu/sigma heads with randomised BatchNorm statistics, and the clean gate
/// halves, read from `{'params': state_dict}` through the manifest's `basicsr` layout.
/// These tests need no expert family: the router is built alone.
final class UniRestorerRouterTests: XCTestCase {
    let golden = ModelCase("unirestorer-tiny")

    struct Reference: Decodable {
        struct Route: Decodable { let leaf: Int; let level: Int; let pool: Int }
        let router: Route
        let natural: [Route]
    }

    func reference() throws -> Reference {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: golden.path("reference.json")))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    /// The router alone, from the fixture's config (the template: no experts).
    func routerModel() throws -> UniRestorerModel {
        let config = try XCTUnwrap(try golden.config(family: "unirestorer").typed(UniRestorerConfig.self))
        XCTAssertTrue(config.experts.isEmpty)
        let records = try golden.records("model.pth", manifest: "unirestorer", layout: "basicsr")
        return try UniRestorerModel(config: config, weights: try Weights(records: records))
    }

    func values(_ a: [Float]) throws -> Tensor { try Tensor(shape: [1, a.count], values: a) }

    func testRouterMatchesPyTorchOnAFixedTensor() throws {
        let model = try routerModel()
        let torch = try golden.tensors(npz: "router.npz")
        let pixels = try golden.tensor("router_pixels.npy")
        let est = try XCTUnwrap(try model.estimate(pixels: pixels).first)
        assertGolden(try values(est.embedding), try XCTUnwrap(torch["e"]), "UniRestorer router: e (controller)")
        assertGolden(try values(est.mu), try XCTUnwrap(torch["mu"]), "UniRestorer router: mu")
        assertGolden(try values(est.sigma), try XCTUnwrap(torch["sigma"]), "UniRestorer router: sigma")
        assertGolden(try values(est.leafLogits), try XCTUnwrap(torch["lf_logits"]), "UniRestorer router: leaf logits")
        assertGolden(try values(est.levelLogits), try XCTUnwrap(torch["layer_logits"]), "UniRestorer router: level logits")
        let ref = try reference().router
        XCTAssertEqual(est.leaf, ref.leaf)
        XCTAssertEqual(est.level, ref.level)
        XCTAssertEqual(model.config.pathTable[est.leaf][est.level], ref.pool)
    }

    /// The images' own CLIP input, made by the Swift preprocessing (short side to 64 bicubic
    /// antialias, center crop, OpenAI mean/std), routes as PyTorch routes: the gates were solved
    /// for leaf 5 / level 2 (pool 13) and leaf 20 / level 2 (pool 28).
    func testNaturalRoutingFromTheImages() throws {
        let model = try routerModel()
        let torch = try golden.tensors(npz: "router.npz")
        let images = try golden.tensor("input.npy")
        let pixels = try model.preprocess(model.context, images)
        let estimates = try model.estimate(pixels: pixels)
        let lf = try Tensor(shape: [2, 22], values: estimates.flatMap(\.leafLogits))
        let lv = try Tensor(shape: [2, 3], values: estimates.flatMap(\.levelLogits))
        assertGolden(lf, try XCTUnwrap(torch["natural_lf_logits"]), "UniRestorer router on the images: leaf logits")
        assertGolden(lv, try XCTUnwrap(torch["natural_layer_logits"]), "UniRestorer router on the images: level logits")
        for (est, ref) in zip(estimates, try reference().natural) {
            XCTAssertEqual(est.leaf, ref.leaf)
            XCTAssertEqual(est.level, ref.level)
            XCTAssertEqual(UniRestorerConfig.releasedPathTable[est.leaf][est.level], ref.pool)
        }
    }

    /// The released path table: row leaf is [0, parent, 8 + leaf]; spot checks from the spec (§2.4).
    func testReleasedPathTable() {
        let t = UniRestorerConfig.releasedPathTable
        XCTAssertEqual(t.count, 22)
        XCTAssertEqual(t[13][2], 21)
        XCTAssertEqual(t[13][1], 4)
        XCTAssertEqual(t[13][0], 0)
        XCTAssertEqual(t[20][2], 28)
        XCTAssertEqual(t[5][1], 2)
        XCTAssertEqual(UniRestorerConfig.releasedPool.count, 30)
        XCTAssertEqual(UniRestorerConfig.releasedPool[28], "l2_experts.20")
        XCTAssertFalse(UniRestorerConfig.releasedPool.contains("l2_experts.22"))
    }

    /// Bad inputs get one clear line: a wrong CLIP tensor, a forced expert outside the pool, a
    /// route to an expert the (template) config does not have.
    func testBadInputsAreRefusedWithOneLine() throws {
        let model = try routerModel()
        XCTAssertThrowsError(try model.estimate(pixels: try Tensor.zeros([1, 3, 32, 32]))) { e in
            XCTAssertTrue("\(e)".contains("[B, 3, 64, 64]"), "\(e)")
        }
        model.forcedExpert = 30
        XCTAssertThrowsError(try model.route(nil)) { e in XCTAssertTrue("\(e)".contains("outside the pool 0...29"), "\(e)") }
        model.forcedExpert = 3
        XCTAssertThrowsError(try model.run(try golden.tensor("input.npy"))) { e in
            XCTAssertTrue("\(e)".contains("l1_experts.2"), "\(e)")
        }
        model.forcedExpert = nil
        XCTAssertThrowsError(try model.run(try golden.tensor("input.npy"), aux: ["daclip": try Tensor.zeros([1])], progress: nil)) { e in
            XCTAssertTrue("\(e)".contains("daclip_lq"), "\(e)")
        }
    }
}
