import IRModels
import IRRegistry
import IRTensor
import XCTest

/// SDXL's two text encoders: the published key lists (built with transformers and open_clip on
/// the meta device, Tools/gen_clip_text_key_lists.py) map onto the clip-text inventories
/// exactly, in every layout the manifests name. No weights needed.
final class CLIPTextInventoryTests: XCTestCase {
    func testCLIPL14TextFitsExactly() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("clip-vit-l-14-text"))
        // The list holds transformers 5's names; published files carry the text_model. prefix.
        let keys = try KeyList.load("clip_hf_vitl14_text_keys.txt", prefix: "text_model.")
        XCTAssertEqual(keys.count, 196)
        _ = try assertExactFit(keys, manifest: m, layout: "hf")
        _ = try assertExactFit(try KeyList.load("clip_hf_vitl14_text_keys.txt"), manifest: m, layout: "transformers5")
        let inventory = try XCTUnwrap(m.modelConfig).inventory
        XCTAssertEqual(inventory.count, 196)
        XCTAssertEqual(inventory.parameterCount, 123_060_480)
        XCTAssertEqual(m.parameters, 123_060_480)
        XCTAssertEqual(m.stateDictKeys, 196)
        XCTAssertEqual(CLIPTextConfig.vitL14.inventory, inventory)
    }

    func testBigG14TextFitsExactly() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("openclip-vit-bigg-14-text"))
        let keys = try KeyList.load("openclip_hf_bigg14_text_keys.txt")
        XCTAssertEqual(keys.count, 517)
        _ = try assertExactFit(keys, manifest: m, layout: "hf")
        let inventory = try XCTUnwrap(m.modelConfig).inventory
        XCTAssertEqual(inventory.count, 517)
        XCTAssertEqual(inventory.parameterCount, 694_659_840)
        XCTAssertEqual(m.parameters, 694_659_840)
        XCTAssertEqual(m.stateDictKeys, 517)
        XCTAssertEqual(CLIPTextConfig.vitBigG14.inventory, inventory)
    }

    /// sd_xl_base_1.0.safetensors: open_clip naming under conditioner.embedders.1.model. — fused
    /// in_proj split into q, k, v, text_projection transposed, logit_scale dropped.
    func testBigG14SingleFileLayoutFitsExactly() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("openclip-vit-bigg-14-text"))
        let keys = try KeyList.load("openclip_sgm_bigg14_text_keys.txt")
        XCTAssertEqual(keys.count, 390)
        let mapped = try assertExactFit(keys, manifest: m, layout: "sgm", checkOrder: false)
        XCTAssertEqual(mapped.split, 64)  // 32 layers × weight and bias
        XCTAssertEqual(mapped.dropped.flatMap(\.names), ["logit_scale"])
    }

    /// The CLIP-L single-file layout, with the rest of an SDXL checkpoint beside it: only the
    /// text encoder is kept, everything else is dropped by a named rule.
    func testCLIPL14SingleFileLayoutLeavesTheRestOfSDXLAside() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("clip-vit-l-14-text"))
        var keys = try KeyList.load("clip_hf_vitl14_text_keys.txt", prefix: "conditioner.embedders.0.transformer.text_model.")
        keys.append(TensorShape(name: "conditioner.embedders.0.transformer.text_model.embeddings.position_ids", shape: [1, 77], dtype: .i64))
        let others = try KeyList.load("openclip_sgm_bigg14_text_keys.txt")
        keys += others
        keys.append(TensorShape(name: "model.diffusion_model.conv_in.weight", shape: [320, 4, 3, 3]))
        keys.append(TensorShape(name: "first_stage_model.decoder.conv_in.weight", shape: [512, 4, 3, 3]))
        let mapped = try assertExactFit(keys, manifest: m, layout: "sgm", checkOrder: false)
        XCTAssertEqual(mapped.dropped.flatMap(\.names).count, others.count + 3)
    }

    /// Detection reads width, layers, MLP, positions and vocabulary; heads, activation and pad
    /// token follow the published encoders (said in the notes).
    func testDetectionRecoversThePublishedConfigs() throws {
        for config in [CLIPTextConfig.vitL14, CLIPTextConfig.vitBigG14] {
            let table = ShapeTable(shapes: Dictionary(uniqueKeysWithValues: config.inventory.map { ($0.name, $0.shape) }))
            guard case .found(let detected, let notes) = CLIPTextConfig.detect(table) else { return XCTFail("not detected: \(config)") }
            XCTAssertEqual(detected, config)
            XCTAssertEqual(notes.count, 2)
        }
        guard case .absent(let missing) = CLIPTextConfig.detect(ShapeTable(shapes: [:])) else { return XCTFail("detected nothing") }
        XCTAssertEqual(missing.count, 4)
    }

    func testBadConfigsAreRefusedByField() throws {
        let family = try XCTUnwrap(Families.catalog.named("clip-text"))
        let base: JSON.Object = ["hidden_size": .int(64), "intermediate_size": .int(128),
                                       "num_hidden_layers": .int(2), "num_attention_heads": .int(4)]
        XCTAssertNoThrow(try family.decode(.object(base)))
        for (field, value, message) in [("num_attention_heads", JSON.int(5), "do not divide"), ("pad_token", .string("<pad>"), "pad_token"),
                                        ("hidden_act", .string("relu"), "hidden_act"), ("num_hidden_layers", .int(1), "num_hidden_layers")] {
            var json = base
            json[field] = value
            let bad = JSON.object(json)
            XCTAssertThrowsError(try family.decode(bad), field) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
    }
}
