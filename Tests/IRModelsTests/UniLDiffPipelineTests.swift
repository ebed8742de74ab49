import XCTest
import IRRuntime
import IRModels
import IRRegistry
import IRCheckpoint

/// The whole UniLDiff restorer against PyTorch (Tools/gen_unildiff_pipeline_golden.py,
/// Tests/Fixtures/models/unildiff-e2e/): tiny VAE, LQ encoder, UNet, both text encoders and DAFF
/// from one file in the irzoo-unildiff layout, 3 Euler steps with CFG 5, torch's noise fed in.
/// Bar: 1e-4 max abs on the decoded image.
final class UniLDiffPipelineTests: XCTestCase {
    let e2e = ModelCase("unildiff-e2e")

    func model() throws -> UniLDiffModel {
        let m = try e2e.model("unildiff.safetensors", manifest: "unildiff", layout: "irzoo-unildiff", family: "unildiff")
        return try XCTUnwrap(m as? UniLDiffModel)
    }

    /// The golden's token ids: rows [negative CLIP-L, negative bigG, positive CLIP-L, positive bigG].
    func goldenPrompt(_ io: [String: Tensor]) throws -> UniLDiffPromptIDs {
        let ids = try XCTUnwrap(io["token_ids"])
        let rows = (0..<4).map { r in (0..<77).map { Int32(ids.scalars[r * 77 + $0]) } }
        return UniLDiffPromptIDs(negative: (rows[0], rows[1]), positive: (rows[2], rows[3]))
    }

    func testWholePipelineMatchesPyTorch() throws {
        let io = try e2e.tensors(npz: "io.npz")
        let m = try model()
        m.prompt = try goldenPrompt(io)
        m.steps = 3
        let ctx = m.context
        let lq = try XCTUnwrap(io["lq"])
        // The parts first, so a failure says where.
        let x = try ctx.affine(lq, scale: 2, shift: -1)
        assertClose(try m.lqEncoder(ctx, x), try XCTUnwrap(io["lq_feature"]), tolerance: 1e-4, "LQ encoder feature")
        assertClose(try ctx.mul(try m.vae.encode(x), m.vae.scalingFactor), try XCTUnwrap(io["lq_latent"]), tolerance: 1e-4, "LQ latent")
        let text = try m.textConditioning(height: 16, width: 24)
        assertClose(text.encoderHiddenStates, try XCTUnwrap(io["encoder_hidden_states"]), tolerance: 1e-4, "prompt embeddings")
        assertClose(text.textEmbeds, try XCTUnwrap(io["text_embeds"]), tolerance: 1e-4, "pooled bigG embeddings")

        var seen = [Int]()
        let out = try m.run(lq, aux: ["noise": try XCTUnwrap(io["noise"])], progress: { i, n in seen.append(i); XCTAssertEqual(n, 3) })
        XCTAssertEqual(seen, [1, 2, 3])
        let expected = try XCTUnwrap(io["output"])
        let error = maxAbsDifference(out, expected)
        print("unildiff end to end (3 steps): max abs error \(error), output range \(expected.scalars.min()!)...\(expected.scalars.max()!)")
        assertClose(out, expected, tolerance: 1e-4, "unildiff restored image")

        // The prompt must matter: the empty prompt gives another image.
        m.prompt = nil
        let unprompted = try m.run(lq, aux: ["noise": try XCTUnwrap(io["noise"])], progress: nil)
        XCTAssertGreaterThan(maxAbsDifference(unprompted, expected), 1e-3)
    }

    /// Big images: upstream's latent tiles (Gaussian-blended after every Euler step, per-tile
    /// time ids) and image tiles for the VAE and the LQ encoder, scaled down so this 16x24 image
    /// needs 3x5 latent tiles and 2x3 image tiles. PyTorch runs the same tiling on the same modules.
    func testTiledPipelineMatchesPyTorch() throws {
        let io = try e2e.tensors(npz: "io.npz")
        let m = try model()
        m.prompt = try goldenPrompt(io)
        m.steps = 3
        (m.latentTile, m.imageTile, m.imageTileOverlap) = (4, 8, 2)
        let grid = try LatentTileGrid(height: 8, width: 12, tile: 4)
        XCTAssertEqual(grid.origins.map { [$0.top, $0.left] }, [0, 2, 4].flatMap { r in [0, 2, 4, 6, 8].map { [r, $0] } })
        let lq = try XCTUnwrap(io["lq"])
        var seen = [Int]()
        let out = try m.run(lq, aux: ["noise": try XCTUnwrap(io["noise"])], progress: { i, _ in seen.append(i) })
        XCTAssertEqual(seen, [1, 2, 3])
        let expected = try XCTUnwrap(io["tiled_output"])
        print("unildiff tiled (3 steps, 15 latent tiles): max abs error \(maxAbsDifference(out, expected))")
        assertClose(out, expected, tolerance: 1e-4, "unildiff restored image, tiled")
        // Tiling changes the answer (it is not the whole run under another name).
        XCTAssertGreaterThan(maxAbsDifference(out, try XCTUnwrap(io["output"])), 1e-4)
    }

    /// The older upstream spelling `information_transformer_layes.` imports under the right name.
    func testOldDAFFSpellingIsRenamedOnImport() throws {
        let manifest = try XCTUnwrap(try Zoo.embedded().manifest("unildiff"))
        let rules = try XCTUnwrap(manifest.layout(named: "irzoo-unildiff"))
        var tensors = try CheckpointReader.read(path: e2e.path("unildiff.safetensors")).tensors
        var renamed = 0
        for i in tensors.indices where tensors[i].name.hasPrefix("unet.information_transformer_layers.") {
            tensors[i].name = tensors[i].name.replacingOccurrences(of: "_layers.", with: "_layes.")
            renamed += 1
        }
        XCTAssertEqual(renamed, 48)
        let mapped = try KeyMapper.apply(rules, to: tensors).tensors
        let config = try e2e.config(family: "unildiff")
        XCTAssertTrue(InventoryCheck.check(expected: config.inventory, tensors: mapped).isExact)
    }

    func testSeededRunsAreReproducibleAndOddSizesArePadded() throws {
        let m = try model()
        m.steps = 2
        let io = try e2e.tensors(npz: "io.npz")
        let lq = try XCTUnwrap(io["lq"])
        let odd = try m.context.crop(lq, top: 0, left: 0, height: 13, width: 21)
        m.seed = 7
        let a = try m.run(odd, aux: [:], progress: nil)
        let b = try m.run(odd, aux: [:], progress: nil)
        XCTAssertEqual(a.shape, [1, 3, 13, 21])
        XCTAssertEqual(a.scalars, b.scalars)
        m.seed = 8
        XCTAssertGreaterThan(maxAbsDifference(try m.run(odd, aux: [:], progress: nil), a), 1e-4)
    }

    func testBadInputsAreOneClearError() throws {
        let m = try model()
        m.steps = 1
        let io = try e2e.tensors(npz: "io.npz")
        let lq = try XCTUnwrap(io["lq"])
        XCTAssertThrowsError(try m.run(lq, aux: ["noise": try Tensor(shape: [1, 4, 3, 3], values: Array(repeating: 0, count: 36))], progress: nil)) {
            XCTAssertTrue("\($0)".contains("aux noise has shape [1, 4, 3, 3]"), "\($0)")
        }
        XCTAssertThrowsError(try m.run(lq, aux: ["latents": lq], progress: nil))
        XCTAssertThrowsError(try m.run(try m.context.narrow(lq, dim: 1, start: 0, length: 1), aux: [:], progress: nil)) {
            XCTAssertTrue("\($0)".contains("one RGB image"), "\($0)")
        }
    }
}
