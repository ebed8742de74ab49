#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IRImage
import IRTensor
import IRTestSupport
import XCTest

/// `irzoo run` on JPEG/TIFF/WebP files and folders, end to end on the built binary with the tiny
/// SymUNet golden: formats, EXIF orientation and ICC through the CLI, a folder with a corrupt
/// image, a killed batch resumed with --skip-existing, and automatic tiling under --max-memory.
final class RunBatchCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUpWithError() throws {
        cli = CLIHarness()
        let r = try cli.run(["import", golden("symunet-tiny", "checkpoint.pth"), "--arch", "symunet", "--name", "tiny"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    override func tearDown() { cli = nil }

    func image(_ name: String) -> String { TestSupport.fixture("images/" + name) }

    /// Files in `dir` (recursively), hidden ones included: a leftover temp file would show here.
    func files(_ dir: String) -> [String] {
        (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []).filter {
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: dir + "/" + $0, isDirectory: &isDir) && !isDir.boolValue
        }.sorted()
    }

    func copy(_ names: [String], into dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for n in names { try FileManager.default.copyItem(atPath: image(n), toPath: dir + "/" + n) }
    }

    func testJPEGInJPEGOutUprightWithItsICCProfile() throws {
        let out = cli.path("out.jpg")
        let doc = try cli.json(["run", "tiny", "--input", image("icc.jpg"), "--output", out, "--quality", "90"])
        XCTAssertEqual(doc["output"]?["format"]?.stringValue, "jpeg-8bit")
        XCTAssertEqual(doc["icc_profile"]?["carried"]?.boolValue, true)
        XCTAssertEqual(doc["icc_profile"]?["bytes"]?.intValue, 588)
        let written = try ImageCodecs.read(path: out)
        XCTAssertEqual(written.format, .jpeg)
        XCTAssertEqual(written.iccProfile, try Array(Data(contentsOf: URL(fileURLWithPath: image("srgb.icc")))))

        // Orientation 6: a 23x17 file is 17 wide upright, and so is the output.
        let upright = cli.path("upright.webp")
        let o = try cli.json(["run", "tiny", "--input", image("orient-6.jpg"), "--output", upright, "--lossless"])
        XCTAssertEqual(o["orientation"]?.intValue, 6)
        XCTAssertEqual(o["input"]?["shape"]?.arrayValue?.compactMap(\.intValue), [1, 3, 23, 17])
        let w = try ImageCodecs.read(path: upright)
        XCTAssertEqual([w.format == .webp ? 1 : 0, w.image.width, w.image.height, w.orientation], [1, 17, 23, 1])

        // --format overrides the extension; 16-bit TIFF stays 16-bit.
        let forced = cli.path("forced.png")
        XCTAssertEqual(try cli.run(["run", "tiny", "--input", image("rgb16-deflate.tif"), "--output", forced, "--format", "tiff"]).status, 0)
        let t = try ImageCodecs.read(path: forced)
        XCTAssertEqual([t.format == .tiff ? 1 : 0, t.image.bitDepth], [1, 16])
    }

    func testRefusedInputsAreOneLineErrorsAndWriteNothing() throws {
        let cases: [(String, [String], Int32, String)] = [
            ("cmyk.jpg", [], 3, "CMYK"), ("truncated.jpg", [], 3, "truncated"), ("corrupt.webp", [], 3, "corrupt"),
            ("bomb.jpg", [], 3, "more than --max-pixels"), ("baseline-420.jpg", ["--max-pixels", "100"], 3, "more than --max-pixels 100"),
        ]
        for (name, extra, status, reason) in cases {
            let out = cli.path("refused.jpg")
            let r = try cli.run(["run", "tiny", "--input", image(name), "--output", out] + extra)
            XCTAssertEqual(r.status, status, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(reason) && r.stderr.contains(name), "\(name): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        XCTAssertEqual(files(cli.dir.path).filter { $0.hasPrefix(".") }, [], "no temp file left")
    }

    func testAFolderWithOneCorruptImageRestoresTheOthersAndSaysSo() throws {
        let input = cli.path("photos"), output = cli.path("restored")
        try copy(["baseline-420.jpg", "progressive.jpg", "gray16.tif", "lossless-alpha.webp", "corrupt.jpg"], into: input)
        try FileManager.default.createDirectory(atPath: input + "/nested", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: image("icc.png"), toPath: input + "/nested/icc.png")
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: input + "/readme.txt"))

        let r = try cli.run(["run", "tiny", "--input", input, "--output", output, "--recursive", "--json"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("corrupt.jpg") && r.stderr.contains("1 of 6 images failed"), r.stderr)
        let lines = try r.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
        XCTAssertEqual(lines.count, 7, r.stdout)
        let restored = lines.filter { $0["status"]?.stringValue == "restored" }
        XCTAssertEqual(restored.count, 5)
        XCTAssertEqual(lines.filter { $0["status"]?.stringValue == "failed" }.compactMap { $0["input"]?.stringValue }, [input + "/corrupt.jpg"])
        XCTAssertEqual(lines.last?["status"]?.stringValue, "summary")
        XCTAssertEqual(lines.last?["failed"]?.intValue, 1)
        for line in restored {
            XCTAssertNotNil(line["seconds"]?.numberValue)
            XCTAssertEqual(line["tiles"]?.intValue, 1)
            XCTAssertEqual(line["size"]?.arrayValue?.count, 2)
        }
        XCTAssertEqual(files(output), ["baseline-420.jpg", "gray16.tif", "lossless-alpha.webp", "nested/icc.png", "progressive.jpg"])
        XCTAssertEqual(try ImageCodecs.read(path: output + "/gray16.tif").image.bitDepth, 16)
        XCTAssertNotNil(try ImageCodecs.read(path: output + "/lossless-alpha.webp").image.alpha)
        XCTAssertNotNil(try ImageCodecs.read(path: output + "/nested/icc.png").iccProfile)

        // Several files into a folder, as another format.
        let flat = cli.path("flat")
        let f = try cli.run(["run", "tiny", "--input", image("lossy.webp"), image("rgb8.tif"), "--output", flat, "--format", "jpeg"])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertEqual(files(flat), ["lossy.jpg", "rgb8.jpg"])
        XCTAssertTrue(f.stdout.contains("2 restored, 0 skipped, 0 failed"), f.stdout)
    }

    func testAKilledBatchLeavesOnlyWholeFilesAndSkipExistingFinishesIt() throws {
        let input = cli.path("in"), output = cli.path("out"), marker = cli.path("paused")
        try copy(["baseline-420.jpg", "gray.jpg", "rgb8-lzw.tif", "lossy.webp"], into: input)
        let p = try cli.start(["run", "tiny", "--input", input, "--output", output],
                              env: ["IRZOO_TEST_PAUSE_AT": "image-written", "IRZOO_TEST_PAUSE_MARKER": marker])
        XCTAssertTrue(cli.waitFor(marker), "the batch never wrote its first image")
        cli.kill9(p)
        let left = files(output)
        XCTAssertEqual(left, ["baseline-420.jpg"], "only the finished image, and no temp file")
        XCTAssertEqual(try ImageCodecs.read(path: output + "/baseline-420.jpg").image.width, 23)
        let before = try Data(contentsOf: URL(fileURLWithPath: output + "/baseline-420.jpg"))

        let r = try cli.run(["run", "tiny", "--input", input, "--output", output, "--skip-existing", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try r.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
        XCTAssertEqual(lines.compactMap { $0["status"]?.stringValue }, ["skipped", "restored", "restored", "restored", "summary"])
        XCTAssertEqual(files(output), ["baseline-420.jpg", "gray.jpg", "lossy.webp", "rgb8-lzw.tif"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: output + "/baseline-420.jpg")), before, "a skipped output is not rewritten")
    }

    /// The planner measures the model on two probes and tiles when the whole image would not fit.
    func testATinyMaxMemoryTilesAutomaticallyAndTooLittleIsAClearError() throws {
        let (w, h) = (320, 256)
        let planes = (0..<(3 * w * h)).map { Float(($0 * 7919) % 251) / 250 }
        let input = cli.path("big.png")
        try PNGCodec.write(try RasterImage(width: w, height: h, colorChannels: 3, color: planes), to: input)

        let whole = try cli.json(["run", "tiny", "--input", input, "--output", cli.path("whole.png")])
        XCTAssertEqual(whole["tiles"]?.intValue, 1)
        let estimated = try XCTUnwrap(whole["memory"]?["estimated_peak_bytes"]?.intValue)
        let baseline = try XCTUnwrap(whole["memory"]?["baseline_bytes"]?.intValue)
        XCTAssertGreaterThan(estimated, baseline)

        // Half of what the whole image needs beyond the process: tiles.
        let budget = baseline + (estimated - baseline) / 2
        let tiled = try cli.json(["run", "tiny", "--input", input, "--output", cli.path("tiled.png"), "--max-memory", String(budget)])
        XCTAssertGreaterThan(tiled["tiles"]?.intValue ?? 0, 1, "\(tiled)")
        XCTAssertTrue(tiled["tiling"]?.stringValue?.contains("automatic") ?? false)
        XCTAssertLessThanOrEqual(tiled["memory"]?["estimated_peak_bytes"]?.intValue ?? .max, budget)
        let a = try ImageCodecs.read(path: cli.path("whole.png")).image, b = try ImageCodecs.read(path: cli.path("tiled.png")).image
        XCTAssertEqual([b.width, b.height], [w, h])
        XCTAssertGreaterThan(try ImageMetrics.psnr(a.color, b.color), 20, "tiles approximate the whole image")

        let tooSmall = try cli.run(["run", "tiny", "--input", input, "--output", cli.path("no.png"), "--max-memory", "1M"])
        XCTAssertEqual(tooSmall.status, 2, tooSmall.stderr)
        XCTAssertTrue(tooSmall.stderr.contains("more than --max-memory"), tooSmall.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cli.path("no.png")))
    }
}
