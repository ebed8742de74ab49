import IRModels
import IRRegistry
import IRTensor
import XCTest
import IRTestSupport

/// The published SDXL VAE key lists (diffusers and original LDM naming, copies of
/// shared/architectures/vae_*_keys.txt) map onto the Swift inventory exactly. No weights needed.
final class SDXLVAEInventoryTests: XCTestCase {
    func testDiffusersKeyListFitsExactly() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("sdxl-vae"))
        let keys = try KeyList.load("vae_diffusers_keys.txt")
        XCTAssertEqual(keys.count, 248)
        _ = try assertExactFit(keys, manifest: m, layout: "diffusers")
        let inventory = try XCTUnwrap(m.modelConfig).inventory
        XCTAssertEqual(inventory.count, 248)
        XCTAssertEqual(inventory.parameterCount, 83_653_863)
        XCTAssertEqual(m.parameters, 83_653_863)
        XCTAssertEqual(m.stateDictKeys, 248)
        XCTAssertEqual(SDXLVAEConfig.sdxl.inventory, inventory)
        func group(_ p: String) -> Int { inventory.filter { $0.name.hasPrefix(p) }.parameterCount }
        // shared/architectures/clip-sdxl-unildiff.md §2.2
        XCTAssertEqual(group("encoder.") + group("quant_conv."), 34_163_664)
        XCTAssertEqual(group("decoder.") + group("post_quant_conv."), 49_490_199)
    }

    /// Bare LDM names (sdxl_vae.safetensors) and the `first_stage_model.` prefix of the full
    /// single file: the reversed decoder index and the squeezed 1×1 attention kernels.
    func testLDMKeyListMapsOntoTheSameInventory() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("sdxl-vae"))
        for prefix in ["", "first_stage_model."] {
            let keys = try KeyList.load("vae_ldm_keys.txt", prefix: prefix)
            XCTAssertEqual(keys.count, 248)
            XCTAssertEqual(keys.first { $0.name == prefix + "decoder.mid.attn_1.q.weight" }?.shape, [512, 512, 1, 1])
            // The full single file also holds the UNet, the text encoders and the noise schedule.
            let others = prefix.isEmpty ? [] : [TensorShape(name: "model.diffusion_model.out.2.weight", shape: [4, 320, 3, 3]),
                                                TensorShape(name: "conditioner.embedders.1.model.ln_final.weight", shape: [1280]),
                                                TensorShape(name: "denoiser.sigmas", shape: [1000])]
            let mapped = try assertExactFit(keys + others, manifest: m, layout: "ldm", checkOrder: false)
            XCTAssertEqual(mapped.tensors.first { $0.name == "decoder.mid_block.attentions.0.to_q.weight" }?.shape, [512, 512])
            XCTAssertEqual(mapped.dropped.map(\.names.count), prefix.isEmpty ? [] : [1, 1, 1])
        }
    }

    /// The layout's rules reproduce the spec's one-to-one table (vae_ldm_to_diffusers.tsv) name by name.
    func testLDMRulesReproduceTheSpecTable() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("sdxl-vae"))
        let layout = try XCTUnwrap(m.layout(named: "ldm"))
        let table = try String(contentsOfFile: TestSupport.fixture("keys/vae_ldm_to_diffusers.tsv"), encoding: .utf8)
        var checked = 0
        for line in table.split(separator: "\n") where !line.hasPrefix("#") {
            let cols = line.split(separator: "\t").map(String.init)
            guard cols.count >= 2 else { continue }
            let mapped = try KeyMapper.apply(layout, to: [TensorShape(name: cols[0], shape: cols[0].hasSuffix(".weight") && cols[0].contains("attn_1.") && !cols[0].contains(".norm.") ? [4, 4, 1, 1] : [4])])
            XCTAssertEqual(mapped.tensors.first?.name, cols[1], cols[0])
            checked += 1
        }
        XCTAssertEqual(checked, 248)
    }

    func testConfigIsReadOffTheShapes() throws {
        let keys = try KeyList.load("vae_diffusers_keys.txt")
        guard case .found(let c, _) = SDXLVAEConfig.detect(ShapeTable(keys)) else { return XCTFail("not detected") }
        XCTAssertEqual(c, SDXLVAEConfig.sdxl)
    }

    func testSqueezeRefusesAKernelThatIsNotOneByOne() throws {
        let m = try XCTUnwrap(try KeyList.zoo().manifest("sdxl-vae"))
        let layout = try XCTUnwrap(m.layout(named: "ldm"))
        let bad = [TensorShape(name: "encoder.mid.attn_1.q.weight", shape: [512, 512, 3, 3])]
        XCTAssertThrowsError(try KeyMapper.apply(layout, to: bad)) { e in
            XCTAssertTrue("\(e)".contains("squeeze needs a [out, in, 1, 1] tensor"), "\(e)")
        }
    }
}
