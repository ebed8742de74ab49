import Foundation
import XCTest
import IRCheckpoint
import IRTensor
import IRTestSupport

/// SDXL's text encoders through the built binary: `irzoo import` of the tiny goldens
/// (Tools/gen_clip_text_goldens.py, HF and SGM single-file layouts), then
/// `irzoo run NAME --prompt TEXT --vocab bpe.txt.gz --output hidden.npy --pooled-output p.npy`.
final class CLIPTextCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    let vocab = TestSupport.fixture("tokenizer/bpe_simple_vocab_16e6.txt.gz")

    /// Row `row` of a [B, ...] golden.
    func goldenRow(_ model: String, _ file: String, row: Int) throws -> [Float] {
        let (shape, values) = try npy(golden(model, file))
        let n = values.count / shape[0]
        return Array(values[(row * n)..<((row + 1) * n)])
    }

    /// The tiny configs' heads (2 of width 4) are not in any shape: --config says them.
    func importModel(_ model: String, file: String, arch: String, name: String) throws -> String {
        let config = try String(contentsOfFile: golden(model, "config.json"), encoding: .utf8)
        let r = try cli.run(["import", golden(model, file), "--arch", arch, "--name", name, "--config", config])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout + r.stderr
    }

    func testCLIPL14PromptMatchesTransformers() throws {
        let said = try importModel("clip-text-l-tiny", file: "model.safetensors", arch: "clip-vit-l-14-text", name: "clip-l")
        XCTAssertTrue(said.contains("position_ids"), "the dropped buffer is reported:\n\(said)")
        let out = cli.path("hidden.npy"), pooled = cli.path("pooled.npy")
        let doc = try cli.json(["run", "clip-l", "--prompt", "a photo of a cat", "--vocab", vocab, "--output", out, "--pooled-output", pooled])
        XCTAssertEqual(doc["family"]?.stringValue, "clip-text")
        XCTAssertEqual(doc["token_ids"]?.arrayValue?.prefix(8).map { $0 }, [49406, 320, 1125, 539, 320, 2368, 49407, 49407].map { JSON.int($0) })
        XCTAssertEqual(doc["pooled_index"], .int(6))
        XCTAssertEqual(try npy(out).shape, [1, 77, 8])
        let e1 = maxAbs(try npy(out).values, try goldenRow("clip-text-l-tiny", "penultimate.npy", row: 0))
        let e2 = maxAbs(try npy(pooled).values, try goldenRow("clip-text-l-tiny", "pooled.npy", row: 0))
        print("irzoo run clip-text (CLIP-L style): penultimate max abs error \(e1), pooled \(e2)")
        XCTAssertLessThanOrEqual(max(e1, e2), 1e-4)
    }

    /// bigG from the SGM single-file layout; the second prompt has '!!!' (pad-token ids 0 in tokenizer_2).
    func testBigG14SingleFilePromptMatchesTransformers() throws {
        _ = try importModel("clip-text-bigg-tiny", file: "sgm.safetensors", arch: "openclip-vit-bigg-14-text", name: "bigg")
        let prompt = "A hazy, low-light photograph of a city at night!!! 😀"
        let out = cli.path("hidden.npy"), pooled = cli.path("embeds.npy")
        let r = try cli.run(["run", "bigg", "--prompt", prompt, "--vocab", vocab, "--output", out, "--pooled-output", pooled])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("[1, 77, 8]"), r.stdout)
        let e1 = maxAbs(try npy(out).values, try goldenRow("clip-text-bigg-tiny", "penultimate.npy", row: 1))
        let e2 = maxAbs(try npy(pooled).values, try goldenRow("clip-text-bigg-tiny", "projected.npy", row: 1))
        print("irzoo run clip-text (bigG style, SGM file): penultimate max abs error \(e1), text_embeds \(e2)")
        XCTAssertLessThanOrEqual(max(e1, e2), 1e-4)
    }

    /// `import --vocab` keeps the BPE file in the .irw (u8 tensor, covered by verify); `run
    /// --prompt` then needs no --vocab and gives the same answer.
    func testVocabularyKeptInTheStore() throws {
        let config = try String(contentsOfFile: golden("clip-text-bigg-tiny", "config.json"), encoding: .utf8)
        let imp = try cli.run(["import", golden("clip-text-bigg-tiny", "model.safetensors"), "--arch", "openclip-vit-bigg-14-text",
                               "--name", "bigg", "--config", config, "--vocab", vocab])
        XCTAssertEqual(imp.status, 0, imp.stderr)
        XCTAssertEqual(try cli.run(["verify", "bigg"]).status, 0)
        let out = cli.path("hidden.npy"), pooled = cli.path("embeds.npy")
        let doc = try cli.json(["run", "bigg", "--prompt", "a photo of a cat", "--output", out, "--pooled-output", pooled])
        XCTAssertEqual(doc["pooled_index"], .int(6))
        XCTAssertLessThanOrEqual(maxAbs(try npy(out).values, try goldenRow("clip-text-bigg-tiny", "penultimate.npy", row: 0)), 1e-4)
        XCTAssertLessThanOrEqual(maxAbs(try npy(pooled).values, try goldenRow("clip-text-bigg-tiny", "projected.npy", row: 0)), 1e-4)
        // Only text encoders take one; a file that is not CLIP's merges is refused at import.
        let vit = try String(contentsOfFile: golden("clip-tiny", "config.json"), encoding: .utf8)
        let r = try cli.run(["import", golden("clip-tiny", "model.safetensors"), "--arch", "clip-vit-l-14", "--name", "vit",
                             "--config", vit, "--vocab", vocab])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("text encoders"), r.stderr)
        let bad = try cli.run(["import", golden("clip-text-bigg-tiny", "model.safetensors"), "--arch", "openclip-vit-bigg-14-text",
                               "--name", "bigg2", "--config", config, "--vocab", golden("clip-text-bigg-tiny", "config.json")])
        XCTAssertEqual(bad.status, 3, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("not a CLIP BPE merges file"), bad.stderr)
    }

    func testPromptErrorsAreClear() throws {
        _ = try importModel("clip-text-l-tiny", file: "model.safetensors", arch: "clip-vit-l-14-text", name: "clip-l")
        let out = cli.path("never.npy")
        // ArgumentParser's own usage errors (`validate`) add the usage text; irzoo's are one line.
        func expect(_ args: [String], status: Int32, _ needle: String, parserError: Bool = false, line: UInt = #line) throws {
            let r = try cli.run(["run"] + args)
            XCTAssertEqual(r.status, status, r.stderr, line: line)
            if !parserError { XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)", line: line) }
            XCTAssertTrue(r.stderr.contains(needle), "'\(needle)' in \(r.stderr)", line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), line: line)
        }
        try expect(["clip-l", "--prompt", "x", "--output", out], status: 2, "no tokenizer vocabulary")
        try expect(["clip-l", "--prompt", "x", "--vocab", vocab, "--output", cli.path("x.png")], status: 2, ".npy")
        // --prompt next to --input is unildiff's (a text-guided restorer), not a text encoder's.
        try expect(["clip-l", "--prompt", "x", "--input", TestSupport.fixture("models/unildiff-e2e/lq.png"), "--vocab", vocab, "--output", out],
                   status: 2, "is for unildiff")
        try expect(["clip-l", "--output", out], status: 2, "--input", parserError: true)
        let bogus = cli.path("bogus.txt")
        try Data("#version: 0.2\na b\n".utf8).write(to: URL(fileURLWithPath: bogus))
        try expect(["clip-l", "--prompt", "x", "--vocab", bogus, "--output", out], status: 3, "not a CLIP BPE merges file")
        try expect(["clip-l", "--prompt", "x", "--vocab", cli.path("missing.gz"), "--output", out], status: 3, "cannot read")
        // An image model refuses a prompt.
        let config = try String(contentsOfFile: golden("clip-tiny", "config.json"), encoding: .utf8)
        XCTAssertEqual(try cli.run(["import", golden("clip-tiny", "model.safetensors"), "--arch", "clip-vit-l-14", "--name", "vit",
                                    "--config", config]).status, 0)
        try expect(["vit", "--prompt", "x", "--vocab", vocab, "--output", out], status: 2, "text encoders")
    }
}
