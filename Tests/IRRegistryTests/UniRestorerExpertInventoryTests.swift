import XCTest
import IRModels
import IRRegistry
import IRTensor

/// UniRestorer's expert key lists (prefixes l0_experts.0, l1_experts.0, l2_experts.3, l1_experts.6 of
/// shared/architectures/unirestorer_state_dict_keys.txt, prefix stripped) against the Swift
/// inventories: detected without --arch, exact in names, shapes and order, published parameter counts.
final class UniRestorerExpertInventoryTests: XCTestCase {
    func detect(_ file: String) throws -> Resolution<TensorShape> {
        let list = try KeyList.load(file)
        guard case .matched(let r) = ModelResolver.detect(list, zoo: try KeyList.zoo()) else {
            XCTFail("\(file): nothing detected")
            throw XCTSkip("no match")
        }
        XCTAssertTrue(r.isExact, "\(file): \(r.report)")
        return r
    }

    func testRestormerWithBiasExpert() throws {
        let list = try KeyList.load("unirestorer_restormer_withbias_keys.txt")
        XCTAssertEqual(list.count, 494)
        let r = try detect("unirestorer_restormer_withbias_keys.txt")
        XCTAssertEqual(r.manifest.id, "restormer")
        XCTAssertTrue(r.configMatchesManifest)
        XCTAssertEqual(r.config.typed(RestormerConfig.self), .published)
        XCTAssertEqual(r.config.inventory.parameterCount, 26_126_644)
        _ = try assertExactFit(list, manifest: r.manifest, layout: "basicsr")
    }

    func testRestormerBiasFreeExpert() throws {
        let r = try detect("unirestorer_restormer_biasfree_keys.txt")
        XCTAssertEqual(r.manifest.id, "restormer")
        XCTAssertEqual(r.config.typed(RestormerConfig.self), .publishedBiasFree)
        XCTAssertEqual(r.config.inventory.count, 406)
        XCTAssertEqual(r.config.inventory.parameterCount, 26_111_668)
        XCTAssertEqual(r.config.inventory.map(\.name), r.mapped.tensors.map(\.name))
    }

    /// 1,042 keys and 31,771,300 parameters before the merge; 274 sites fold into the 494-key WithBias Restormer.
    func testLoRARestormerExpertMergesIntoThePublishedRestormer() throws {
        let list = try KeyList.load("unirestorer_lora_restormer_keys.txt")
        XCTAssertEqual(list.count, 1042)
        XCTAssertEqual(list.reduce(0) { $0 + $1.elementCount }, 31_771_300)
        let r = try detect("unirestorer_lora_restormer_keys.txt")
        XCTAssertEqual(r.manifest.id, "restormer")
        XCTAssertEqual(r.layout.name, "basicsr-lora")
        XCTAssertEqual(r.mapped.loraMerged, 274)
        XCTAssertEqual(r.config.typed(RestormerConfig.self), .published)
        let mapped = try assertExactFit(list, manifest: r.manifest, layout: "basicsr-lora")
        XCTAssertEqual(mapped.tensors.count, 494)
        // Without the merge the list fits nothing.
        let plain = try XCTUnwrap(r.manifest.layout(named: "basicsr"))
        XCTAssertFalse(InventoryCheck.check(expected: r.config.inventory, tensors: try KeyMapper.apply(plain, to: list).tensors).isExact)
    }

    func testNAFNetLocalExpert() throws {
        let list = try KeyList.load("unirestorer_nafnet_local_keys.txt")
        XCTAssertEqual(list.count, 664)
        let r = try detect("unirestorer_nafnet_local_keys.txt")
        XCTAssertEqual(r.manifest.id, "nafnet-local")
        XCTAssertTrue(r.configMatchesManifest)
        XCTAssertEqual(r.config.typed(NAFNetConfig.self), .published)
        XCTAssertEqual(r.config.inventory.parameterCount, 67_888_835)
        XCTAssertTrue(r.notes.contains { $0.contains("train_size") }, "\(r.notes)")
        _ = try assertExactFit(list, manifest: r.manifest, layout: "basicsr")
    }

    /// W + (alpha/r)·view(B@A), row-major, for a depthwise site (g = C): B@A is [k, C·k], viewed [C, 1, k, k].
    func testLoRAMergeOfADepthwiseConv() throws {
        func record(_ name: String, _ shape: [Int], _ values: [Float]) throws -> TensorRecord {
            try TensorRecord(name: name, dtype: .f32, shape: shape, data: values.withUnsafeBytes { ByteBuffer.copying($0) }.whole)
        }
        func floats(_ r: TensorRecord) -> [Float] { r.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
        // C = 2 channels, k = 2, r = 1: A [r·k, C·k] = [2, 4], B [C/C·k, r·k] = [2, 2], W [2, 1, 2, 2].
        let a: [Float] = [1, 2, 3, 4, 5, 6, 7, 8], b: [Float] = [1, 0, 2, -1], w: [Float] = [0.5, 0, 0, 0, 0, 0, 0, -1]
        let tensors = [try record("x.lora_A", [2, 4], a), try record("x.lora_B", [2, 2], b), try record("x.conv.weight", [2, 1, 2, 2], w),
                       try record("y.weight", [1], [3])]
        let merged = try LoRAMerge.apply(tensors, alpha: 4)  // r = 2/2 = 1, scale 4
        XCTAssertEqual(merged.merged, 1)
        XCTAssertEqual(merged.tensors.map(\.name), ["x.weight", "y.weight"])
        // B@A rows: [1,2,3,4], [2·1−5, 2·2−6, 2·3−7, 2·4−8] = [−3,−2,−1,0]; flat, times 4, plus W.
        XCTAssertEqual(floats(merged.tensors[0]), [4.5, 8, 12, 16, -12, -8, -4, -1])
        XCTAssertEqual(merged.tensors[0].shape, [2, 1, 2, 2])

        XCTAssertThrowsError(try LoRAMerge.apply(Array(tensors[1...]), alpha: 4)) { XCTAssertTrue("\($0)".contains("lora_A"), "\($0)") }
        let bad = [try record("x.lora_A", [2, 3], [1, 2, 3, 4, 5, 6]), tensors[1], tensors[2]]
        XCTAssertThrowsError(try LoRAMerge.apply(bad, alpha: 4)) { XCTAssertTrue("\($0)".contains("do not fit"), "\($0)") }
        XCTAssertThrowsError(try LoRAMerge.apply(Array(tensors[0..<2]), alpha: 4)) { XCTAssertTrue("\($0)".contains("conv.weight"), "\($0)") }
    }
}
