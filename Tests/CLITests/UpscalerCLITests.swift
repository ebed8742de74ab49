import Foundation
import XCTest
import IRImage
import IRTestSupport

/// Upscaling end to end through the built binary: a tiny RRDBNet x4 (Tools/gen_upscaler_goldens.py)
/// imported without --arch, run on a PNG and a JPEG whole and in forced tiles, `--json` saying the scale.
final class UpscalerCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() {
        cli = CLIHarness()
        let r = try? cli.run(["import", golden("rrdbnet-x4", "model.pth"), "--name", "up4"])
        XCTAssertEqual(r?.status, 0, r?.stderr ?? "")
    }

    override func tearDown() { cli = nil }

    func read(_ path: String) throws -> RasterImage { try ImageCodecs.read(path: path).image }

    /// The PNG's pixels through the model as PyTorch computes them, at 4x (37x29 -> 148x116).
    func testPNGUpscaledMatchesPyTorchAndJSONSaysTheScale() throws {
        let doc = try cli.json(["run", "up4", "--input", golden("rrdbnet-x4", "input.png"), "--output", cli.path("o.npy")])
        XCTAssertEqual(doc["family"]?.stringValue, "rrdbnet")
        XCTAssertEqual(doc["scale"], .int(4))
        XCTAssertEqual(doc["output"]?["shape"], .array([.int(1), .int(3), .int(116), .int(148)]))
        let error = maxAbs(try npyValues(cli.path("o.npy")), try npyValues(golden("rrdbnet-x4", "png_output.npy")))
        print("irzoo run rrdbnet x4 (37x29 PNG in): max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)
        let show = try cli.run(["show", "up4"])
        XCTAssertTrue(show.stdout.contains("4x, 2 RRDB blocks"), show.stdout)
    }

    /// PNG and JPEG out at 4x, whole and with --tile forced: the tiles are blended at the output
    /// scale and give the untiled image within the tolerance of a conv stack's seams.
    func testTiledPNGAndJPEGMatchTheUntiledResult() throws {
        for (input, ext) in [("input.png", "png"), ("input.jpg", "jpg")] {
            let whole = cli.path("whole.\(ext)"), tiled = cli.path("tiled.\(ext)")
            let a = try cli.json(["run", "up4", "--input", golden("rrdbnet-x4", input), "--output", whole])
            XCTAssertEqual(a["tiles"], .int(1))
            let b = try cli.json(["run", "up4", "--input", golden("rrdbnet-x4", input), "--output", tiled, "--tile", "24", "--overlap", "8"])
            XCTAssertEqual(b["scale"], .int(4))
            XCTAssertEqual(b["tiles"], .int(4), "\(b)")
            let (x, y) = (try read(whole), try read(tiled))
            XCTAssertEqual([x.width, x.height], [148, 116], input)
            XCTAssertEqual([y.width, y.height], [148, 116], input)
            let diffs = zip(x.color, y.color).map { abs($0 - $1) }
            let mean = diffs.reduce(0, +) / Float(diffs.count), worst = diffs.max() ?? 0
            print("irzoo run rrdbnet x4 \(input) -> .\(ext), 24-pixel tiles with 8 overlap vs whole: mean abs \(mean), max abs \(worst)")
            XCTAssertLessThan(mean, 0.001, input)
            XCTAssertLessThan(worst, 0.03, input)
        }
    }

    /// A batch reports the scale and the output size per image.
    func testBatchJSONLinesSayTheScale() throws {
        let dir = cli.path("in")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: golden("rrdbnet-x4", "input.png"), toPath: dir + "/a.png")
        let r = try cli.run(["run", "up4", "--input", dir, "--output", cli.path("out"), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"scale\":4") && r.stdout.contains("\"output_size\":[148,116]"), r.stdout)
        XCTAssertEqual(try read(cli.path("out/a.png")).width, 148)
    }

    /// --reference is measured at the input's size: an upscaler refuses it before any work.
    func testReferenceIsRefusedForAnUpscaler() throws {
        let r = try cli.run(["run", "up4", "--input", golden("rrdbnet-x4", "input.png"), "--output", cli.path("r.png"),
                             "--reference", golden("rrdbnet-x4", "input.png")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("upscales 4x"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cli.path("r.png")))
    }
}
