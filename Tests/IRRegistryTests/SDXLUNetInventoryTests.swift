import IRModels
import IRRegistry
import IRTensor
import XCTest

/// The published SDXL UNet key list (diffusers naming, a copy of shared/architectures/unet_sdxl_keys.txt)
/// maps onto the Swift inventory exactly; the SGM single-file names are covered by the golden
/// fixture (Tests/IRModelsTests/SDXLUNetGoldenTests). No weights needed.
final class SDXLUNetInventoryTests: XCTestCase {
    func testDiffusersKeyListFitsExactly() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("sdxl-unet"))
        let keys = try KeyList.load("unet_sdxl_keys.txt")
        XCTAssertEqual(keys.count, 1680)
        _ = try assertExactFit(keys, manifest: m, layout: "diffusers")
        let inventory = try XCTUnwrap(m.modelConfig).inventory
        XCTAssertEqual(inventory.count, 1680)
        XCTAssertEqual(inventory.parameterCount, 2_567_463_684)
        XCTAssertEqual(m.parameters, 2_567_463_684)
        XCTAssertEqual(m.stateDictKeys, 1680)
        XCTAssertEqual(SDXLUNetConfig.sdxl.inventory, inventory)
    }

    /// shared/architectures/clip-sdxl-unildiff.md §3.1, tensors and parameters per group.
    func testGroupCountsMatchTheSpec() {
        let inv = SDXLUNetConfig.sdxl.inventory
        func group(_ p: String) -> (Int, Int) {
            let g = inv.filter { $0.name.hasPrefix(p) }
            return (g.count, g.parameterCount)
        }
        let expected: [(String, Int, Int)] = [
            ("conv_in.", 2, 11_840), ("time_embedding.", 4, 2_050_560), ("add_embedding.", 4, 5_245_440),
            ("down_blocks.0.", 22, 5_432_000), ("down_blocks.1.", 116, 60_105_600), ("down_blocks.2.", 434, 757_404_160),
            ("mid_block.", 226, 413_117_440), ("up_blocks.0.", 656, 1_206_568_960), ("up_blocks.1.", 176, 106_343_680),
            ("up_blocks.2.", 36, 11_171_840), ("conv_norm_out.", 2, 640), ("conv_out.", 2, 11_524),
        ]
        for (p, n, params) in expected {
            let (gn, gp) = group(p)
            XCTAssertEqual(gn, n, p)
            XCTAssertEqual(gp, params, p)
        }
    }

    /// The SGM names of the published key list, made from the diffusers names by the converter's
    /// index formulas, come back through the `sgm` layout (with `model.diffusion_model.`).
    func testSGMLayoutMapsTheConvertedNamesBack() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("sdxl-unet"))
        let keys = try KeyList.load("unet_sdxl_keys.txt")
        let sgm = keys.map { TensorShape(name: "model.diffusion_model." + Self.sgmName($0.name), shape: $0.shape) }
        XCTAssertEqual(Set(sgm.map(\.name)).count, 1680)
        let others = [TensorShape(name: "first_stage_model.decoder.conv_in.weight", shape: [512, 4, 3, 3]),
                      TensorShape(name: "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight", shape: [768])]
        let mapped = try assertExactFit(sgm + others, manifest: m, layout: "sgm", checkOrder: false)
        XCTAssertEqual(mapped.dropped.map(\.names.count), [1, 1])
    }

    func testConfigIsReadOffTheShapes() throws {
        let keys = try KeyList.load("unet_sdxl_keys.txt")
        guard case .found(let c, _) = SDXLUNetConfig.detect(ShapeTable(keys)) else { return XCTFail("not detected") }
        XCTAssertEqual(c, SDXLUNetConfig.sdxl)
    }

    /// diffusers → SGM for SDXL (layers_per_block 2), written independently of the manifest's rules.
    static func sgmName(_ n: String) -> String {
        let resnet = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
                      ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]
        func inner(_ rest: [Substring], resnets: Bool) -> String {
            var r = rest.map(String.init)
            if resnets, let hit = resnet.first(where: { $0.0 == r[0] }) { r[0] = hit.1 }
            return r.joined(separator: ".")
        }
        let p = n.split(separator: ".")
        let fixed = ["conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
                     "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
                     "conv_norm_out": "out.0", "conv_out": "out.2"]
        for (k, v) in fixed where n.hasPrefix(k + ".") { return v + n.dropFirst(k.count) }
        if p[0] == "down_blocks" || p[0] == "up_blocks" {
            let level = Int(p[1])!
            if p[2] == "downsamplers" { return "input_blocks.\((level + 1) * 3).0.op." + p[5...].joined(separator: ".") }
            if p[2] == "upsamplers" {
                return "output_blocks.\(level * 3 + 2).\(level < 2 ? 2 : 1).conv." + p[5...].joined(separator: ".")
            }
            let j = Int(p[3])!
            let index = p[0] == "down_blocks" ? 1 + level * 3 + j : level * 3 + j
            let prefix = p[0] == "down_blocks" ? "input_blocks" : "output_blocks"
            return "\(prefix).\(index).\(p[2] == "resnets" ? 0 : 1)." + inner(Array(p[4...]), resnets: p[2] == "resnets")
        }
        if p[0] == "mid_block" {
            if p[1] == "attentions" { return "middle_block.1." + p[3...].joined(separator: ".") }
            return "middle_block.\(p[2] == "0" ? 0 : 2)." + inner(Array(p[3...]), resnets: true)
        }
        return n
    }
}
