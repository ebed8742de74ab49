import Foundation
import IRImage
import IRTensor
import IRTestSupport
import XCTest

/// Fixtures from Tools/gen_png_fixtures.py: 5x3 images whose samples follow formulas.
final class PNGImageTests: XCTestCase {
    private let w = 5, h = 3

    private func expected8(_ x: Int, _ y: Int, _ c: Int) -> Float { Float((7 * x + 13 * y + 50 * c) % 256) / 255 }
    private func expected16(_ x: Int, _ y: Int, _ c: Int) -> Float { Float((1009 * x + 2003 * y + 17011 * c) % 65536) / 65535 }

    private func read(_ name: String) throws -> PNGImage { try PNGCodec.read(path: TestSupport.fixture("png/" + name)) }

    func testEveryLayoutAndDepthDecodesToTheStoredSamples() throws {
        for (label, channels) in [("gray", 1), ("graya", 2), ("rgb", 3), ("rgba", 4)] {
            for depth in [8, 16] {
                let image = try read("\(label)\(depth).png")
                let colorChannels = channels >= 3 ? 3 : 1
                XCTAssertEqual(image.width, w)
                XCTAssertEqual(image.height, h)
                XCTAssertEqual(image.bitDepth, depth)
                XCTAssertEqual(image.colorChannels, colorChannels, label)
                XCTAssertEqual(image.alpha != nil, channels == 2 || channels == 4, label)
                let f = depth == 8 ? expected8 : expected16
                for y in 0..<h {
                    for x in 0..<w {
                        for c in 0..<colorChannels {
                            XCTAssertEqual(image.color[c * w * h + y * w + x], f(x, y, c), "\(label)\(depth) (\(x),\(y),\(c))")
                        }
                        if let alpha = image.alpha {
                            XCTAssertEqual(alpha[y * w + x], f(x, y, colorChannels), "\(label)\(depth) alpha")
                        }
                    }
                }
            }
        }
    }

    func testGammaChunkDoesNotChangeSamples() throws {
        XCTAssertEqual(try read("rgb8-gamma.png").color, try read("rgb8.png").color)
    }

    func testPaletteAndOneBitImagesExpandTo8Bit() throws {
        let palette = try read("palette.png")
        let text = try String(contentsOfFile: TestSupport.fixture("png/palette-expected-rgb.txt"), encoding: .utf8)
        let want = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { Float(Int($0)!) / 255 }
        XCTAssertEqual(palette.colorChannels, 3)
        XCTAssertEqual(palette.color, want)
        let bits = try read("gray1.png")
        XCTAssertEqual(bits.colorChannels, 1)
        XCTAssertEqual(bits.color, (0..<(w * h)).map { Float(((($0 % w) + ($0 / w)) % 2) * 255) / 255 })
    }

    func testRoundTripKeepsEverySampleAtBothDepths() throws {
        for name in ["gray8", "graya8", "rgb8", "rgba8", "gray16", "graya16", "rgb16", "rgba16"] {
            let image = try read(name + ".png")
            let dir = TestSupport.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("out.png").path
            try PNGCodec.write(image, to: path)
            XCTAssertEqual(try PNGCodec.read(path: path), image, name)
            // No temporary file is left beside the output.
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.png"])
        }
    }

    func testSixteenBitKeepsPrecisionThatEightBitLoses() throws {
        let values: [Float] = [0, 0.1234567, 0.5, 0.99999, 1, 0.25, 0.75, 0.333, 0.666, 0.001, 0.999, 0.4]
        let image = try PNGImage(width: 4, height: 1, colorChannels: 3, color: values, bitDepth: 16)
        let back16 = try PNGCodec.decode(PNGCodec.encode(image).withUnsafeBytes { Array($0) }.withUnsafeBytes { $0 })
        for (a, b) in zip(back16.color, values) { XCTAssertEqual(a, b, accuracy: 0.5 / 65535 + 1e-7) }
        let bytes8 = try PNGCodec.encode(image, bitDepth: 8)
        let back8 = try bytes8.withUnsafeBytes { try PNGCodec.decode($0) }
        XCTAssertEqual(back8.bitDepth, 8)
        for (a, b) in zip(back8.color, values) { XCTAssertEqual(a, b, accuracy: 0.5 / 255 + 1e-7) }
    }

    func testQuantisationClampsAndRoundsHalfToEven() throws {
        // 0.5/255 -> 0 (half to even), 1.5/255 -> 2, 2.5/255 -> 2; out of range clamps; NaN -> 0.
        let values: [Float] = [0.5 / 255, 1.5 / 255, 2.5 / 255, -0.3, 1.7, .nan]
        let image = try PNGImage(width: 6, height: 1, colorChannels: 1, color: values)
        let back = try PNGCodec.encode(image).withUnsafeBytes { try PNGCodec.decode($0) }
        XCTAssertEqual(back.color.map { Int(($0 * 255).rounded()) }, [0, 2, 2, 0, 255, 0])
    }

    func testGrayInputGoesThroughAnRGBNetworkAndComesBackGrayWithItsAlpha() throws {
        let image = try read("graya8.png")
        let rgb = image.rgbPlanes()
        XCTAssertEqual(rgb.count, 3 * w * h)
        XCTAssertEqual(Array(rgb[(2 * w * h)...]), image.color)
        let restored = try image.withRestoredColor(rgb: rgb.map { $0 * 0.5 })
        XCTAssertEqual(restored.colorChannels, 1)
        XCTAssertEqual(restored.alpha, image.alpha)
        for (a, b) in zip(restored.color, image.color) { XCTAssertEqual(a, b * 0.5, accuracy: 1e-6) }
        XCTAssertThrowsError(try image.withRestoredColor(rgb: [0, 1]))
    }

    func testMalformedFilesAreClearErrors() throws {
        let cases: [(String, String)] = [
            ("not-a-png.png", "not a PNG file"),
            ("empty.png", "not a PNG file"),
            ("truncated.png", "truncated"),
            ("no-iend.png", "truncated"),
            ("bad-crc.png", "CRC"),
            ("huge-header.png", "more than"),
        ]
        for (name, reason) in cases {
            let path = TestSupport.fixture("png/" + name)
            XCTAssertThrowsError(try PNGCodec.read(path: path), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix(path + ": "), text)
                XCTAssertTrue(text.contains(reason), "\(name): \(text)")
                XCTAssertFalse(text.contains("\n"), "one line: \(text)")
            }
        }
        XCTAssertThrowsError(try PNGCodec.read(path: "/nonexistent/x.png")) { error in
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent/x.png: "), "\(error)")
        }
    }

    func testWrongChannelCountsAreRefused() throws {
        XCTAssertThrowsError(try PNGImage(width: 2, height: 2, colorChannels: 2, color: [Float](repeating: 0, count: 8))) { error in
            XCTAssertTrue("\(error)".contains("1 (gray) or 3 (RGB)"), "\(error)")
        }
        XCTAssertThrowsError(try PNGImage(width: 2, height: 2, colorChannels: 3, color: [Float](repeating: 0, count: 8)))
        XCTAssertThrowsError(try PNGImage(width: 2, height: 2, colorChannels: 1, color: [0, 0, 0, 0], alpha: [1]))
        XCTAssertThrowsError(try PNGImage(width: 0, height: 2, colorChannels: 1, color: []))
    }

    func testWriteIntoMissingDirectoryFailsWithoutLeavingFiles() throws {
        let image = try read("rgb8.png")
        XCTAssertThrowsError(try PNGCodec.write(image, to: "/nonexistent-dir/out.png")) { error in
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent-dir/out.png: "), "\(error)")
        }
    }

    func testPSNR() throws {
        let a: [Float] = [0, 0.5, 1, 0.25]
        XCTAssertEqual(try ImageMetrics.psnr(a, a), .infinity)
        // MSE 0.01 -> 20 dB.
        XCTAssertEqual(try ImageMetrics.psnr(a.map { $0 + 0.1 }, a), 20, accuracy: 1e-5)
        XCTAssertEqual(try ImageMetrics.psnr([0, 255], [10, 255], dataRange: 255), 10 * log10(255.0 * 255 / 50), accuracy: 1e-9)
        XCTAssertThrowsError(try ImageMetrics.psnr([0], [0, 1]))
        let img = try read("rgb8.png")
        XCTAssertEqual(try ImageMetrics.psnr(img, img), .infinity)
        XCTAssertThrowsError(try ImageMetrics.psnr(img, try read("gray8.png")))
    }
}

final class ImageTensorTests: XCTestCase {
    func testImageToTensorAndBack() throws {
        let image = try PNGCodec.read(path: TestSupport.fixture("png/rgba16.png"))
        let t = image.colorTensor()
        XCTAssertEqual(t.shape, [1, 3, 3, 5])
        XCTAssertEqual(t.dtype, .f32)
        let back = try PNGImage(tensor: t, alpha: image.alpha, bitDepth: 16)
        XCTAssertEqual(back, image)
        let gray = try PNGCodec.read(path: TestSupport.fixture("png/gray8.png"))
        XCTAssertEqual(gray.colorTensor().shape, [1, 3, 3, 5])
        XCTAssertEqual(gray.colorTensor(rgb: false).shape, [1, 1, 3, 5])
    }

    func testTensorsThatAreNotImagesAreRefused() throws {
        func tensor(_ shape: [Int], _ dtype: DType = .f32) throws -> TensorRecord {
            let n = shape.reduce(1, *) * dtype.size
            return try TensorRecord(name: "out", dtype: dtype, shape: shape, data: ByteBuffer.make(count: n) { _ in }.whole)
        }
        let cases: [([Int], DType, String)] = [
            ([1, 4, 2, 2], .f32, "4 channels"),
            ([1, 2, 2, 2], .f32, "2 channels"),
            ([2, 3, 2, 2], .f32, "2 images"),
            ([3, 2], .f32, "shape [3, 2]"),
            ([1, 3, 2, 2], .i64, "is i64"),
        ]
        for (shape, dtype, reason) in cases {
            XCTAssertThrowsError(try PNGImage(tensor: try tensor(shape, dtype))) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(shape): \(error)")
            }
        }
        XCTAssertNoThrow(try PNGImage(tensor: try tensor([1, 2, 2], .f16)))
    }
}
