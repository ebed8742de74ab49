import Foundation
import XCTest
import IRTestSupport
import IRCheckpoint
import IRRegistry
import IRRuntime
import IRModels

/// SDXL's two text encoders against transformers (Tools/gen_clip_text_goldens.py): tiny random
/// CLIPTextModel (QuickGELU, padded with <|endoftext|>) and CLIPTextModelWithProjection (GELU,
/// padded with '!'), the latter also from SDXL's single-file open_clip layout. The prompts are
/// tokenised here and must give the fixture's ids; then penultimate, last, pooled (and projected)
/// states within 1e-4.
final class CLIPTextGoldenTests: XCTestCase {
    struct Prompts: Decodable {
        let prompts: [String]
        let ids: [[Int32]]
    }

    func prompts(_ golden: ModelCase) throws -> Prompts {
        try JSONDecoder().decode(Prompts.self, from: try XCTUnwrap(FileManager.default.contents(atPath: golden.path("prompts.json"))))
    }

    func check(_ golden: ModelCase, file: String, manifest: String, layout: String) throws {
        let model = try XCTUnwrap(try golden.model(file, manifest: manifest, layout: layout, family: "clip-text") as? CLIPTextModel)
        let p = try prompts(golden)
        let tokenizer = try model.tokenizer(mergesText: CLIPTokenizerTests.merges, source: "bpe")
        XCTAssertEqual(p.prompts.map(tokenizer.encodePadded), p.ids, "token ids")
        let out = try model.encode(ids: p.ids)
        var worst: Float = 0
        for (name, got) in [("penultimate", out.penultimate), ("last", out.lastHidden), ("pooled", out.pooled)] + (out.projected.map { [("projected", $0)] } ?? []) {
            let expected = try golden.tensor("\(name).npy")
            assertClose(got, expected, tolerance: 1e-4, "\(manifest) \(layout) \(name)")
            worst = max(worst, maxAbsDifference(got, expected))
        }
        XCTAssertEqual(out.projected != nil, golden.exists("projected.npy"))
        print("\(manifest) / \(layout): max abs error \(worst)")
        // run() takes the ids as floats and gives the penultimate states.
        let flat = try Tensor(shape: [p.ids.count, 77], values: p.ids.joined().map(Float.init))
        XCTAssertEqual(maxAbsDifference(try model.run(flat), out.penultimate), 0)
    }

    func testCLIPL14StyleMatchesTransformers() throws {
        try check(ModelCase("clip-text-l-tiny"), file: "model.safetensors", manifest: "clip-vit-l-14-text", layout: "hf")
    }

    func testBigG14StyleMatchesTransformers() throws {
        try check(ModelCase("clip-text-bigg-tiny"), file: "model.safetensors", manifest: "openclip-vit-bigg-14-text", layout: "hf")
    }

    /// The same weights from the SGM single file (open_clip naming: fused in_proj, x @ W projection).
    func testBigG14SingleFileLayoutMatchesTransformers() throws {
        try check(ModelCase("clip-text-bigg-tiny"), file: "sgm.safetensors", manifest: "openclip-vit-bigg-14-text", layout: "sgm")
    }

    /// Causality: the states of a prefix do not depend on what follows it.
    func testAttentionIsCausal() throws {
        let golden = ModelCase("clip-text-l-tiny")
        let model = try XCTUnwrap(try golden.model("model.safetensors", manifest: "clip-vit-l-14-text", layout: "hf", family: "clip-text") as? CLIPTextModel)
        let a = try model.encode(ids: [[49406, 320, 1125, 49407, 49407]]), b = try model.encode(ids: [[49406, 320, 1125, 539, 2368]])
        let prefixA = try model.context.narrow(a.penultimate, dim: 1, start: 0, length: 3)
        let prefixB = try model.context.narrow(b.penultimate, dim: 1, start: 0, length: 3)
        XCTAssertEqual(maxAbsDifference(prefixA, prefixB), 0)
        XCTAssertEqual(a.poolIndices, [3])
    }

    func testBadIdsAreRefused() throws {
        let golden = ModelCase("clip-text-l-tiny")
        let model = try XCTUnwrap(try golden.model("model.safetensors", manifest: "clip-vit-l-14-text", layout: "hf", family: "clip-text") as? CLIPTextModel)
        for (ids, message) in [([[Int32(49408)]], "outside the vocabulary"), ([[Int32]](repeating: [1], count: 1).map { _ in [Int32](repeating: 1, count: 78) }, "positions"),
                               ([[Int32]](), "no token ids"), ([[1, 2], [3]], "differ in length")] {
            XCTAssertThrowsError(try model.encode(ids: ids)) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        XCTAssertThrowsError(try model.run(try Tensor(shape: [1, 2], values: [1.5, 2]))) { XCTAssertTrue("\($0)".contains("whole number"), "\($0)") }
        XCTAssertThrowsError(try model.run(try Tensor.zeros([1, 3, 8, 8]))) { XCTAssertTrue("\($0)".contains("[B, N]"), "\($0)") }
    }
}
