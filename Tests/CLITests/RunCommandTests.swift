import Foundation
import XCTest
import IRCheckpoint
import IRImage
import IRTensor
import IRTestSupport

/// `irzoo run` end to end on the built binary: import an upstream checkpoint, list, show, verify,
/// run on PNG (8/16 bit, RGB/RGBA/gray) and on .npy (PyTorch's answer to 1e-4), tiles, aux inputs,
/// every input error, rm.
final class RunCommandTests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() {
        cli = CLIHarness()
    }

    override func tearDown() {
        cli = nil
    }

    /// The golden's config.json as one line, for `import --config`.
    func config(_ model: String) throws -> String {
        try String(contentsOfFile: golden(model, "config.json"), encoding: .utf8).split(separator: "\n").joined(separator: " ")
    }

    func importSymUNet(name: String = "tiny") throws {
        let r = try cli.run(["import", golden("symunet-tiny", "checkpoint.pth"), "--arch", "symunet", "--name", name])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// A PNG of the golden input's pixels (37×45), in the layout asked for.
    func writeInputPNG(_ name: String, channels: Int, alpha: Bool, bitDepth: Int) throws -> (path: String, image: PNGImage) {
        let (shape, values) = try npy(golden("symunet-tiny", "input.npy"))
        let (h, w) = (shape[2], shape[3])
        let color = channels == 3 ? values : Array(values.prefix(h * w))
        let a: [Float]? = alpha ? (0..<(h * w)).map { Float($0 % 7) / 6 } : nil
        let image = try PNGImage(width: w, height: h, colorChannels: channels, color: color, alpha: a, bitDepth: bitDepth)
        let path = cli.path(name)
        try PNGCodec.write(image, to: path)
        return (path, try PNGCodec.read(path: path))
    }

    // MARK: - the whole life of a model

    func testImportListShowVerifyRunRemove() throws {
        try importSymUNet()
        let list = try cli.run(["list"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("tiny") && list.stdout.contains("symunet"), list.stdout)
        let show = try cli.run(["show", "tiny"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("symunet"), show.stdout)
        let verify = try cli.run(["verify", "tiny"])
        XCTAssertEqual(verify.status, 0, verify.stderr)
        XCTAssertTrue(verify.stdout.contains("intact"), verify.stdout)

        // .npy: the exact path, PyTorch's output to 1e-4 (unclamped).
        let out = cli.path("out.npy")
        let doc = try cli.json(["run", "tiny", "--input", golden("symunet-tiny", "input.npy"), "--output", out, "--repeat", "2"])
        XCTAssertEqual(doc["output"]?["shape"], .array([.int(1), .int(3), .int(37), .int(45)]))
        XCTAssertEqual(doc["tiles"], .int(1))
        XCTAssertEqual(doc["repeat"], .int(2))
        let fastest = try XCTUnwrap(doc["seconds"]?.numberValue?.double), first = try XCTUnwrap(doc["first_seconds"]?.numberValue?.double)
        XCTAssertLessThanOrEqual(fastest, first)
        XCTAssertEqual(doc["family"]?.stringValue, "symunet")
        let (shape, values) = try npy(out)
        XCTAssertEqual(shape, [1, 3, 37, 45])
        XCTAssertLessThanOrEqual(maxAbs(values, try npy(golden("symunet-tiny", "output.npy")).values), 1e-4)

        // PNG in and out, plain output.
        let png = try writeInputPNG("in.png", channels: 3, alpha: false, bitDepth: 8)
        let r = try cli.run(["run", "tiny", "--input", png.path, "--output", cli.path("out.png")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("tiny:") && r.stdout.contains("out.png"), r.stdout)
        let restored = try PNGCodec.read(path: cli.path("out.png"))
        XCTAssertEqual([restored.width, restored.height, restored.colorChannels, restored.bitDepth], [45, 37, 3, 8])
        XCTAssertNil(restored.alpha)

        let rm = try cli.run(["rm", "tiny"])
        XCTAssertEqual(rm.status, 0, rm.stderr)
        let gone = try cli.run(["run", "tiny", "--input", png.path, "--output", cli.path("x.png")])
        XCTAssertEqual(gone.status, 5, gone.stderr)
        XCTAssertTrue(gone.stderr.contains("tiny"), gone.stderr)
    }

    /// The PNG path computes what the .npy path computes on the same pixels, then quantises.
    func testPNGOutputIsTheClampedRoundedNetworkOutput() throws {
        try importSymUNet()
        let png = try writeInputPNG("in16.png", channels: 3, alpha: false, bitDepth: 16)
        // The network input as the PNG holds it, saved as .npy for the exact path.
        let t = try TensorRecord(name: "x", dtype: .f32, shape: [1, 3, 37, 45],
                                 data: png.image.color.withUnsafeBytes { ByteBuffer.copying($0) }.whole)
        try NumpyArray.write(t, to: cli.path("in16.npy"))
        XCTAssertEqual(try cli.run(["run", "tiny", "--input", cli.path("in16.npy"), "--output", cli.path("ref.npy")]).status, 0)
        let r = try cli.run(["run", "tiny", "--input", png.path, "--output", cli.path("out16.png")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let written = try PNGCodec.read(path: cli.path("out16.png"))
        XCTAssertEqual(written.bitDepth, 16, "the input's bit depth is kept")
        let exact = try npy(cli.path("ref.npy")).values.map { min(max($0, 0), 1) }
        XCTAssertLessThanOrEqual(maxAbs(written.color, exact), 0.5 / 65535 + 1e-6)
    }

    func testAlphaAndGrayAreKept() throws {
        try importSymUNet()
        let rgba = try writeInputPNG("rgba.png", channels: 3, alpha: true, bitDepth: 8)
        XCTAssertEqual(try cli.run(["run", "tiny", "--input", rgba.path, "--output", cli.path("rgba-out.png")]).status, 0)
        let out = try PNGCodec.read(path: cli.path("rgba-out.png"))
        XCTAssertEqual(out.alpha, rgba.image.alpha, "alpha comes back unchanged")

        let gray = try writeInputPNG("gray.png", channels: 1, alpha: false, bitDepth: 16)
        let r = try cli.run(["run", "tiny", "--input", gray.path, "--output", cli.path("gray-out.png"), "--bit-depth", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let g = try PNGCodec.read(path: cli.path("gray-out.png"))
        XCTAssertEqual([g.colorChannels, g.bitDepth, g.width, g.height], [1, 8, 45, 37])
    }

    func testTiledRunCoversTheImage() throws {
        try importSymUNet()
        let out = cli.path("tiled.npy")
        let doc = try cli.json(["run", "tiny", "--input", golden("symunet-tiny", "input.npy"), "--output", out,
                                "--tile", "32", "--overlap", "8"])
        XCTAssertEqual(doc["tiles"], .int(4))
        XCTAssertNotNil(doc["tiling_note"]?.stringValue, "a tiled SymUNet result is approximate and says so")
        let tiled = try npy(out).values, whole = try npy(golden("symunet-tiny", "output.npy")).values
        // Approximate: MDTA is global, so the tiles see other statistics (the blending itself is
        // exact, see TiledInferenceTests); every pixel is written.
        XCTAssertEqual(tiled.count, whole.count)
        XCTAssertTrue(tiled.allSatisfy { $0.isFinite })
        XCTAssertGreaterThan(maxAbs(tiled, whole), 0)
        // A tile as large as the image is the whole-image computation.
        let single = try cli.json(["run", "tiny", "--input", golden("symunet-tiny", "input.npy"), "--output", cli.path("one.npy"), "--tile", "64"])
        XCTAssertEqual(single["tiles"], .int(1))
        XCTAssertLessThanOrEqual(maxAbs(try npy(cli.path("one.npy")).values, whole), 1e-4)
    }

    // MARK: - SE-SymUNet and CLIP

    func testSESymUNetWithAuxPosEmbedsMatchesPyTorch() throws {
        // The tiny CLIP's heads (2 of width 16) are not in any shape: its config says them.
        let imp = try cli.run(["import", golden("se-symunet-tiny", "checkpoint.pth"), "--arch", "se-symunet", "--name", "se",
                               "--config", try config("se-symunet-tiny")])
        XCTAssertEqual(imp.status, 0, imp.stderr)
        let out = cli.path("se.npy")
        let doc = try cli.json(["run", "se", "--input", golden("se-symunet-tiny", "input.npy"), "--output", out,
                                "--aux", golden("se-symunet-tiny", "aux.npz")])
        XCTAssertEqual(doc["aux"]?.arrayValue?.count, 8)
        XCTAssertLessThanOrEqual(maxAbs(try npy(out).values, try npy(golden("se-symunet-tiny", "output.npy")).values), 1e-4)

        // Without aux: the documented default, said in a note.
        let r = try cli.run(["run", "se", "--input", golden("se-symunet-tiny", "input.npy"), "--output", cli.path("se2.npy")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("pos_embed"), r.stdout)
    }

    func testCLIPTowerWritesTokens() throws {
        let imp = try cli.run(["import", golden("clip-tiny", "model.safetensors"), "--arch", "clip-vit-l-14", "--name", "clip",
                               "--config", try config("clip-tiny")])
        XCTAssertEqual(imp.status, 0, imp.stderr)
        let out = cli.path("tokens.npy")
        XCTAssertEqual(try cli.run(["run", "clip", "--input", golden("clip-tiny", "input-a.npy"), "--output", out]).status, 0)
        XCTAssertLessThanOrEqual(maxAbs(try npy(out).values, try npy(golden("clip-tiny", "hidden-a.npy")).values), 1e-4)
        let png = try cli.run(["run", "clip", "--input", golden("clip-tiny", "input-a.npy"), "--output", cli.path("t.png")])
        XCTAssertEqual(png.status, 2)
        XCTAssertTrue(png.stderr.contains("tokens"), png.stderr)
        let tiled = try cli.run(["run", "clip", "--input", golden("clip-tiny", "input-a.npy"), "--output", out, "--tile", "16"])
        XCTAssertNotEqual(tiled.status, 0)
        XCTAssertTrue(tiled.stderr.contains("tiles"), tiled.stderr)
    }

    // MARK: - errors: one line, a status of their own, nothing written

    func testInputErrorsAreClear() throws {
        try importSymUNet()
        let out = cli.path("never.png")
        func expect(_ args: [String], status: Int32, _ needles: String..., line: UInt = #line) throws {
            let r = try cli.run(["run", "tiny"] + args + ["--output", out])
            XCTAssertEqual(r.status, status, r.stderr, line: line)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)", line: line)
            for n in needles { XCTAssertTrue(r.stderr.contains(n), "'\(n)' in \(r.stderr)", line: line) }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), line: line)
        }
        // Not a PNG.
        let fake = cli.path("fake.png")
        try Data("definitely not a png".utf8).write(to: URL(fileURLWithPath: fake))
        try expect(["--input", fake], status: 3, "fake.png")
        // Missing file.
        try expect(["--input", cli.path("missing.png")], status: 3, "missing.png")
        // Too small: 16 px cannot be reflect-padded to 32.
        let small = try PNGImage(width: 40, height: 16, colorChannels: 3, color: [Float](repeating: 0.5, count: 3 * 640))
        try PNGCodec.write(small, to: cli.path("small.png"))
        try expect(["--input", cli.path("small.png")], status: 3, "small.png", "40x16", "17x17")
        // Wrong channels in an .npy.
        let four = try TensorRecord(name: "x", dtype: .f32, shape: [1, 4, 20, 20], data: ByteBuffer.make(count: 4 * 4 * 400) { _ in }.whole)
        try NumpyArray.write(four, to: cli.path("four.npy"))
        try expect(["--input", cli.path("four.npy")], status: 3, "four.npy", "3 channels", "4")
        // Not float32.
        let ints = try TensorRecord(name: "x", dtype: .i32, shape: [1, 3, 20, 20], data: ByteBuffer.make(count: 4 * 3 * 400) { _ in }.whole)
        try NumpyArray.write(ints, to: cli.path("ints.npy"))
        try expect(["--input", cli.path("ints.npy")], status: 3, "float32")
        // Aux the model does not take.
        try expect(["--input", golden("symunet-tiny", "input.npy"), "--aux", golden("se-symunet-tiny", "aux.npz")], status: 3,
                   "aux.npz", "not an input of symunet")
        // Unknown extension and bad options.
        try expect(["--input", cli.path("x.gif")], status: 2, "x.gif")
        try expect(["--input", golden("symunet-tiny", "input.npy"), "--tile", "32", "--overlap", "40"], status: 2, "--overlap")
    }

    func testRawModelsAreNotRunnable() throws {
        let r = try cli.run(["import", golden("symunet-tiny", "checkpoint.pth"), "--arch", "raw", "--name", "rawtiny"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = try cli.run(["run", "rawtiny", "--input", golden("symunet-tiny", "input.npy"), "--output", cli.path("o.npy")])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("--arch"), run.stderr)
    }
}
