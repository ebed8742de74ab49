import XCTest
import IRTestSupport
import IRRegistry
import IRTensor
import IRRuntime
import IRModels

/// DehazeFormer against PyTorch (our reference module, Tools/reference/dehazeformer.py, checked
/// against UniRestorer's copy of upstream) on a tiny config whose RLN weights and meta convs,
/// biases and stored `relative_positions` buffers are randomised, saved as BasicSR saves it
/// (Tools/gen_expert_goldens.py), imported as `irzoo import` does.
final class DehazeFormerGoldenTests: XCTestCase {
    let golden = ModelCase("dehazeformer-tiny")  // widths 8/16/24/16/8, depths 2/4/4/2/2, 29×34

    /// 29×34 is padded to 32×36, and every attention level again to whole windows, plain and shifted.
    func testTinyModelMatchesPyTorch() throws {
        let imported = try BasicSRImport(golden, manifest: "dehazeformer-l")
        let x = try golden.tensor("input.npy")
        XCTAssertEqual(x.shape, [1, 3, 29, 34])
        let y = try imported.model().run(x)
        XCTAssertEqual(y.shape, [1, 3, 29, 34])
        assertGolden(y, try golden.tensor("output.npy"), "DehazeFormer tiny, 29x34")
    }

    func testOneThreadGivesTheSameAnswer() throws {
        let imported = try BasicSRImport(golden, manifest: "dehazeformer-l")
        let y = try imported.model(threads: 1).run(try golden.tensor("input.npy"))
        assertGolden(y, try golden.tensor("output.npy"), "DehazeFormer tiny, 1 thread")
    }

    /// A batch of two runs each image on its own (RLN statistics are per image).
    func testBatchOfTwo() throws {
        let model = try BasicSRImport(golden, manifest: "dehazeformer-l").model()
        let x = try golden.tensor("input.npy")
        let dimmed = try model.context.mul(x, 0.5)
        let y = try model.run(try model.context.concat([x, dimmed], dim: 0))
        assertGolden(try model.context.narrow(y, dim: 0, start: 0, length: 1), try golden.tensor("output.npy"), "DehazeFormer tiny, batch item 0")
        assertClose(try model.context.narrow(y, dim: 0, start: 1, length: 1), try model.run(dimmed), tolerance: 1e-5, "DehazeFormer batch item 1")
    }

    /// The widths, depths, attention placement, heads, MLP ratios and window come from the shapes.
    func testConfigIsReadOffTheShapes() throws {
        let imported = try BasicSRImport(golden, manifest: "dehazeformer-l")
        XCTAssertTrue(imported.resolution.isExact, "\(imported.resolution.report)")
        XCTAssertEqual(imported.resolution.configSource, "detected from shapes")
        XCTAssertEqual(imported.resolution.config, try golden.config(family: "dehazeformer"))
        let c = try XCTUnwrap(imported.resolution.config.typed(DehazeFormerConfig.self))
        XCTAssertEqual(c.attentionBlocks(layer: 0), [false, true])
        XCTAssertEqual(c.attentionBlocks(layer: 1), [false, false, true, true])
        XCTAssertEqual(c.attentionBlocks(layer: 2), [false, true, true, true])
    }

    /// The stored relative_positions buffer is what the model reads (the golden perturbs it by
    /// N(0, 0.25²)): recomputing it from the window size instead changes PyTorch's answer by 2.9e-3.
    func testStoredRelativePositionsAreUsed() throws {
        let imported = try BasicSRImport(golden, manifest: "dehazeformer-l")
        let c = try XCTUnwrap(imported.resolution.config.typed(DehazeFormerConfig.self))
        var table = [String: Tensor]()
        for r in imported.records { table[r.name] = try Tensor(record: r) }
        let (window, n) = (c.windowSize, c.windowSize * c.windowSize)
        var clean = [Float](repeating: 0, count: n * n * 2)
        func logSpaced(_ d: Int) -> Float {
            let magnitude = Float(Foundation.log(1 + Double(abs(d))))
            return d > 0 ? magnitude : (d < 0 ? -magnitude : 0)
        }
        for a in 0..<n {
            for b in 0..<n {
                clean[(a * n + b) * 2] = logSpaced(a / window - b / window)
                clean[(a * n + b) * 2 + 1] = logSpaced(a % window - b % window)
            }
        }
        for name in table.keys where name.hasSuffix("relative_positions") {
            table[name] = try Tensor(shape: [n, n, 2], values: clean)
        }
        let y = try DehazeFormerModel(config: c, weights: Weights(tensors: table)).run(try golden.tensor("input.npy"))
        let d = maxAbsDifference(y, try golden.tensor("output.npy"))
        XCTAssertGreaterThan(d, 1e-3, "the perturbed buffers must matter well beyond the 1e-4 tolerance")
    }

    /// Sides too small for the window padding of the deepest attention level are one clear line.
    func testTooSmallImageIsAClearError() throws {
        let model = try BasicSRImport(golden, manifest: "dehazeformer-l").model()
        XCTAssertEqual(model.minimumSide, 25)
        let x = try Tensor(shape: [1, 3, 21, 30], values: [Float](repeating: 0.5, count: 3 * 21 * 30))
        XCTAssertThrowsError(try model.run(x)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("25"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
        let wrong = try Tensor(shape: [1, 4, 32, 32], values: [Float](repeating: 0, count: 4 * 32 * 32))
        XCTAssertThrowsError(try model.run(wrong))
    }

    /// DehazeFormer-L, the published config: its minimum side and the per-side rule.
    func testLargeConfigSizeRule() throws {
        let shapes = DehazeFormerConfig.large.inventory
        let weights = try constantWeights(shapes.map { TensorShape(name: $0.name, shape: $0.shape) })
        let model = try DehazeFormerModel(config: .large, weights: weights)
        XCTAssertEqual(model.minimumSide, 25)
        XCTAssertNotNil(model.sizeProblem(side: 24))
        for side in 25...80 { XCTAssertNil(model.sizeProblem(side: side), "side \(side)") }
    }
}
