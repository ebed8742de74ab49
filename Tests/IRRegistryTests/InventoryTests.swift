import IRModels
import IRRegistry
import IRTensor
import XCTest

/// The published configs' key lists map onto the Swift inventories exactly (names, shapes and
/// state_dict order), with every dropped tensor accounted for by a named rule. No weights needed.
final class InventoryTests: XCTestCase {
    func testSymUNetPublishedKeyListFitsExactly() throws {
        let zoo = try KeyList.zoo()
        let m = try XCTUnwrap(zoo.manifest("symunet"))
        let keys = try KeyList.load("symunet_w48_state_dict_keys.tsv")
        XCTAssertEqual(keys.count, 453)
        let mapped = try assertExactFit(keys, manifest: m, layout: "basicsr")
        XCTAssertTrue(mapped.dropped.isEmpty)
        let inventory = try XCTUnwrap(m.modelConfig).inventory
        XCTAssertEqual(inventory.count, 453)
        XCTAssertEqual(inventory.parameterCount, 22_288_827)
        XCTAssertEqual(m.parameters, 22_288_827)
        XCTAssertEqual(m.stateDictKeys, keys.count)
        XCTAssertEqual(SymUNetConfig.published.inventory, inventory)
    }

    func testSymUNetGroupCountsMatchTheDocs() throws {
        // shared/architectures/symunet.md §3.3, parameters per group.
        let inv = SymUNetConfig.published.inventory
        func group(_ p: String) -> Int { inv.filter { $0.name.hasPrefix(p) }.parameterCount }
        XCTAssertEqual(group("intro."), 1_344)
        XCTAssertEqual(group("ending."), 1_299)
        XCTAssertEqual(group("encoders.0."), 125_116)
        XCTAssertEqual(group("encoders.1."), 707_232)
        XCTAssertEqual(group("encoders.2."), 2_738_112)
        XCTAssertEqual(group("decoders.0."), 2_738_112)
        XCTAssertEqual(group("ups."), 387_072)
        XCTAssertEqual(group("downs."), 387_744)
        XCTAssertEqual(group("middle_blks."), 14_370_448)
        XCTAssertEqual(group("encoders.0.0."), 31_279)
    }

    func testSESymUNetKeyListFitsAfterDroppingTheTextTower() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("se-symunet"))
        let keys = try KeyList.load("se_symunet_w48_state_dict_keys.tsv")
        XCTAssertEqual(keys.count, 1_123)
        let mapped = try assertExactFit(keys, manifest: m, layout: "basicsr")
        let config = try XCTUnwrap(m.modelConfig?.typed(SESymUNetConfig.self))
        XCTAssertEqual(config, SESymUNetConfig.published)
        XCTAssertEqual(config.ownParameterCount, 67_432_643)
        XCTAssertEqual(m.parameters, 67_432_643)
        // The kept CLIP tower: 303,179,776 with post_layernorm (symunet.md §4.6).
        XCTAssertEqual(config.inventory.filter { $0.name.hasPrefix("clip_model.") }.parameterCount, 303_179_776)
        // Every dropped tensor is named by a rule: of the 590 clip_model keys, the 391 of the vision tower stay.
        let dropped = Dictionary(uniqueKeysWithValues: mapped.dropped.map { ($0.pattern, $0.names.count) })
        XCTAssertEqual(dropped["clip_model.text_model.{rest*}"], 196)
        XCTAssertEqual(dropped["clip_model.visual_projection.weight"], 1)
        XCTAssertEqual(dropped["clip_model.text_projection.weight"], 1)
        XCTAssertEqual(dropped["clip_model.logit_scale"], 1)
        XCTAssertEqual(mapped.tensors.count + dropped.values.reduce(0, +), keys.count)
        XCTAssertEqual(mapped.dropped.reduce(0) { $0 + $1.elementCount }, 427_616_513 - 303_179_776)
    }

    func testCLIPHuggingFaceVisionKeyListFits() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("clip-vit-l-14"))
        let keys = try KeyList.load("clip_hf_vitl14_vision_keys.txt")
        XCTAssertEqual(keys.count, 392)
        _ = try assertExactFit(keys, manifest: m, layout: "hf", checkOrder: false)
        let config = try XCTUnwrap(m.modelConfig?.typed(CLIPVisionConfig.self))
        XCTAssertEqual(config, CLIPVisionConfig.vitL14)
        XCTAssertEqual(config.inventory.parameterCount, 303_966_208)
        XCTAssertEqual(m.parameters, 303_966_208)
        XCTAssertEqual(config.tokens, 257)
    }

    func testCLIPOpenAIKeyListMapsOntoTheSameInventory() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("clip-vit-l-14"))
        let keys = try KeyList.load("clip_openai_vitl14_keys.txt")
        XCTAssertEqual(keys.count, 446)
        XCTAssertEqual(keys.filter { $0.name.hasPrefix("visual.") }.count, 296)
        let mapped = try assertExactFit(keys, manifest: m, layout: "openai-torchscript", checkOrder: false)
        XCTAssertEqual(mapped.split, 48)  // in_proj_weight and in_proj_bias of 24 blocks
        XCTAssertEqual(mapped.tensors.count, 392)
        // The whole text side is dropped, by rules that say what each group is.
        XCTAssertEqual(mapped.dropped.reduce(0) { $0 + $1.names.count }, 446 - 296)
        let proj = try XCTUnwrap(mapped.tensors.first { $0.name == "visual_projection.weight" })
        XCTAssertEqual(proj.shape, [768, 1024])  // transposed from visual.proj [1024, 768]
    }

    func testAnyIRKeyListsFitTAndS() throws {
        let zoo = try KeyList.zoo()
        for (id, file, params, keys, buffers) in [("anyir-t", "anyir_T_state_dict_keys.txt", 5_736_376, 825, 3_761),
                                                 ("anyir-s", "anyir_S_state_dict_keys.txt", 8_513_436, 979, 5_036)] {
            let m = try XCTUnwrap(zoo.manifest(id))
            // Inside a Lightning .ckpt the same keys carry the `net.` prefix.
            let list = try KeyList.load(file, prefix: "net.")
            XCTAssertEqual(list.count, keys)
            let mapped = try assertExactFit(list, manifest: m, layout: "lightning")
            XCTAssertEqual(mapped.strippedPrefixes["net."], keys)
            let inv = try XCTUnwrap(m.modelConfig).inventory
            XCTAssertEqual(inv.parameterCount, params, id)
            XCTAssertEqual(m.parameters, params)
            // Buffers: running mean/var plus the dropped int64 counters (one per BatchNorm).
            let counters = mapped.dropped.first { $0.pattern == "{path*}.num_batches_tracked" }
            XCTAssertEqual((inv.valueCount - inv.parameterCount) + (counters?.names.count ?? 0), buffers, id)
        }
    }

    func testAnyIRRepresentativeBlock() throws {
        // anyir.md §3.3: AnyIR-T encoder_level2.0 has 32,518 parameters.
        let inv = AnyIRConfig.tiny.inventory.filter { $0.name.hasPrefix("encoder_level2.0.") }
        XCTAssertEqual(inv.parameterCount, 32_518)
        XCTAssertEqual(inv.first { $0.name.hasSuffix("W_gate.weight") }?.shape, [28, 47, 1, 1])
        XCTAssertEqual(inv.first { $0.name.hasSuffix("W_depth.weight") }?.shape, [19, 1, 7, 7])
    }

    func testPromptIRKeyListFitsWithUnusedKeysReported() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("promptir"))
        let list = try KeyList.load("promptir_state_dict_keys.txt", prefix: "net.")
        XCTAssertEqual(list.count, 548)
        let mapped = try assertExactFit(list, manifest: m, layout: "lightning")
        XCTAssertEqual(mapped.dropped.reduce(0) { $0 + $1.names.count }, 6)
        XCTAssertEqual(mapped.dropped.reduce(0) { $0 + $1.elementCount }, 215_296)
        let inv = try XCTUnwrap(m.modelConfig).inventory
        XCTAssertEqual(inv.parameterCount + 215_296, 35_592_263)
    }

    func testReportListsEveryProblemAtOnce() throws {
        var keys = try KeyList.load("symunet_w48_state_dict_keys.tsv")
        keys.removeAll { $0.name == "intro.bias" || $0.name == "middle_blks.7.ffn.dwconv.weight" }
        keys.append(TensorShape(name: "encoders.0.0.attn.extra", shape: [3]))
        let i = try XCTUnwrap(keys.firstIndex { $0.name == "downs.1.weight" })
        keys[i].shape = [192, 96, 3, 3]
        let j = try XCTUnwrap(keys.firstIndex { $0.name == "ending.bias" })
        keys[j].dtype = .i64
        let report = InventoryCheck.check(expected: SymUNetConfig.published.inventory, found: keys)
        XCTAssertFalse(report.isExact)
        XCTAssertEqual(report.missing.map(\.name), ["intro.bias", "middle_blks.7.ffn.dwconv.weight"])
        XCTAssertEqual(report.unexpected.map(\.name), ["encoders.0.0.attn.extra"])
        XCTAssertEqual(report.mismatched.map(\.name), ["ending.bias", "downs.1.weight"])
        XCTAssertEqual(report.summary, "2 missing, 1 unexpected, 2 mis-shaped (449 match)")
        let text = report.lines.joined(separator: "\n")
        XCTAssertTrue(text.contains("mis-shaped  downs.1.weight: expected [192, 96, 2, 2], found [192, 96, 3, 3]"), text)
        XCTAssertTrue(text.contains("missing     intro.bias: expected [48]"), text)
        XCTAssertTrue(text.contains("wrong dtype ending.bias"), text)
        let error = InventoryMismatchError(modelID: "symunet", file: "net_g.pth", report: report)
        XCTAssertTrue(error.description.hasPrefix("net_g.pth: does not fit symunet: 2 missing"), error.description)
    }
}
