import XCTest
import IRImage
import IRJobs
import IRRuntime

/// An upscaler's output in the input's layout: gray stays gray, alpha is resized bilinearly to the
/// output size, and the memory planner counts the output-side buffers at scale².
final class UpscaledImageTests: XCTestCase {
    func testGrayWithAlphaComesBackGrayWithAlphaAtTwiceTheSize() throws {
        let input = try RasterImage(width: 2, height: 1, colorChannels: 1, color: [0.2, 0.4], alpha: [0, 1])
        // An RGB network's 2x output: 3 planes of 2x4.
        let planes: [Float] = [Float](repeating: 0.3, count: 8) + [Float](repeating: 0.6, count: 8) + [Float](repeating: 0.9, count: 8)
        let out = try ImageTensors.restored(try Tensor(shape: [1, 3, 2, 4], values: planes), like: input, bitDepth: 8)
        XCTAssertEqual([out.width, out.height, out.colorChannels], [4, 2, 1])
        for v in out.color { XCTAssertEqual(v, 0.6, accuracy: 1e-6) }
        // Half-pixel centres: output x maps to (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped).
        let alpha = try XCTUnwrap(out.alpha)
        XCTAssertEqual(Array(alpha.prefix(4)), [0, 0.25, 0.75, 1])
        XCTAssertEqual(Array(alpha.suffix(4)), [0, 0.25, 0.75, 1])
    }

    /// Not an integer multiple of the input: no layout is borrowed (plain RGB, no alpha).
    func testAnOutputOfAnotherSizeIsPlain() throws {
        let input = try RasterImage(width: 2, height: 2, colorChannels: 3, color: [Float](repeating: 0.5, count: 12), alpha: [1, 1, 1, 1])
        let out = try ImageTensors.restored(try Tensor(shape: [1, 3, 3, 3], values: [Float](repeating: 0.1, count: 27)), like: input, bitDepth: 8)
        XCTAssertNil(out.alpha)
        XCTAssertEqual(out.width, 3)
    }

    func testPlannerCountsOutputBuffersAtScaleSquared() throws {
        XCTAssertEqual(MemoryPlanner.bytesPerImagePixel, 72)
        XCTAssertEqual(MemoryPlanner.imageBytes(pixels: 100, scale: 4), 100 * (28 + 16 * 44))
        let planner = MemoryPlanner(budget: 1 << 40, estimate: .init(fixed: 0, perPixel: 1000), baseline: 0)
        guard case .whole(let one) = try planner.decide(height: 500, width: 500, minimumSide: 1),
              case .whole(let four) = try planner.decide(height: 500, width: 500, minimumSide: 1, scale: 4) else { return XCTFail("expected whole") }
        XCTAssertEqual(four - one, 500 * 500 * 44 * 15)
    }
}
