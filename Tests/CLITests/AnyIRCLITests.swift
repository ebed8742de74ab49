import Foundation
import XCTest
import IRCheckpoint
import IRImage
import IRTensor
import IRTestSupport

/// AnyIR and PromptIR through the built binary: `irzoo import` of the Lightning checkpoints
/// (Tools/gen_anyir_goldens.py), then `irzoo run` on a PNG and on .npy, against PyTorch.
final class AnyIRCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    func importCheckpoint(_ model: String, arch: String, name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try cli.run(["import", golden(model, "model.ckpt"), "--arch", arch, "--name", name])
        XCTAssertEqual(r.status, 0, "import \(model): \(r.stderr)", file: file, line: line)
        return r.stdout + r.stderr
    }

    /// A 21×30 8-bit PNG in, PyTorch's answer to those pixels out (.npy to 1e-4, and as a PNG of
    /// the same size: the network's output clamped and rounded).
    func testLightningCheckpointRunsOnAPNG() throws {
        let said = try importCheckpoint("anyir-s", arch: "anyir-s", name: "tiny-s")
        XCTAssertTrue(said.contains("num_batches_tracked"), "the dropped BatchNorm counters are reported:\n\(said)")

        let doc = try cli.json(["run", "tiny-s", "--input", golden("anyir-s", "input.png"), "--output", cli.path("out.npy")])
        XCTAssertEqual(doc["family"]?.stringValue, "anyir")
        XCTAssertEqual(doc["output"]?["shape"], .array([.int(1), .int(3), .int(21), .int(30)]))
        let (shape, values) = try npy(cli.path("out.npy"))
        XCTAssertEqual(shape, [1, 3, 21, 30])
        let error = maxAbs(values, try npy(golden("anyir-s", "png_output.npy")).values)
        print("irzoo run anyir (PNG in): max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)

        let r = try cli.run(["run", "tiny-s", "--input", golden("anyir-s", "input.png"), "--output", cli.path("out.png")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let png = try PNGCodec.read(path: cli.path("out.png"))
        XCTAssertEqual([png.width, png.height, png.colorChannels, png.bitDepth], [30, 21, 3, 8])
        let expected = values.map { (min(max($0, 0), 1) * 255).rounded() / 255 }
        XCTAssertLessThanOrEqual(maxAbs(png.color, expected), 1 / 255 + 1e-6)
    }

    /// The T checkpoint carries AdamW state and an argparse.Namespace of hyperparameters: both are
    /// left aside and said so; the config comes from the shapes and `show` prints it.
    func testOptimizerStateIsIgnoredAndTheConfigShown() throws {
        let said = try importCheckpoint("anyir-t", arch: "anyir-t", name: "tiny-t")
        XCTAssertTrue(said.contains("optimizer_states"), said)
        let show = try cli.run(["show", "tiny-t"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("anyir"), show.stdout)
        XCTAssertTrue(show.stdout.contains("dim 4"), show.stdout)

        try cli.json(["run", "tiny-t", "--input", golden("anyir-t", "input.npy"), "--output", cli.path("t.npy")])
        XCTAssertLessThanOrEqual(maxAbs(try npy(cli.path("t.npy")).values, try npy(golden("anyir-t", "output.npy")).values), 1e-4)
    }

    /// Without --arch the family and config are detected from the shapes.
    func testDetectedWithoutArch() throws {
        let r = try cli.run(["import", golden("anyir-t", "model.ckpt"), "--name", "found"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let show = try cli.run(["show", "found"])
        XCTAssertTrue(show.stdout.contains("anyir"), show.stdout)
    }

    /// PromptIR's unused convs are dropped and reported; the run gives PyTorch's answer.
    func testPromptIRImportsAndRuns() throws {
        let said = try importCheckpoint("promptir", arch: "promptir", name: "tiny-p")
        XCTAssertTrue(said.contains("chnl_reduce"), said)
        try cli.json(["run", "tiny-p", "--input", golden("promptir", "input.npy"), "--output", cli.path("p.npy")])
        XCTAssertLessThanOrEqual(maxAbs(try npy(cli.path("p.npy")).values, try npy(golden("promptir", "output.npy")).values), 1e-4)
    }

    /// A side below the smallest the padding allows is one clear line naming the input.
    func testTooSmallImageIsAClearError() throws {
        _ = try importCheckpoint("anyir-t", arch: "anyir-t", name: "tiny-t")
        let t = try TensorRecord(name: "x", dtype: .f32, shape: [1, 3, 4, 16], data: ByteBuffer.copying([UInt8](repeating: 0, count: 4 * 3 * 4 * 16)).whole)
        try NumpyArray.write(t, to: cli.path("small.npy"))
        let r = try cli.run(["run", "tiny-t", "--input", cli.path("small.npy"), "--output", cli.path("small-out.npy")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("small.npy") && r.stderr.contains("5x5"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cli.path("small-out.npy")))
    }
}
