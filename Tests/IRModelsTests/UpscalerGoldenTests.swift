import Foundation
import XCTest
import IRTestSupport
import IRTensor
import IRCheckpoint
import IRRegistry
import IRRuntime
import IRModels

/// RRDBNet (ESRGAN / Real-ESRGAN) and SRVGGNetCompact against PyTorch (Tools/reference/rrdbnet.py,
/// srvgg.py; fixtures by Tools/gen_upscaler_goldens.py), every hyperparameter read off the shapes,
/// in each published key layout, max abs error ≤ 1e-4.
final class UpscalerGoldenTests: XCTestCase {
    /// Imports `name`/model.pth with `manifest`'s layouts, checks layout, config and scale, and the output.
    @discardableResult
    func check(_ name: String, manifest: String, layout: String, family: String, scale: Int) throws -> Model {
        let golden = ModelCase(name)
        let imported = try BasicSRImport(golden, manifest: manifest)
        XCTAssertTrue(imported.resolution.isExact, "\(name): \(imported.resolution.report)")
        XCTAssertEqual(imported.resolution.layout.name, layout, name)
        XCTAssertEqual(imported.resolution.config, try golden.config(family: family), name)
        let model = try imported.model()
        XCTAssertEqual(model.scale, scale, name)
        let x = try golden.tensor("input.npy")
        let y = try model.run(x)
        XCTAssertEqual(y.shape, [1, 3, x.shape[2] * scale, x.shape[3] * scale], name)
        assertGolden(y, try golden.tensor("output.npy"), "\(name) \(x.shape[2])x\(x.shape[3]) -> \(y.shape[2])x\(y.shape[3])")
        return model
    }

    /// BasicSR's {'params_ema', 'params'}: params_ema is read ('params' holds other values).
    func testRRDBNetX4FromParamsEMA() throws {
        let golden = ModelCase("rrdbnet-x4")
        let loaded = try CheckpointReader.read(path: golden.path("model.pth"))
        XCTAssertEqual(loaded.wrapper.map { $0.hasPrefix("params_ema") }, true, "\(loaded.wrapper ?? "none")")
        try check("rrdbnet-x4", manifest: "realesrgan-x4plus", layout: "basicsr", family: "rrdbnet", scale: 4)
    }

    /// Pixel-unshuffle by 2, a 13x10 input reflect-padded to 14x10 and the 28x20 output cropped to 26x20.
    func testRRDBNetX2UnshufflesAnOddSide() throws {
        try check("rrdbnet-x2", manifest: "realesrgan-x2plus", layout: "basicsr", family: "rrdbnet", scale: 2)
    }

    /// Pixel-unshuffle by 4 (BasicSR's x1): 14x9 padded to 16x12, cropped back to 14x9.
    func testRRDBNetX1UnshufflesBy4() throws {
        let model = try check("rrdbnet-x1", manifest: "realesrgan-x4plus", layout: "basicsr", family: "rrdbnet", scale: 1)
        XCTAssertEqual(model.minimumSide, 4)
    }

    func testOldESRGANKeyNames() throws {
        try check("rrdbnet-old-x4", manifest: "esrgan-x4", layout: "esrgan-old", family: "rrdbnet", scale: 4)
    }

    func testESRGAN2019KeyNames() throws {
        try check("rrdbnet-2019-x4", manifest: "esrgan-x4", layout: "esrgan-2019", family: "rrdbnet", scale: 4)
    }

    /// Old 1x (no upsampling stage: model.2 is the HR conv) and 8x (model.9 is conv_up3) ESRGANs.
    func testOldESRGAN1xAnd8x() throws {
        try check("rrdbnet-old-x1", manifest: "esrgan-x4", layout: "esrgan-old", family: "rrdbnet", scale: 1)
        try check("rrdbnet-old-x8", manifest: "esrgan-x4", layout: "esrgan-old", family: "rrdbnet", scale: 8)
    }

    func testSRVGGCompactX4AndX2() throws {
        try check("srvgg-x4", manifest: "realesr-general-x4v3", layout: "basicsr", family: "srvgg", scale: 4)
        try check("srvgg-x2", manifest: "realesr-animevideov3", layout: "basicsr", family: "srvgg", scale: 2)
    }

    /// PReLU's slopes are per channel: the same weights with one shared slope give another answer.
    func testPReLUSlopesArePerChannel() throws {
        let ctx = ComputeContext(threads: 2)
        let x = try Tensor(shape: [1, 2, 1, 3], values: [-1, 2, -3, -4, 5, -6])
        let y = try ctx.prelu(x, slopes: try Tensor(shape: [2], values: [0.5, -2]))
        XCTAssertEqual(y.scalars, [-0.5, 2, -1.5, 8, 5, 12])
        XCTAssertThrowsError(try ctx.prelu(x, slopes: try Tensor(shape: [3], values: [1, 1, 1])))
    }

    /// Tiles run at the input scale and are placed and blended at 4x: a tile covering the image
    /// is the whole-image answer; overlapping tiles agree with it away from the seams and stay close on them.
    func testTilesAreBlendedAtTheOutputScale() throws {
        let golden = ModelCase("srvgg-x4")
        let model = try BasicSRImport(golden, manifest: "realesr-general-x4v3").model()
        let ctx = ComputeContext(threads: 2)
        let x = try ctx.interpolate(try golden.tensor("input.npy"), size: Size2(40, 36), mode: .bilinear)
        let whole = try model.run(x)
        let one = try TiledInference.run(model, image: x, plan: try TilePlan(tile: 64, overlap: 8))
        XCTAssertEqual(maxAbsDifference(one, whole), 0)
        let tiled = try TiledInference.run(model, image: x, plan: try TilePlan(tile: 24, overlap: 12))
        XCTAssertEqual(tiled.shape, [1, 3, 160, 144])
        let d = maxAbsDifference(tiled, whole)
        print("srvgg-x4 tiny, 40x36 in 24-pixel tiles with 12 overlap, blended at 4x: max abs difference \(d) from the whole image")
        XCTAssertLessThan(d, 0.05)
        // Tiles start at rows 0, 12, 16 and columns 0, 12: input rows and columns 0..<12 lie in the
        // first tile alone, farther than the 5-pixel receptive radius (5 convs) from its inner edges,
        // so their 48x48 output corner is the whole image's.
        let t = tiled.scalars, w = whole.scalars
        var corner: Float = 0
        for c in 0..<3 {
            for i in 0..<48 {
                for j in 0..<48 { corner = max(corner, abs(t[(c * 160 + i) * 144 + j] - w[(c * 160 + i) * 144 + j])) }
            }
        }
        XCTAssertLessThanOrEqual(corner, 1e-5)
    }
}
