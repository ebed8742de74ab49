import Foundation
import IRModels
import IRRegistry
import IRTensor
import IRTestSupport
import XCTest

/// The published UniRestorer state_dict (18,471 keys, built from the released code) against the
/// registry: every key is either read by the router or an expert, or dropped in a named group.
final class UniRestorerInventoryTests: XCTestCase {
    func resolve() throws -> Resolution<TensorShape> {
        let keys = try KeyList.load("unirestorer_state_dict_keys.txt")
        XCTAssertEqual(keys.count, 18_471)
        let manifest = try XCTUnwrap(try KeyList.zoo().manifest("unirestorer"))
        return try ModelResolver.resolve(keys, manifest: manifest)
    }

    func testPublishedKeyListMapsWithNothingUnexplained() throws {
        let r = try resolve()
        XCTAssertTrue(r.isExact, "\(r.report)")
        XCTAssertEqual(r.configSource, "detected from shapes")
        let config = try XCTUnwrap(r.config.typed(UniRestorerConfig.self))
        XCTAssertEqual(config.router, UniRestorerConfig.daclipViTB32)
        XCTAssertEqual(config.pathTable, UniRestorerConfig.releasedPathTable)
        XCTAssertEqual(config.experts.map(\.name), UniRestorerConfig.releasedPool)
        // Dropped, by group (counts from the published list).
        let dropped = Dictionary(uniqueKeysWithValues: r.mapped.dropped.map { ($0.pattern, $0.names.count) })
        XCTAssertEqual(dropped["daclip_model.clip.{rest*}"], 302)
        XCTAssertEqual(dropped["daclip_model.visual.{rest*}"], 152)
        XCTAssertEqual(dropped["daclip_model.visual_control.transformer.zero_modules.{rest*}"], 24)
        XCTAssertEqual(dropped["l2_experts.22.{rest*}"], 664)
        XCTAssertEqual(dropped["lf_gate.0.noise.weight"], 1)
        XCTAssertEqual(dropped["layer_gate.0.noise.weight"], 1)
        for p in ["gamma", "beta", "mean", "std", "daclip_model.logit_scale"] { XCTAssertEqual(dropped[p], 1, p) }
        XCTAssertEqual(dropped["{path*}.num_batches_tracked"], 2)
        // Kept = the inventory; the rest explained above.
        XCTAssertEqual(r.mapped.tensors.count, r.config.inventory.count)
    }

    /// The released off-by-one: pool 14 is a (merged) LoRA-Restormer, 24 a Restormer, 26 a
    /// DehazeFormer, 28 a RetinexFormer; read off the keys, never assumed.
    func testExpertFamiliesFollowTheReleasedInitOrder() throws {
        let config = try XCTUnwrap(try resolve().config.typed(UniRestorerConfig.self))
        func family(_ pool: Int) -> String? { config.expert(named: config.pool[pool])?.family }
        XCTAssertEqual(family(14), "restormer")
        XCTAssertEqual(family(24), "restormer")
        XCTAssertEqual(family(26), "dehazeformer")
        XCTAssertEqual(family(28), "retinexformer")
        XCTAssertEqual(family(29), "nafnet")
        XCTAssertEqual(family(5), "dehazeformer")
        XCTAssertEqual(family(6), "retinexformer")
        XCTAssertEqual(family(7), "nafnet")
    }
}

extension UniRestorerInventoryTests {
    /// The path table is not in the weights: a tree of another size is refused with the reason
    /// (detection), and a config naming an expert it lacks is refused by field.
    func testOtherTreeSizesNeedTheirTableAndConfigsAreChecked() throws {
        var keys = try KeyList.load("unirestorer_state_dict_keys.txt")
        keys = keys.map { k in
            var k = k
            if k.name == "lf_gate.0.weight" { k.shape = [2 * 8, 512] }
            return k
        }
        let manifest = try XCTUnwrap(try KeyList.zoo().manifest("unirestorer"))
        let r = try ModelResolver.resolve(keys, manifest: manifest)
        XCTAssertFalse(r.isExact)
        let family = try XCTUnwrap(Families.catalog.named("unirestorer"))
        let missing = family.missingIdentifyingTensors(ShapeTable(r.mapped.tensors))
        XCTAssertTrue(missing.joined().contains("8 leaves x 3 levels"), "\(missing)")

        var config = try XCTUnwrap(manifest.modelConfig?.typed(UniRestorerConfig.self))
        config.experts = [UniRestorerConfig.Expert(name: "l0_experts.0", family: "restormer", config: .object(["dim": .int(48)]))]
        XCTAssertThrowsError(try config.validate()) { e in XCTAssertTrue("\(e)".contains("restormer config") || "\(e)".contains("pool"), "\(e)") }
        config.pathTable[0][2] = 99
        XCTAssertThrowsError(try config.validate()) { e in XCTAssertTrue("\(e)".contains("path_table[0]"), "\(e)") }
    }
}
