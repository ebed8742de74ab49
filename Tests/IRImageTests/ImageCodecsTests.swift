import Foundation
import IRCheckpoint
import IRImage
import IRTensor
import IRTestSupport
import XCTest

/// JPEG, TIFF, WebP and PNG through `ImageCodecs`, against the pixels the reference libraries
/// decode (Tools/gen_image_fixtures.py: PIL with exif_transpose for JPEG/WebP/PNG, tifffile for TIFF).
final class ImageCodecsTests: XCTestCase {
    static let expected: [String: TensorRecord] = {
        let records = try! NumpyArchive.read(path: TestSupport.fixture("images/expected.npz"))
        return Dictionary(uniqueKeysWithValues: records.map { ($0.name, $0) })
    }()

    private func fixture(_ name: String) -> String { TestSupport.fixture("images/" + name) }

    /// The decoded samples as integers [H, W, C] (colour planes then alpha), as the references store them.
    private func samples(_ image: RasterImage) -> [Int32] {
        let n = image.pixelCount
        let top: Float = image.bitDepth == 16 ? 65535 : 255
        let c = image.colorChannels + (image.alpha == nil ? 0 : 1)
        var out = [Int32](repeating: 0, count: n * c)
        for i in 0..<n {
            for ch in 0..<c {
                let v = ch < image.colorChannels ? image.color[ch * n + i] : image.alpha![i]
                out[i * c + ch] = Int32((v * top).rounded())
            }
        }
        return out
    }

    private func reference(_ name: String) throws -> (shape: [Int], values: [Int32]) {
        let r = try XCTUnwrap(Self.expected[name], "no reference for \(name)")
        XCTAssertEqual(r.dtype, .i32)
        let values = r.data.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        return (r.shape, values)
    }

    private func assertMatchesReference(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let decoded = try ImageCodecs.read(path: fixture(name))
        let (shape, want) = try reference(name)
        let image = decoded.image
        XCTAssertEqual([image.height, image.width, image.colorChannels + (image.alpha == nil ? 0 : 1)], shape, name, file: file, line: line)
        let got = samples(image)
        let differing = zip(got, want).filter { $0 != $1 }.count
        XCTAssertEqual(differing, 0, "\(name): \(differing) of \(want.count) samples differ from the reference decoder", file: file, line: line)
    }

    func testJPEGDecodesToPILsPixels() throws {
        for name in ["baseline-420.jpg", "baseline-444.jpg", "progressive.jpg", "gray.jpg", "icc.jpg"] {
            try assertMatchesReference(name)
        }
        XCTAssertEqual(try ImageCodecs.read(path: fixture("gray.jpg")).image.colorChannels, 1)
    }

    func testEveryEXIFOrientationIsAppliedAsPILsExifTranspose() throws {
        for o in 1...8 {
            let name = "orient-\(o).jpg"
            try assertMatchesReference(name)
            let decoded = try ImageCodecs.read(path: fixture(name))
            XCTAssertEqual(decoded.orientation, o, name)
            XCTAssertEqual(decoded.image.width, o >= 5 ? 17 : 23, name)
        }
        for name in ["orient-6.tif", "orient-6.webp", "orient-6.png"] {
            try assertMatchesReference(name)
            XCTAssertEqual(try ImageCodecs.read(path: fixture(name)).orientation, 6, name)
        }
    }

    func testTIFFKeepsEightAndSixteenBitsInEveryLayout() throws {
        for name in ["rgb8.tif", "rgb8-lzw.tif", "rgb16-deflate.tif", "gray8-lzw.tif", "gray16.tif", "rgba8-deflate.tif",
                     "tiled-rgb16-lzw.tif", "planar-rgb8.tif", "icc.tif"] {
            try assertMatchesReference(name)
        }
        XCTAssertEqual(try ImageCodecs.read(path: fixture("rgb16-deflate.tif")).image.bitDepth, 16)
        XCTAssertEqual(try ImageCodecs.read(path: fixture("gray16.tif")).image.colorChannels, 1)
        XCTAssertNotNil(try ImageCodecs.read(path: fixture("rgba8-deflate.tif")).image.alpha)
    }

    func testWebPLossyAndLosslessWithAlphaDecodeToPILsPixels() throws {
        for name in ["lossy.webp", "lossy-alpha.webp", "lossless-alpha.webp", "icc.webp"] {
            try assertMatchesReference(name)
        }
        XCTAssertNotNil(try ImageCodecs.read(path: fixture("lossless-alpha.webp")).image.alpha)
        XCTAssertNil(try ImageCodecs.read(path: fixture("lossy.webp")).image.alpha)
    }

    func testICCProfileIsReadByteForByteFromEveryFormat() throws {
        let srgb = try Array(Data(contentsOf: URL(fileURLWithPath: fixture("srgb.icc"))))
        for name in ["icc.jpg", "icc.tif", "icc.webp", "icc.png"] {
            let decoded = try ImageCodecs.read(path: fixture(name))
            XCTAssertEqual(decoded.iccProfile, srgb, name)
            try assertMatchesReference(name)
        }
        XCTAssertNil(try ImageCodecs.read(path: fixture("baseline-420.jpg")).iccProfile)
    }

    func testICCProfileAndPixelsSurviveWritingEveryFormat() throws {
        let dir = TestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let srgb = try Array(Data(contentsOf: URL(fileURLWithPath: fixture("srgb.icc"))))
        let source = try ImageCodecs.read(path: fixture("rgba8-deflate.tif")).image
        for format in ImageFormat.allCases {
            let out = dir.appendingPathComponent("out.\(format.preferredExtension)").path
            try ImageCodecs.write(source, to: out, options: EncodeOptions(lossless: true, iccProfile: srgb))
            let back = try ImageCodecs.read(path: out)
            XCTAssertEqual(back.format, format)
            XCTAssertEqual(back.iccProfile, srgb, "\(format)")
            if format == .jpeg {
                XCTAssertNil(back.image.alpha, "JPEG has no alpha")
                XCTAssertGreaterThan(try ImageMetrics.psnr(back.image.color, source.color), 30)
            } else {
                XCTAssertEqual(back.image.color, source.color, "\(format) is lossless here")
                XCTAssertEqual(back.image.alpha, source.alpha, "\(format) keeps alpha")
            }
        }
    }

    func testSixteenBitTIFFRoundTripsInEveryCompression() throws {
        let dir = TestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["rgb16-deflate.tif", "gray16.tif", "rgba8-deflate.tif"] {
            let source = try ImageCodecs.read(path: fixture(name)).image
            for compression in TIFFCompression.allCases {
                let out = dir.appendingPathComponent("\(compression).tif").path
                try ImageCodecs.write(source, to: out, options: EncodeOptions(tiffCompression: compression))
                let back = try ImageCodecs.read(path: out).image
                XCTAssertEqual(back, source, "\(name) \(compression)")
            }
        }
    }

    /// JPEG chroma: 4:4:4 (luma sampling 1x1) at quality >= 90, 4:2:0 (2x2) below.
    func testJPEGChromaSubsamplingFollowsQuality() throws {
        let source = try ImageCodecs.read(path: fixture("rgb8.tif")).image
        for (quality, factor) in [(95, UInt8(0x11)), (90, 0x11), (89, 0x22), (75, 0x22)] {
            let bytes = try ImageCodecs.encode(source, as: .jpeg, options: EncodeOptions(quality: quality))
            let sof = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
            // SOF0: marker, length(2), precision, height(2), width(2), components, then id, sampling, table per component.
            XCTAssertEqual(bytes[sof + 9], 3)
            XCTAssertEqual(bytes[sof + 11], factor, "quality \(quality)")
            XCTAssertEqual(bytes[sof + 14], 0x11, "chroma is never upsampled")
        }
        let gray = try ImageCodecs.read(path: fixture("gray.jpg")).image
        let back = try ImageCodecs.encode(gray, as: .jpeg).withUnsafeBytes { try ImageCodecs.decode(bytes: $0) }
        XCTAssertEqual(back.image.colorChannels, 1, "gray stays gray")
    }

    func testProbeReadsHeadersOnly() throws {
        let cases: [(String, ImageFormat, Int, Int, Int, Int)] = [
            ("baseline-420.jpg", .jpeg, 23, 17, 3, 8), ("gray.jpg", .jpeg, 23, 17, 1, 8), ("rgb16-deflate.tif", .tiff, 23, 17, 3, 16),
            ("rgba8-deflate.tif", .tiff, 23, 17, 4, 8), ("lossless-alpha.webp", .webp, 23, 17, 4, 8), ("lossy.webp", .webp, 23, 17, 3, 8),
            ("icc.png", .png, 23, 17, 3, 8), ("bomb.jpg", .jpeg, 65000, 65000, 3, 8), ("bomb.tif", .tiff, 100000, 100000, 3, 8),
            ("bomb.webp", .webp, 16383, 16383, 3, 8),
        ]
        for (name, format, w, h, c, depth) in cases {
            let p = try ImageCodecs.probe(path: fixture(name))
            XCTAssertEqual(p, ImageProbe(format: format, width: w, height: h, channels: c, bitDepth: depth), name)
        }
    }

    func testDecompressionBombsAreRefusedBeforeAllocating() throws {
        for name in ["bomb.jpg", "bomb.tif", "bomb.webp"] {
            XCTAssertThrowsError(try ImageCodecs.read(path: fixture(name))) { error in
                XCTAssertTrue("\(error)".contains("pixels allowed"), "\(name): \(error)")
                XCTAssertTrue("\(error)".hasPrefix(fixture(name)), "names the file: \(error)")
            }
        }
        XCTAssertThrowsError(try ImageCodecs.read(path: fixture("baseline-420.jpg"), maxPixels: 23 * 17 - 1)) { error in
            XCTAssertTrue("\(error)".contains("more than the 390 pixels allowed"), "\(error)")
        }
        XCTAssertNoThrow(try ImageCodecs.read(path: fixture("baseline-420.jpg"), maxPixels: 23 * 17))
    }

    func testCMYKIsRefusedWithAClearReason() throws {
        for name in ["cmyk.jpg", "cmyk.tif"] {
            XCTAssertThrowsError(try ImageCodecs.read(path: fixture(name))) { error in
                XCTAssertTrue("\(error)".contains("CMYK"), "\(name): \(error)")
            }
            XCTAssertThrowsError(try ImageCodecs.probe(path: fixture(name)))
        }
    }

    func testTruncatedAndCorruptFilesGiveOneLineErrors() throws {
        for name in ["truncated.jpg", "corrupt.jpg", "truncated.tif", "corrupt.tif", "truncated.webp", "corrupt.webp"] {
            XCTAssertThrowsError(try ImageCodecs.read(path: fixture(name)), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix(fixture(name) + ": "), text)
                XCTAssertFalse(text.contains("\n"), text)
                XCTAssertTrue(text.contains("corrupt") || text.contains("truncated"), text)
            }
        }
        let notImage = TestSupport.fixture("terminal/names.json")
        XCTAssertThrowsError(try ImageCodecs.read(path: notImage)) { XCTAssertTrue("\($0)".contains("not an image irzoo reads"), "\($0)") }
        XCTAssertThrowsError(try ImageCodecs.read(path: fixture("missing.jpg"))) { XCTAssertTrue("\($0)".contains("missing.jpg"), "\($0)") }
    }

    func testFormatFollowsTheExtensionAndContentNotTheName() throws {
        XCTAssertEqual(ImageFormat(extensionOf: "a/b.JPEG"), .jpeg)
        XCTAssertEqual(ImageFormat(extensionOf: "x.tif"), .tiff)
        XCTAssertEqual(ImageFormat(extensionOf: "x.webp"), .webp)
        XCTAssertNil(ImageFormat(extensionOf: "x.gif"))
        XCTAssertNil(ImageFormat(extensionOf: "dir.jpg/noext"))
        // A JPEG named .png is read as the JPEG it is.
        let dir = TestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let misnamed = dir.appendingPathComponent("photo.png").path
        try FileManager.default.copyItem(atPath: fixture("baseline-420.jpg"), toPath: misnamed)
        XCTAssertEqual(try ImageCodecs.read(path: misnamed).format, .jpeg)
    }
}
