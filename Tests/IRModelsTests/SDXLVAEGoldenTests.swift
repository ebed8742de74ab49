import XCTest
import IRTestSupport
import IRCheckpoint
import IRTensor
import IRRegistry
import IRRuntime
import IRModels

/// The SDXL VAE against diffusers 0.42 `AutoencoderKL` on a tiny config (8/16/16/16 channels,
/// 2 groups, every parameter randomised), imported from the diffusers and the LDM single-file
/// layouts (Tools/gen_sdxl_vae_goldens.py). Bar: max abs error ≤ 1e-4.
final class SDXLVAEGoldenTests: XCTestCase {
    let golden = ModelCase("sdxl-vae-tiny")

    func model(_ file: String, layout: String) throws -> AutoencoderKLModel {
        let m = try golden.model(file, manifest: "sdxl-vae", layout: layout, family: "sdxl-vae")
        return try XCTUnwrap(m as? AutoencoderKLModel)
    }

    func testEncodeMatchesDiffusersInBothLayouts() throws {
        for (file, layout) in [("diffusers.safetensors", "diffusers"), ("ldm.safetensors", "ldm")] {
            let vae = try model(file, layout: layout)
            let image = try golden.tensor("image.npy")
            assertGolden(try vae.encodeMoments(image), try golden.tensor("moments.npy"), "sdxl-vae encode moments (\(layout))")
            assertGolden(try vae.encode(image), try golden.tensor("mean.npy"), "sdxl-vae encode mean (\(layout))")
        }
    }

    func testDecodeMatchesDiffusersInBothLayouts() throws {
        for (file, layout) in [("diffusers.safetensors", "diffusers"), ("ldm.safetensors", "ldm")] {
            let vae = try model(file, layout: layout)
            let y = try vae.decode(try golden.tensor("latent.npy"))
            XCTAssertEqual(y.shape, [1, 3, 32, 40])
            assertGolden(y, try golden.tensor("decoded.npy"), "sdxl-vae decode (\(layout))")
        }
    }

    /// `run` (what `irzoo run` calls): [0, 1] image → mean latent → [0, 1] image.
    func testRoundTripMatchesDiffusers() throws {
        let vae = try model("diffusers.safetensors", layout: "diffusers")
        assertGolden(try vae.run(try golden.tensor("rgb.npy")), try golden.tensor("roundtrip.npy"), "sdxl-vae round trip")
    }

    /// The import path picks the layout by itself (`irzoo import --arch sdxl-vae`), config from config.json.
    func testResolverPicksTheLDMLayoutForThePrefixedSingleFile() throws {
        let manifest = try XCTUnwrap(try Zoo.embedded().manifest("sdxl-vae"))
        let loaded = try CheckpointReader.read(path: golden.path("ldm.safetensors"))
        let config = try JSONDecoder().decode(JSON.self, from: try Data(contentsOf: URL(fileURLWithPath: golden.path("config.json"))))
        let r = try ModelResolver.resolve(loaded.tensors, manifest: manifest, configOverride: config)
        XCTAssertEqual(r.layout.name, "ldm")
        XCTAssertTrue(r.isExact, "\(r.report)")
    }

    /// A sample is mean + std·ε with a seeded ε: reproducible, and different from the mean.
    func testSampleIsSeededAndCentredOnTheMean() throws {
        let vae = try model("diffusers.safetensors", layout: "diffusers")
        let image = try golden.tensor("image.npy")
        let a = try vae.encode(image, sample: 7), b = try vae.encode(image, sample: 7), c = try vae.encode(image, sample: 8)
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertNotEqual(a.scalars, c.scalars)
        XCTAssertGreaterThan(maxAbsDifference(a, try golden.tensor("mean.npy")), 1e-3)
    }

    func testBadInputsGetOneClearLine() throws {
        let vae = try model("diffusers.safetensors", layout: "diffusers")
        XCTAssertThrowsError(try vae.decode(try Tensor.zeros([1, 3, 4, 4]))) { e in
            XCTAssertEqual("\(e)", "sdxl-vae decode expects [B, 4, H, W], got shape [1, 3, 4, 4]")
        }
        XCTAssertThrowsError(try vae.encode(try Tensor.zeros([1, 3, 12, 16]))) { e in
            XCTAssertTrue("\(e)".contains("multiples of 8"), "\(e)")
        }
        XCTAssertThrowsError(try vae.run(try Tensor.zeros([1, 4, 16, 16])))
    }
}

/// Tiled encode/decode: exact when the input fits one tile, bounded tiles otherwise.
final class SDXLVAETilingTests: XCTestCase {
    let golden = ModelCase("sdxl-vae-tiny")

    func model() throws -> AutoencoderKLModel {
        try XCTUnwrap(try golden.model("diffusers.safetensors", manifest: "sdxl-vae", layout: "diffusers", family: "sdxl-vae") as? AutoencoderKLModel)
    }

    func testOneTileIsTheWholeAnswer() throws {
        let vae = try model()
        let latent = try golden.tensor("latent.npy")
        assertGolden(try vae.decodeTiled(latent, plan: try TilePlan(tile: 8, overlap: 2)), try golden.tensor("decoded.npy"), "sdxl-vae decode, one tile")
        let image = try golden.tensor("image.npy")
        assertGolden(try vae.encodeTiled(image, plan: try TilePlan(tile: 64, overlap: 8)), try golden.tensor("mean.npy"), "sdxl-vae encode, one tile")
    }

    func testTiledRunsKeepTheShapesAndStayFinite() throws {
        let vae = try model()
        var calls = 0
        let y = try vae.decodeTiled(try golden.tensor("latent.npy"), plan: try TilePlan(tile: 3, overlap: 1)) { _, _ in calls += 1 }
        XCTAssertEqual(y.shape, [1, 3, 32, 40])
        XCTAssertEqual(calls, 4)  // rows 0, 1 × cols 0, 2
        XCTAssertTrue(y.scalars.allSatisfy { $0.isFinite })
        let z = try vae.encodeTiled(try golden.tensor("image.npy"), plan: try TilePlan(tile: 24, overlap: 8))
        XCTAssertEqual(z.shape, [1, 4, 4, 5])
        XCTAssertThrowsError(try vae.encodeTiled(try golden.tensor("image.npy"), plan: try TilePlan(tile: 20, overlap: 4)))
    }
}

/// The encoder without its output layers (UniLDiff's LQ encoder) under another scope gives the
/// full encoder's mid-block features.
final class SDXLVAEEncoderFeatureTests: XCTestCase {
    func testEncoderWithoutOutputLayersGivesTheMidBlockFeatures() throws {
        let golden = ModelCase("sdxl-vae-tiny")
        let config = try XCTUnwrap(try golden.config(family: "sdxl-vae").typed(SDXLVAEConfig.self))
        let records = try golden.records("diffusers.safetensors", manifest: "sdxl-vae", layout: "diffusers")
        let full = try Weights(records: records)
        var renamed = [TensorRecord]()
        for r in records where r.name.hasPrefix("encoder.") && !r.name.contains("conv_norm_out") && !r.name.contains("conv_out") {
            renamed.append(try TensorRecord(name: "denoise_encoder." + r.name.dropFirst("encoder.".count), dtype: r.dtype, shape: r.shape, data: r.data))
        }
        let ctx = ComputeContext()
        let image = try golden.tensor("image.npy")
        let lq = try VAEEncoder(try Weights(records: renamed), config: config, scope: "denoise_encoder", withOutput: false)
        let reference = try VAEEncoder(full, config: config)
        let f = try lq.features(ctx, image)
        XCTAssertEqual(f.shape, [1, 16, 4, 5])
        XCTAssertEqual(f.scalars, try reference.features(ctx, image).scalars)
        XCTAssertThrowsError(try lq(ctx, image))
    }
}
