import IRModels
import IRRegistry
import IRTensor
import XCTest

/// UniRestorer's DehazeFormer-L and RetinexFormer experts: the published key lists (the
/// `l1_experts.4.` / `l1_experts.5.` keys of shared/architectures/unirestorer_state_dict_keys.txt,
/// prefix removed) map onto the Swift inventories exactly, in state_dict order, and the configs
/// are read back off the shapes.
final class DehazeRetinexInventoryTests: XCTestCase {
    func testDehazeFormerLKeyListFitsExactly() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("dehazeformer-l"))
        let keys = try KeyList.load("dehazeformer_l_state_dict_keys.txt")
        XCTAssertEqual(keys.count, 1_004)
        let mapped = try assertExactFit(keys, manifest: m, layout: "basicsr")
        XCTAssertTrue(mapped.dropped.isEmpty)
        let inventory = try XCTUnwrap(m.modelConfig).inventory
        XCTAssertEqual(inventory, DehazeFormerConfig.large.inventory)
        XCTAssertEqual(inventory.parameterCount, 25_451_652)
        XCTAssertEqual(m.parameters, 25_451_652)
        XCTAssertEqual(m.stateDictKeys, 1_004)
        // 4 + 8 + 12 attention blocks, each with a persistent [64, 64, 2] buffer.
        let buffers = inventory.filter { $0.kind == .buffer }
        XCTAssertEqual(buffers.count, 24)
        XCTAssertEqual(inventory.valueCount - inventory.parameterCount, 196_608)
        XCTAssertTrue(buffers.allSatisfy { $0.name.hasSuffix("attn.attn.relative_positions") && $0.shape == [64, 64, 2] })
        let c = DehazeFormerConfig.large
        XCTAssertEqual((0..<5).map { c.attentionBlocks(layer: $0).firstIndex(of: true) ?? -1 }, [12, 8, 4, -1, -1])
    }

    func testRetinexFormerKeyListFitsExactly() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("retinexformer"))
        let keys = try KeyList.load("retinexformer_state_dict_keys.txt")
        XCTAssertEqual(keys.count, 122)
        let mapped = try assertExactFit(keys, manifest: m, layout: "basicsr")
        XCTAssertTrue(mapped.dropped.isEmpty)
        let inventory = try XCTUnwrap(m.modelConfig).inventory
        XCTAssertEqual(inventory, RetinexFormerConfig.uniRestorer.inventory)
        XCTAssertEqual(inventory.parameterCount, 1_605_701)
        XCTAssertEqual(m.parameters, 1_605_701)
        XCTAssertEqual(m.stateDictKeys, 122)
    }

    /// Without --arch the family and the published config come from the shapes.
    func testPublishedKeyListsAreDetected() throws {
        for (file, id) in [("dehazeformer_l_state_dict_keys.txt", "dehazeformer-l"), ("retinexformer_state_dict_keys.txt", "retinexformer")] {
            switch ModelResolver.detect(try KeyList.load(file), zoo: try KeyList.zoo()) {
            case .matched(let r):
                XCTAssertEqual(r.manifest.id, id, file)
                XCTAssertTrue(r.configMatchesManifest, "\(file): detected \(r.config) vs \(r.manifest.config)")
                XCTAssertTrue(r.isExact, file)
            case .noMatch(let closest):
                XCTFail("\(file): no match; closest \(closest.map(\.description))")
            }
        }
    }

    /// A user's own DehazeFormer variant (other widths, depths, attention shares) round-trips.
    func testDehazeFormerVariantsAreDetected() throws {
        let ratioSets: [[Double]] = [[0.25, 0.5, 0.75, 0, 0], [1.0 / 3, 0.4, 1, 0.5, 0], [0, 0, 0.3, 0, 0]]
        for ratios in ratioSets {
            let c = DehazeFormerConfig(embedDims: [16, 32, 48, 32, 16], mlpRatios: [2, 4, 2.5, 2, 2], depths: [3, 5, 7, 2, 4],
                                       heads: [2, 4, 6, 1, 1], attentionRatios: ratios)
            try c.validate()
            let t = ShapeTable(c.inventory.map { TensorShape(name: $0.name, shape: $0.shape) })
            guard case .found(let d, _) = DehazeFormerConfig.detect(t) else { return XCTFail("not detected") }
            XCTAssertEqual(d.inventory, c.inventory, "\(ratios)")
            for i in 0..<5 { XCTAssertEqual(d.attentionBlocks(layer: i), c.attentionBlocks(layer: i), "\(ratios) layer \(i)") }
        }
    }

    func testUnsupportedVariantsAreConfigErrors() {
        var dw = DehazeFormerConfig.large
        dw.convType = "DWConv"
        XCTAssertThrowsError(try dw.validate()) { XCTAssertTrue("\($0)".contains("conv_type"), "\($0)") }
        var odd = DehazeFormerConfig.large
        odd.embedDims = [48, 96, 192, 64, 48]
        XCTAssertThrowsError(try odd.validate()) { XCTAssertTrue("\($0)".contains("embed_dims"), "\($0)") }
        XCTAssertThrowsError(try RetinexFormerConfig(features: 10).validate()) { XCTAssertTrue("\($0)".contains("n_feat"), "\($0)") }
    }
}
