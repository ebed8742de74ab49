import Foundation
import XCTest
import IRCheckpoint
import IRImage
import IRTensor
import IRTestSupport

/// `irzoo run unildiff` end to end through the built binary: import of the one-file tiny
/// UniLDiff (Tools/gen_unildiff_pipeline_golden.py) with its BPE vocabulary, then a PNG in,
/// the prompt tokenised by irzoo, torch's start noise fed in as aux, against PyTorch.
final class UniLDiffCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    func golden(_ file: String) -> String { TestSupport.fixture("models/unildiff-e2e/\(file)") }
    let vocab = TestSupport.fixture("tokenizer/bpe_simple_vocab_16e6.txt.gz")

    func values(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let r = try NumpyArray.read(path: path)
        return (r.shape, r.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
    }

    func importTiny() throws {
        let config = try String(contentsOfFile: golden("config.json"), encoding: .utf8)
        let r = try cli.run(["import", golden("unildiff.safetensors"), "--arch", "unildiff", "--name", "uld",
                             "--config", config, "--vocab", vocab])
        XCTAssertEqual(r.status, 0, "import: \(r.stderr)")
    }

    func testPNGWithPromptAndTorchNoiseMatchesPyTorch() throws {
        try importTiny()
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: golden("reference.json")))) as? [String: Any]
        let prompt = try XCTUnwrap(reference?["prompt"] as? String)
        let out = cli.path("restored.npy")
        let doc = try cli.json(["run", "uld", "--input", golden("lq.png"), "--prompt", prompt, "--steps", "3",
                                "--aux", golden("aux.npz"), "--output", out])
        XCTAssertEqual(doc["family"]?.stringValue, "unildiff")
        XCTAssertEqual(doc["steps"], .int(3))
        let got = try values(out)
        XCTAssertEqual(got.shape, [1, 3, 16, 24])
        // io.npz's output, written by the generator next to the fixture.
        let io = try NumpyArchive.read(path: golden("io.npz"))
        let expected = try XCTUnwrap(io.first { $0.name == "output" })
        let want = expected.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let error = zip(got.values, want).map { abs($0 - $1) }.max() ?? .infinity
        print("irzoo run unildiff (PNG, prompt, 3 steps): max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)
    }

    func testSeededPNGRunAndBadOptions() throws {
        try importTiny()
        let png = cli.path("restored.png")
        var r = try cli.run(["run", "uld", "--input", golden("lq.png"), "--prompt", "clean", "--steps", "2", "--seed", "5", "--output", png])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: png))
        XCTAssertTrue(r.stdout.contains("2 Euler steps"), r.stdout)
        r = try cli.run(["run", "uld", "--input", golden("lq.png"), "--steps", "0", "--output", png])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--steps"), r.stderr)
        r = try cli.run(["run", "uld", "--input", golden("lq.png"), "--aux", TestSupport.fixture("models/sdxl-unet-tiny/aux_odd.npz"), "--output", png])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }
    /// UniLDiff cannot run in image tiles (it tiles itself), so the planner estimates its whole
    /// pass from one-step probes: `--json` gives the estimate, and a budget below it is refused
    /// before sampling starts, with the reason and the numbers, nothing written.
    func testMemoryIsEstimatedAndAnImpossibleBudgetIsRefusedBeforeRunning() throws {
        try importTiny()
        let (w, h) = (200, 160)
        let planes = (0..<(3 * w * h)).map { Float(($0 * 7919) % 251) / 250 }
        let input = cli.path("big.png")
        try PNGCodec.write(try RasterImage(width: w, height: h, colorChannels: 3, color: planes), to: input)
        let doc = try cli.json(["run", "uld", "--input", input, "--steps", "1", "--output", cli.path("ok.png")])
        XCTAssertEqual(doc["tiles"]?.intValue, 1)
        XCTAssertGreaterThan(doc["memory"]?["estimated_peak_bytes"]?.intValue ?? 0, 0, "\(doc)")
        let r = try cli.run(["run", "uld", "--input", input, "--steps", "1", "--output", cli.path("no.png"), "--max-memory", "1M"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("unildiff cannot run in tiles (UniLDiff tiles itself"), r.stderr)
        XCTAssertTrue(r.stderr.contains("more than --max-memory"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cli.path("no.png")))
    }
}
