import XCTest
import IRTestSupport
import IRRegistry
import IRRuntime
import IRModels

/// SymUNet against PyTorch (our reference module, Tools/reference/symunet.py) on a tiny config
/// with perturbed LayerNorms and temperatures, from a BasicSR `{'params': ...}` checkpoint.
final class SymUNetGoldenTests: XCTestCase {
    let golden = ModelCase("symunet-tiny")

    func makeModel() throws -> Model {
        try golden.model("checkpoint.pth", manifest: "symunet", layout: "basicsr", family: "symunet")
    }

    /// 37×45 is padded to 64×64 (reflect, right/bottom) and cropped back: the odd size exercises both.
    func testOddSizedInputMatchesPyTorch() throws {
        let model = try makeModel()
        let x = try golden.tensor("input.npy")
        XCTAssertEqual(x.shape, [1, 3, 37, 45])
        let y = try model.run(x)
        assertClose(y, try golden.tensor("output.npy"), tolerance: 1e-4, "SymUNet tiny")
    }

    /// The result does not depend on the thread count (work splits never change the sums' order
    /// beyond rounding).
    func testSingleThreadedAgrees() throws {
        let model = try golden.model("checkpoint.pth", manifest: "symunet", layout: "basicsr", family: "symunet", threads: 1)
        let y = try model.run(try golden.tensor("input.npy"))
        assertClose(y, try golden.tensor("output.npy"), tolerance: 1e-4, "SymUNet tiny, 1 thread")
    }

    /// Reflect padding needs pad < side: 16 px needs 16 px of padding to reach 32.
    func testTooSmallImageIsAClearError() throws {
        let model = try makeModel()
        XCTAssertEqual(model.minimumSide, 17)
        let x = try Tensor.zeros([1, 3, 16, 40])
        XCTAssertThrowsError(try model.run(x)) { e in
            XCTAssertTrue("\(e)".contains("at least 17x17"), "\(e)")
        }
        XCTAssertThrowsError(try model.run(try Tensor.zeros([1, 4, 32, 32]))) { e in
            XCTAssertTrue("\(e)".contains("3 input channels"), "\(e)")
        }
        // 17 px is the smallest side that works.
        XCTAssertEqual(try model.run(try Tensor.zeros([1, 3, 17, 33])).shape, [1, 3, 17, 33])
    }

    func testAuxInputsAreRefused() throws {
        let model = try makeModel()
        XCTAssertThrowsError(try model.run(try golden.tensor("input.npy"), aux: ["x.pos_embed": .scalar(1)], progress: nil)) { e in
            XCTAssertTrue("\(e)".contains("takes none"), "\(e)")
        }
    }

    func testProgressCountsEveryBlock() throws {
        let model = try makeModel()
        var seen = [(Int, Int)]()
        _ = try model.run(try golden.tensor("input.npy"), aux: [:]) { seen.append(($0, $1)) }
        XCTAssertEqual(seen.map { $0.0 }, Array(1...7))
        XCTAssertTrue(seen.allSatisfy { $0.1 == 7 })
    }
}

/// A SymUNet no manifest describes (two levels, BiasFree LayerNorm, convolution biases, 2/3 | 4
/// heads, expansion 2.0): the config is read off the shapes as `irzoo import` does without
/// `--config`, and the model built from it matches PyTorch (Tools/gen_symunet_variant_golden.py).
final class SymUNetVariantGoldenTests: XCTestCase {
    let golden = ModelCase("symunet-variant")

    func testDetectedVariantMatchesPyTorch() throws {
        let records = try golden.records("checkpoint.pth", manifest: "symunet", layout: "basicsr")
        let detected = try XCTUnwrap(try Families.catalog.named("symunet")?.detect(ShapeTable(records)))
        XCTAssertEqual(detected.config, try golden.config(family: "symunet"))
        let model = try ModelFactory.make(config: detected.config, records: records, source: "checkpoint.pth")
        XCTAssertEqual(model.minimumSide, 9, "two levels pad to a multiple of 16")
        let y = try model.run(try golden.tensor("input.npy"))
        assertClose(y, try golden.tensor("output.npy"), tolerance: 1e-4, "SymUNet variant (BiasFree, biases)")
    }
}
