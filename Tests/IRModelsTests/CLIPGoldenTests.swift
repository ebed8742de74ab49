import XCTest
import IRTestSupport
import IRRegistry
import IRRuntime
import IRModels

/// The CLIP ViT vision tower against PyTorch in both published layouts: HF safetensors (q/k/v
/// split) and OpenAI's TorchScript archive (fused in_proj, fp16 weights), mapped by the registry.
/// Inputs: 23×37 (upscaled to 32×51, then cropped) and 49×49, a square that hits the
/// size-truncation quirk (31 rows, the missing one zero-filled by the crop).
final class CLIPGoldenTests: XCTestCase {
    let golden = ModelCase("clip-tiny")
    let inputs = ["a", "b"]

    func hfModel() throws -> CLIPVisionModel {
        try XCTUnwrap(try golden.model("model.safetensors", manifest: "clip-vit-l-14", layout: "hf", family: "clip-vision") as? CLIPVisionModel)
    }

    func testPreprocessingMatchesPyTorch() throws {
        let model = try hfModel()
        for tag in inputs {
            let pixels = try model.pixels(try golden.tensor("input-\(tag).npy"))
            assertClose(pixels, try golden.tensor("pixels-\(tag).npy"), tolerance: 1e-5, "pixels \(tag)")
        }
    }

    func testHFLayoutMatchesPyTorch() throws {
        let model = try hfModel()
        for tag in inputs {
            let tokens = try model.run(try golden.tensor("input-\(tag).npy"))
            assertClose(tokens, try golden.tensor("hidden-\(tag).npy"), tolerance: 1e-4, "HF tokens \(tag)")
        }
    }

    /// The same weights through OpenAI's TorchScript layout (fused q|k|v split by the registry,
    /// fp16 tensors widened at load): the same answer (the golden's weights hold fp16 values).
    func testOpenAILayoutMatchesPyTorch() throws {
        let model = try golden.model("ViT-tiny.pt", manifest: "clip-vit-l-14", layout: "openai-torchscript", family: "clip-vision")
        for tag in inputs {
            let tokens = try model.run(try golden.tensor("input-\(tag).npy"))
            assertClose(tokens, try golden.tensor("hidden-\(tag).npy"), tolerance: 1e-4, "OpenAI tokens \(tag)")
        }
    }

    /// torchvision's size arithmetic, quirk included.
    func testResizeTruncationQuirk() {
        XCTAssertTrue(CLIPPreprocess.resizedSize(height: 299, width: 299, size: 224) == (223, 224))
        XCTAssertTrue(CLIPPreprocess.resizedSize(height: 224, width: 224, size: 224) == (224, 224))
        XCTAssertTrue(CLIPPreprocess.resizedSize(height: 480, width: 640, size: 224) == (224, 298))
        XCTAssertTrue(CLIPPreprocess.resizedSize(height: 640, width: 480, size: 224) == (298, 224))
        // Sides the architecture notes list as giving 223 rows for a square.
        for side in [55, 71, 83, 95, 97, 107, 110, 111, 142, 153] {
            XCTAssertEqual(CLIPPreprocess.resizedSize(height: side, width: side, size: 224).height, 223, "side \(side)")
        }
    }

    /// An extreme aspect ratio is refused before the resize allocates anything.
    func testElongatedImageIsRefused() throws {
        let model = try hfModel()
        XCTAssertThrowsError(try model.run(try Tensor.zeros([1, 3, 1, 400_000]))) { e in
            XCTAssertTrue("\(e)".contains("aspect ratio"), "\(e)")
        }
    }

    func testTilingIsRefused() throws {
        let model = try hfModel()
        XCTAssertThrowsError(try TiledInference.run(model, image: try golden.tensor("input-a.npy"), plan: try TilePlan(tile: 32, overlap: 4)))
    }
}
