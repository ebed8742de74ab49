import XCTest
import IRTestSupport
import IRRegistry
import IRRuntime
import IRModels

/// SE-SymUNet against PyTorch on a tiny config (width 4, 21×27 input padded to 32×32) with a tiny
/// HF CLIP stored whole under `clip_model.*` (text tower, projections and logit_scale dropped by
/// the layout), α perturbed; once with the pos_embeds PyTorch used given back through `aux`, once
/// with irzoo's documented `seeded-normal` default computed in PyTorch by Tools/reference/pos_embed.py.
final class SESymUNetGoldenTests: XCTestCase {
    let golden = ModelCase("se-symunet-tiny")

    func makeModel() throws -> SESymUNet {
        let m = try golden.model("checkpoint.pth", manifest: "se-symunet", layout: "basicsr", family: "se-symunet")
        return try XCTUnwrap(m as? SESymUNet)
    }

    func testMatchesPyTorchWithItsPosEmbeds() throws {
        let model = try makeModel()
        let aux = try golden.tensors(npz: "aux.npz")
        XCTAssertEqual(Set(aux.keys), Set(model.auxInputNames))
        XCTAssertEqual(model.auxInputNames.count, 8)
        let y = try model.run(try golden.tensor("input.npy"), aux: aux, progress: nil)
        assertClose(y, try golden.tensor("output.npy"), tolerance: 1e-4, "SE-SymUNet tiny")
    }

    /// Without aux, the seeded-normal default: the same numbers PyTorch gets from the Python twin.
    func testDefaultPosEmbedMatchesItsSpecification() throws {
        let model = try makeModel()
        let x = try golden.tensor("input.npy")
        let y = try model.run(x)
        assertClose(y, try golden.tensor("output-default-pos.npy"), tolerance: 1e-4, "SE-SymUNet tiny, default pos_embed")
        XCTAssertEqual(maxAbsDifference(y, try model.run(x)), 0, "deterministic")
        XCTAssertGreaterThan(maxAbsDifference(y, try golden.tensor("output.npy")), 1e-3, "the default differs from PyTorch's draw")
    }

    /// `zeros` drops the term: a third answer.
    func testZerosDefaultDropsTheTerm() throws {
        var config = try XCTUnwrap(try golden.config(family: "se-symunet").typed(SESymUNetConfig.self))
        config.posEmbedDefault = .zeros
        let records = try golden.records("checkpoint.pth", manifest: "se-symunet", layout: "basicsr")
        let zeros = try ModelFactory.make(config: try ModelConfig(config), records: records, source: "checkpoint.pth")
        let x = try golden.tensor("input.npy")
        XCTAssertGreaterThan(maxAbsDifference(try zeros.run(x), try golden.tensor("output-default-pos.npy")), 1e-4)
    }

    /// The CLIP path from the unpadded 21×27 input: preprocessing, then the tower.
    func testCLIPContextMatchesPyTorch() throws {
        let model = try makeModel()
        let z = try model.clipFeatures(try golden.tensor("input.npy"))
        assertClose(z, try golden.tensor("clip_hidden.npy"), tolerance: 1e-4, "CLIP last_hidden_state")
    }

    /// Tiles take their CLIP context from the whole image: the runner on the whole image is the
    /// plain forward pass, and on a crop it differs from running the crop alone.
    func testTileRunnerSharesTheWholeImageCLIPFeatures() throws {
        let model = try makeModel()
        let x = try golden.tensor("input.npy")
        let aux = try golden.tensors(npz: "aux.npz")
        let runner = try model.tileRunner(whole: x, aux: aux)
        assertClose(try runner(x), try golden.tensor("output.npy"), tolerance: 1e-4, "SE-SymUNet tile runner, whole image")
        // 17×20 pads to the same 32×32 as 21×27, so the aux pos_embeds fit the crop too.
        let crop = try model.context.crop(x, top: 2, left: 3, height: 17, width: 20)
        let shared = try runner(crop), alone = try model.run(crop, aux: aux, progress: nil)
        XCTAssertEqual(shared.shape, [1, 3, 17, 20])
        XCTAssertGreaterThan(maxAbsDifference(shared, alone), 1e-6, "the crop's own CLIP features would differ")
    }

    /// One aux tensor given: it is used, the other seven follow the default.
    func testPartialAuxMixesWithTheDefault() throws {
        let model = try makeModel()
        let x = try golden.tensor("input.npy")
        let aux = try golden.tensors(npz: "aux.npz")
        let one = ["middle_guide_attention.pos_embed": try XCTUnwrap(aux["middle_guide_attention.pos_embed"])]
        let withOne = try model.run(x, aux: one, progress: nil)
        XCTAssertGreaterThan(maxAbsDifference(withOne, try golden.tensor("output-default-pos.npy")), 1e-6)
        XCTAssertGreaterThan(maxAbsDifference(withOne, try golden.tensor("output.npy")), 1e-6)
    }

    func testWrongAuxIsAClearError() throws {
        let model = try makeModel()
        let x = try golden.tensor("input.npy")
        XCTAssertThrowsError(try model.run(x, aux: ["middle_guide_attention.pos_embed": try Tensor.zeros([1, 3, 5])], progress: nil)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("middle_guide_attention.pos_embed") && text.contains("[1, 3, 5]"), text)
        }
        // The last refinement's output is discarded, but a given pos_embed is still checked.
        XCTAssertThrowsError(try model.run(x, aux: ["decoder_refine_attentions.2.pos_embed": try Tensor.zeros([1, 2, 2])], progress: nil))
        XCTAssertThrowsError(try model.run(x, aux: ["middle_guide.pos_embed": try Tensor.zeros([1, 1, 1])], progress: nil)) { e in
            XCTAssertTrue("\(e)".contains("is not an input of se-symunet"), "\(e)")
        }
    }
}
