import XCTest
import IRRuntime
import IRModels

/// A stand-in network whose answer is known: y = 2x + 1 per pixel (any tiling must reproduce it).
private final class AffineModel: Model {
    let context = ComputeContext()
    var calls = 0
    var tileSizes = [[Int]]()
    var family: String { "affine-test" }
    var inputChannels: Int { 3 }
    var outputKind: ModelOutputKind { .image }
    var minimumSide: Int { 4 }
    var tiling: TilingSupport { .exact }
    var auxInputNames: [String] { [] }
    func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        calls += 1
        tileSizes.append(input.shape)
        return try context.affine(input, scale: 2, shift: 1)
    }
}

final class TiledInferenceTests: XCTestCase {
    func ramp(_ shape: [Int]) throws -> Tensor {
        try Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { Float($0 % 977) / 977 })
    }

    func testTileStartsCoverTheAxis() throws {
        let plan = try TilePlan(tile: 64, overlap: 16)
        XCTAssertEqual(plan.starts(64), [0])
        XCTAssertEqual(plan.starts(50), [0])
        XCTAssertEqual(plan.starts(100), [0, 36])
        XCTAssertEqual(plan.starts(200), [0, 48, 96, 136])
        for n in 1...300 {
            let s = plan.starts(n)
            let size = min(64, n)
            XCTAssertEqual(s.first, 0)
            XCTAssertEqual(s.last! + size, n, "the last tile ends at the border (n = \(n))")
            for (a, b) in zip(s, s.dropFirst()) { XCTAssertGreaterThanOrEqual(a + size - b, 16, "overlap at n = \(n)") }
        }
        XCTAssertThrowsError(try TilePlan(tile: 32, overlap: 32))
        XCTAssertThrowsError(try TilePlan(tile: 0, overlap: 0))
    }

    /// Blending weights sum out exactly: an affine per-pixel model gives the same image tiled.
    func testBlendingReproducesAPerPixelModel() throws {
        let model = AffineModel()
        let x = try ramp([1, 3, 70, 101])
        let whole = try model.run(x)
        for (tile, overlap) in [(32, 8), (40, 0), (64, 31), (17, 5)] {
            model.calls = 0
            var reported = [Int]()
            let tiled = try TiledInference.run(model, image: x, plan: try TilePlan(tile: tile, overlap: overlap)) { done, _ in reported.append(done) }
            let plan = try TilePlan(tile: tile, overlap: overlap)
            let expectedTiles = plan.starts(70).count * plan.starts(101).count
            XCTAssertEqual(model.calls, expectedTiles)
            XCTAssertEqual(reported, Array(1...expectedTiles))
            XCTAssertEqual(tiled.shape, whole.shape)
            XCTAssertLessThanOrEqual(maxAbsDifference(tiled, whole), 2e-6, "tile \(tile) overlap \(overlap)")
        }
    }

    /// Tiles have the same size (buffers are reused), never larger than asked.
    func testTilesHaveOneSize() throws {
        let model = AffineModel()
        _ = try TiledInference.run(model, image: try ramp([1, 3, 50, 90]), plan: try TilePlan(tile: 32, overlap: 8))
        XCTAssertEqual(Set(model.tileSizes.map { $0 }), [[1, 3, 32, 32]])
    }

    func testImageWithinOneTileRunsWhole() throws {
        let model = AffineModel()
        let x = try ramp([1, 3, 20, 30])
        let y = try TiledInference.run(model, image: x, plan: try TilePlan(tile: 64, overlap: 8))
        XCTAssertEqual(model.calls, 1)
        XCTAssertEqual(model.tileSizes, [[1, 3, 20, 30]])
        XCTAssertEqual(maxAbsDifference(y, try model.run(x)), 0)
    }

    func testTilesSmallerThanTheNetworkAcceptsAreRefused() throws {
        let model = AffineModel()
        XCTAssertThrowsError(try TiledInference.run(model, image: try ramp([1, 3, 40, 40]), plan: try TilePlan(tile: 3, overlap: 0))) { e in
            XCTAssertTrue("\(e)".contains("larger --tile"), "\(e)")
        }
    }
}
