import IRTensor
import XCTest
import IRTestSupport
import IRCheckpoint
import IRRegistry
import IRRuntime
import IRModels

/// The SDXL UNet against diffusers 0.42 `UNet2DConditionModel` on a tiny config with SDXL's
/// structure (8/16 channels, DownBlock2D + CrossAttnDownBlock2D, transformer depth 1/2, text_time
/// conditioning, every parameter randomised), imported from the diffusers and the SGM
/// single-file layouts (Tools/gen_sdxl_unet_goldens.py). Bar: max abs error ≤ 1e-4.
final class SDXLUNetGoldenTests: XCTestCase {
    let golden = ModelCase("sdxl-unet-tiny")

    func model(_ file: String, layout: String) throws -> SDXLUNetModel {
        let m = try golden.model(file, manifest: "sdxl-unet", layout: layout, family: "sdxl-unet")
        return try XCTUnwrap(m as? SDXLUNetModel)
    }

    func conditioning(batch: Int) throws -> SDXLConditioning {
        func rows(_ t: Tensor) throws -> Tensor { try t.rows(0, batch) }
        return SDXLConditioning(timesteps: Array(try golden.tensor("timestep.npy").scalars.prefix(batch)),
                                encoderHiddenStates: try rows(try golden.tensor("encoder_hidden_states.npy")),
                                textEmbeds: try rows(try golden.tensor("text_embeds.npy")),
                                timeIds: try rows(try golden.tensor("time_ids.npy")))
    }

    func testForwardMatchesDiffusersInBothLayouts() throws {
        for (file, layout) in [("diffusers.safetensors", "diffusers"), ("sgm.safetensors", "sgm")] {
            let unet = try model(file, layout: layout)
            let y = try unet.predict(try golden.tensor("sample.npy"), try conditioning(batch: 2))
            assertGolden(y, try golden.tensor("output.npy"), "sdxl-unet forward, batch 2 (\(layout))")
        }
    }

    /// A 7×10 latent: the upsamplers go to the skip's size, as diffusers' `upsample_size`.
    func testOddLatentMatchesDiffusers() throws {
        let unet = try model("diffusers.safetensors", layout: "diffusers")
        let y = try unet.predict(try golden.tensor("sample_odd.npy"), try conditioning(batch: 1))
        assertGolden(y, try golden.tensor("output_odd.npy"), "sdxl-unet forward, 7x10 latent")
    }

    /// `run` with the conditioning as aux inputs gives the same answer as `predict`.
    func testRunTakesTheConditioningAsAuxInputs() throws {
        let unet = try model("sgm.safetensors", layout: "sgm")
        let aux = ["timestep": try golden.tensor("timestep.npy"), "encoder_hidden_states": try golden.tensor("encoder_hidden_states.npy"),
                   "text_embeds": try golden.tensor("text_embeds.npy"), "time_ids": try golden.tensor("time_ids.npy")]
        let y = try unet.run(try golden.tensor("sample.npy"), aux: aux, progress: nil)
        assertGolden(y, try golden.tensor("output.npy"), "sdxl-unet run with aux inputs")
        var missing = aux
        missing["time_ids"] = nil
        XCTAssertThrowsError(try unet.run(try golden.tensor("sample.npy"), aux: missing, progress: nil)) { e in
            XCTAssertTrue("\(e)".contains("needs the aux input 'time_ids'"), "\(e)")
        }
    }

    /// The SGM single file is recognised by the resolver among the manifest's layouts.
    func testResolverPicksTheSGMLayout() throws {
        let manifest = try XCTUnwrap(try Zoo.embedded().manifest("sdxl-unet"))
        let loaded = try CheckpointReader.read(path: golden.path("sgm.safetensors"))
        let config = try JSONDecoder().decode(JSON.self, from: try Data(contentsOf: URL(fileURLWithPath: golden.path("config.json"))))
        let r = try ModelResolver.resolve(loaded.tensors, manifest: manifest, configOverride: config)
        XCTAssertEqual(r.layout.name, "sgm")
        XCTAssertTrue(r.isExact, "\(r.report)")
    }

    func testBadConditioningGetsOneClearLine() throws {
        let unet = try model("diffusers.safetensors", layout: "diffusers")
        var cond = try conditioning(batch: 2)
        cond.timeIds = try Tensor.zeros([2, 5])
        XCTAssertThrowsError(try unet.predict(try golden.tensor("sample.npy"), cond)) { e in
            XCTAssertEqual("\(e)", "sdxl-unet: time_ids must be [2, 6], got [2, 5]")
        }
        cond = try conditioning(batch: 2)
        cond.encoderHiddenStates = try Tensor.zeros([2, 5, 7])
        XCTAssertThrowsError(try unet.predict(try golden.tensor("sample.npy"), cond)) { e in
            XCTAssertTrue("\(e)".contains("encoder_hidden_states must be [2, tokens, 24]"), "\(e)")
        }
        XCTAssertThrowsError(try unet.predict(try Tensor.zeros([2, 3, 8, 8]), try conditioning(batch: 2)))
    }
}

/// fp16 weights stay fp16 in memory and are widened each time a conv or linear layer runs
/// (`WeightWidening.perLayer`, what ModelFactory picks for the SDXL families).
final class SDXLHalfPrecisionTests: XCTestCase {
    let golden = ModelCase("sdxl-unet-tiny")

    func testFP16WeightsAreWidenedPerLayerAndMatchDiffusers() throws {
        let records = try golden.records("diffusers_f16.safetensors", manifest: "sdxl-unet", layout: "diffusers")
        XCTAssertTrue(records.allSatisfy { $0.dtype == .f16 })
        let config = try XCTUnwrap(try golden.config(family: "sdxl-unet").typed(SDXLUNetConfig.self))
        let lazy = try Weights(records: records, widening: .perLayer)
        XCTAssertEqual(lazy.deferredCount, records.count)
        let cond = SDXLConditioning(timesteps: try golden.tensor("timestep.npy").scalars,
                                    encoderHiddenStates: try golden.tensor("encoder_hidden_states.npy"),
                                    textEmbeds: try golden.tensor("text_embeds.npy"), timeIds: try golden.tensor("time_ids.npy"))
        let sample = try golden.tensor("sample.npy")
        let perLayer = try SDXLUNetModel(config: config, weights: lazy).predict(sample, cond)
        assertGolden(perLayer, try golden.tensor("output_f16.npy"), "sdxl-unet fp16 weights widened per layer")
        let atLoad = try SDXLUNetModel(config: config, weights: try Weights(records: records)).predict(sample, cond)
        XCTAssertEqual(perLayer.scalars, atLoad.scalars)
        // The factory path picks per-layer widening for this family.
        XCTAssertTrue(ModelFactory.perLayerWidening.contains("sdxl-unet"))
        let built = try ModelFactory.make(config: try golden.config(family: "sdxl-unet"), records: records, source: "f16")
        let viaFactory = try XCTUnwrap(built as? SDXLUNetModel).predict(sample, cond)
        XCTAssertEqual(viaFactory.scalars, atLoad.scalars)
    }
}

/// The hook UniLDiff's DAFF uses: whatever it returns is what the down blocks (and the first skip) see.
final class SDXLUNetHookTests: XCTestCase {
    func testAfterConvInHookFeedsTheDownBlocks() throws {
        let golden = ModelCase("sdxl-unet-tiny")
        let unet = try XCTUnwrap(try golden.model("diffusers.safetensors", manifest: "sdxl-unet", layout: "diffusers",
                                                  family: "sdxl-unet") as? SDXLUNetModel)
        let cond = SDXLConditioning(timesteps: [999], encoderHiddenStates: try golden.tensor("encoder_hidden_states.npy").rows(0, 1),
                                    textEmbeds: try golden.tensor("text_embeds.npy").rows(0, 1), timeIds: try golden.tensor("time_ids.npy").rows(0, 1))
        let sample = try golden.tensor("sample.npy").rows(0, 1)
        var seen: [Int]?
        let identity = try unet.predict(sample, cond) { seen = $0.shape; return $0 }
        XCTAssertEqual(seen, [1, 8, 8, 12])
        XCTAssertEqual(identity.scalars, try unet.predict(sample, cond).scalars)
        let shifted = try unet.predict(sample, cond) { try unet.context.add($0, 0.5) }
        XCTAssertGreaterThan(maxAbsDifference(shifted, identity), 1e-3)
    }
}
