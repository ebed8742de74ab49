import XCTest
import IRTestSupport
import IRRegistry
import IRRuntime
import IRModels

/// RetinexFormer against PyTorch (our reference module, Tools/reference/retinexformer.py, checked
/// against UniRestorer's copy of upstream) on a tiny config (n_feat 8, blocks 1/2/2) with
/// randomised LayerNorms, `rescale` and biases, saved as BasicSR saves it (Tools/gen_expert_goldens.py).
final class RetinexFormerGoldenTests: XCTestCase {
    let golden = ModelCase("retinexformer-tiny")

    /// 24×32: multiples of 4, exactly what upstream computes.
    func testTinyModelMatchesPyTorch() throws {
        let y = try BasicSRImport(golden, manifest: "retinexformer").model().run(try golden.tensor("input.npy"))
        assertGolden(y, try golden.tensor("output.npy"), "RetinexFormer tiny, 24x32")
    }

    /// 21×30 (upstream crashes): reflect-padded right/bottom to 24×32 and cropped back.
    func testOddSizeIsPaddedAndCropped() throws {
        let x = try golden.tensor("input_odd.npy")
        XCTAssertEqual(x.shape, [1, 3, 21, 30])
        let y = try BasicSRImport(golden, manifest: "retinexformer").model(threads: 1).run(x)
        XCTAssertEqual(y.shape, [1, 3, 21, 30])
        assertGolden(y, try golden.tensor("output_odd.npy"), "RetinexFormer tiny, 21x30 padded")
    }

    func testBatchOfTwo() throws {
        let model = try BasicSRImport(golden, manifest: "retinexformer").model()
        let x = try golden.tensor("input.npy")
        let other = try model.context.mul(x, 0.5)
        let y = try model.run(try model.context.concat([other, x], dim: 0))
        assertGolden(try model.context.narrow(y, dim: 0, start: 1, length: 1), try golden.tensor("output.npy"), "RetinexFormer tiny, batch item 1")
        assertClose(try model.context.narrow(y, dim: 0, start: 0, length: 1), try model.run(other), tolerance: 1e-5, "RetinexFormer batch item 0")
    }

    func testConfigIsReadOffTheShapes() throws {
        let imported = try BasicSRImport(golden, manifest: "retinexformer")
        XCTAssertTrue(imported.resolution.isExact, "\(imported.resolution.report)")
        XCTAssertEqual(imported.resolution.config, try golden.config(family: "retinexformer"))
        XCTAssertEqual(imported.resolution.config.typed(RetinexFormerConfig.self), RetinexFormerConfig(features: 8, blocks: [1, 2, 2]))
    }

    func testBadInputsAreClearErrors() throws {
        let model = try BasicSRImport(golden, manifest: "retinexformer").model()
        XCTAssertEqual(model.minimumSide, 3)
        let small = try Tensor(shape: [1, 3, 2, 8], values: [Float](repeating: 0.5, count: 3 * 2 * 8))
        XCTAssertThrowsError(try model.run(small)) { XCTAssertTrue("\($0)".contains("3x3"), "\($0)") }
        let gray = try Tensor(shape: [1, 1, 8, 8], values: [Float](repeating: 0.5, count: 64))
        XCTAssertThrowsError(try model.run(gray)) { XCTAssertTrue("\($0)".contains("3 input channels"), "\($0)") }
        XCTAssertThrowsError(try ModelConfig(RetinexFormerConfig(features: 8, stages: 2, blocks: [1, 2, 2]))) {
            XCTAssertTrue("\($0)".contains("stage"), "\($0)")
        }
    }
}
