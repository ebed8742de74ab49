import XCTest
import IRTestSupport
import IRRegistry
import IRRuntime
import IRModels

/// SE-SymUNet against PyTorch on a tiny config with a tiny HF CLIP stored whole under
/// `clip_model.*` (text tower, projections and logit_scale dropped by the layout), α perturbed,
/// and the eight pos_embeds PyTorch drew given back through `aux`.
final class SESymUNetGoldenTests: XCTestCase {
    let golden = ModelCase("se-symunet-tiny")

    func makeModel() throws -> SESymUNet {
        let m = try golden.model("model.pth", manifest: "se-symunet", layout: "basicsr", family: "se-symunet")
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

    /// The CLIP context comes from the unpadded 37×45 input (resize, crop, normalise, tower).
    func testCLIPContextMatchesPyTorch() throws {
        let model = try makeModel()
        let z = try model.clipFeatures(try golden.tensor("input.npy"))
        assertClose(z, try golden.tensor("clip_tokens.npy"), tolerance: 1e-4, "CLIP last_hidden_state")
    }

    /// Without aux the documented default applies: deterministic, and really used (zeros differ).
    func testDefaultPosEmbedIsDeterministic() throws {
        let model = try makeModel()
        let x = try golden.tensor("input.npy")
        let a = try model.run(x), b = try model.run(x)
        XCTAssertEqual(maxAbsDifference(a, b), 0)
        let reference = try golden.tensor("output.npy")
        XCTAssertGreaterThan(maxAbsDifference(a, reference), 1e-4, "the default must differ from PyTorch's random draw")

        var zerosConfig = try XCTUnwrap(try golden.config(family: "se-symunet").typed(SESymUNetConfig.self))
        zerosConfig.posEmbedDefault = .zeros
        let records = try golden.records("model.pth", manifest: "se-symunet", layout: "basicsr")
        let zerosModel = try ModelFactory.make(config: try ModelConfig(zerosConfig), records: records, source: "model.pth")
        XCTAssertGreaterThan(maxAbsDifference(try zerosModel.run(x), a), 1e-6)
    }

    /// One aux tensor given: it is used, the other seven follow the default.
    func testPartialAuxMixesWithTheDefault() throws {
        let model = try makeModel()
        let x = try golden.tensor("input.npy")
        let aux = try golden.tensors(npz: "aux.npz")
        let one = ["middle_guide_attention.pos_embed": aux["middle_guide_attention.pos_embed"]!]
        let withOne = try model.run(x, aux: one, progress: nil)
        let withNone = try model.run(x)
        XCTAssertGreaterThan(maxAbsDifference(withOne, withNone), 1e-6)
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
