import Foundation
import XCTest
import IRTestSupport
import IRCheckpoint
import IRModels
import IRTensor

/// A pipeline folder's tokenizers and scheduler as irzoo reads them from their files, against
/// what transformers and diffusers make of the same files (Tools/gen_pipeline_folder.py).
final class PipelineAssetTests: XCTestCase {
    func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: TestSupport.fixture(path)), path))
    }

    func goldens() throws -> JSON { try JSON.parse(try bytes("hub/sdxl-pipeline.goldens.json")) }

    /// tokenizer/ in the hub's layout (vocab.json + merges.txt), tokenizer_2/ as transformers 5
    /// saves it (tokenizer.json), each padded as its folder says.
    func testTokenizerFilesGiveTransformersIds() throws {
        let t1 = try CLIPTokenizer(vocabJSON: try bytes("hub/sdxl-pipeline/tokenizer/vocab.json"),
                                   mergesText: try bytes("hub/sdxl-pipeline/tokenizer/merges.txt"), padToken: "<|endoftext|>", source: "tokenizer")
        let t2 = try CLIPTokenizer(tokenizerJSON: try bytes("hub/sdxl-pipeline/tokenizer_2/tokenizer.json"), padToken: "!", source: "tokenizer_2")
        XCTAssertEqual([t1.startID, t1.endID, t1.padID, t2.padID], [998, 999, 999, 0])
        let rows = try XCTUnwrap(try goldens()["tokens"]?.arrayValue)
        XCTAssertEqual(rows.count, 18)
        for row in rows {
            let text = try XCTUnwrap(row["text"]?.stringValue)
            for (tokenizer, key) in [(t1, "tokenizer"), (t2, "tokenizer_2")] {
                let expected = row[key]?.arrayValue?.compactMap { $0.intValue.map { Int32($0) } }
                XCTAssertEqual(tokenizer.encodePadded(text), expected, "\(key): '\(text)'")
            }
        }
    }

    /// The full CLIP vocabulary through vocab.json + merges.txt (as the hub's SDXL folders hold
    /// it, derived here from open_clip's file as transformers' files are) gives the 354 cases of
    /// CLIPTokenizerTests, like the open_clip route.
    func testFullVocabularyFilesMatchTheOpenCLIPRoute() throws {
        let gz = try bytes("tokenizer/bpe_simple_vocab_16e6.txt.gz")
        let text = try Gzip.decompress(gz, file: "bpe")
        let lines = String(decoding: text, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let merges = lines[1...CLIPTokenizer.mergeCount].map { String($0) }
        let symbols = (0..<256).map { b -> String in
            // CLIP's byte order: printable Latin-1 first, then the rest mapped from U+0100.
            let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
            let order = printable + (0..<256).filter { !printable.contains($0) }
            let byte = order[b]
            let scalar = printable.contains(byte) ? Unicode.Scalar(UInt8(byte)) : Unicode.Scalar(0x100 + (0..<256).filter { !printable.contains($0) }.firstIndex(of: byte)!)!
            return String(scalar)
        }
        let vocab = symbols + symbols.map { $0 + "</w>" } + merges.map { $0.replacingOccurrences(of: " ", with: "") } + ["<|startoftext|>", "<|endoftext|>"]
        var seen = Set<String>()
        var pairs: [(String, JSON)] = []
        for (i, s) in vocab.enumerated().reversed() where seen.insert(s).inserted { pairs.append((s, .int(i))) } // the last id wins
        let vocabJSON = JSON.object(pairs).serializedBytes()
        let mergesText = Array(("#version: 0.2\n" + merges.joined(separator: "\n") + "\n").utf8)
        let viaFiles = try CLIPTokenizer(vocabJSON: vocabJSON, mergesText: mergesText, padToken: "!", source: "vocab.json")
        let viaOpenCLIP = try CLIPTokenizer(mergesText: text, padToken: "!", source: "bpe")
        let cases = try JSON.parse(try bytes("tokenizer/cases.json"))["cases"]?.arrayValue ?? []
        XCTAssertEqual(cases.count, 354)
        for c in cases {
            let s = try XCTUnwrap(c["text"]?.stringValue)
            XCTAssertEqual(viaFiles.encodePadded(s), c["padded_zero"]?.arrayValue?.compactMap { $0.intValue.map { Int32($0) } }, s)
            XCTAssertEqual(viaFiles.encode(s), viaOpenCLIP.encode(s), s)
        }
    }

    func testBadTokenizerFilesAreRefusedByName() {
        func refusal(_ make: () throws -> CLIPTokenizer) -> String {
            do { _ = try make(); return "accepted" } catch { return "\(error)" }
        }
        let vocab = Array(#"{"a": 0}"#.utf8)
        XCTAssertTrue(refusal { try CLIPTokenizer(vocabJSON: Array("[1]".utf8), mergesText: [], padToken: "!", source: "t") }.contains("vocab.json is not a JSON object"))
        XCTAssertTrue(refusal { try CLIPTokenizer(vocabJSON: vocab, mergesText: Array("#version: 0.2\na\n".utf8), padToken: "a", source: "t") }.contains("merges.txt line 2 is not a pair of symbols"))
        XCTAssertTrue(refusal { try CLIPTokenizer(vocabJSON: vocab, mergesText: [], padToken: "!", source: "t") }.contains("the pad token '!' is not in vocab.json"))
        XCTAssertTrue(refusal { try CLIPTokenizer(vocabJSON: vocab, mergesText: [], padToken: "a", source: "t") }.contains("is not in the vocabulary"))
        XCTAssertTrue(refusal { try CLIPTokenizer(tokenizerJSON: Array(#"{"model": {"type": "WordPiece"}}"#.utf8), padToken: "!", source: "t") }.contains("no BPE model"))
    }

    /// The stored scheduler config gives diffusers' timesteps, sigmas and init_noise_sigma for
    /// every spacing at 20 and 7 steps.
    func testSchedulerConfigGivesDiffusersSchedules() throws {
        let config = try JSON.parse(try bytes("hub/sdxl-pipeline/scheduler/scheduler_config.json"))
        let rows = try XCTUnwrap(try goldens()["schedules"]?.arrayValue)
        XCTAssertEqual(rows.count, 6)
        for row in rows {
            guard case .object(var o) = config, let spacing = row["spacing"]?.stringValue, let steps = row["steps"]?.intValue else { return XCTFail() }
            o["timestep_spacing"] = .string(spacing)
            let sampler = try EulerSchedulerConfig(json: .object(o), source: "scheduler_config.json").sampler(steps: steps)
            let what = "\(spacing) \(steps)"
            let timesteps = row["timesteps"]?.arrayValue?.compactMap { $0.numberValue?.double } ?? []
            let sigmas = row["sigmas"]?.arrayValue?.compactMap { $0.numberValue?.double } ?? []
            XCTAssertEqual(sampler.timesteps.count, timesteps.count, what)
            for (a, b) in zip(sampler.timesteps, timesteps) { XCTAssertEqual(Double(a), b, accuracy: 1e-4, what) }
            XCTAssertEqual(sampler.sigmas.count, sigmas.count, what)
            for (a, b) in zip(sampler.sigmas, sigmas) { XCTAssertEqual(Double(a), b, accuracy: 4e-6 * max(1, b), what) }
            XCTAssertEqual(Double(sampler.initNoiseSigma), row["init_noise_sigma"]?.numberValue?.double ?? 0, accuracy: 4e-5, what)
        }
        let parsed = try EulerSchedulerConfig(json: config, source: "s")
        XCTAssertEqual(parsed.summary, "EulerDiscreteScheduler: scaled_linear betas 0.00085...0.012 over 1000, leading spacing, steps_offset 1, epsilon")
    }

    func testSchedulerSettingsIrzooDoesNotSampleAreRefused() throws {
        func refusal(_ change: [String: JSON]) -> String {
            var o = JSON.Object([("_class_name", .string("EulerDiscreteScheduler")), ("beta_schedule", .string("scaled_linear"))])
            for (k, v) in change { o[k] = v }
            do { _ = try EulerSchedulerConfig(json: .object(o), source: "s.json"); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal([:]), "accepted")
        XCTAssertTrue(refusal(["_class_name": .string("DDIMScheduler")]).contains("the scheduler is DDIMScheduler"))
        XCTAssertTrue(refusal(["prediction_type": .string("v_prediction")]).contains("\"prediction_type\" 'v_prediction' is not supported"))
        XCTAssertTrue(refusal(["use_karras_sigmas": .bool(true)]).contains("\"use_karras_sigmas\": true is not supported"))
        XCTAssertTrue(refusal(["beta_schedule": .string("squaredcos_cap_v2")]).contains("'squaredcos_cap_v2' is not supported"))
        XCTAssertTrue(refusal(["timestep_spacing": .string("karras")]).contains("\"timestep_spacing\" 'karras' is not one of"))
        XCTAssertTrue(refusal(["steps_offset": .int(-1)]).contains("\"steps_offset\" -1 is outside"))
        // diffusers' defaults where a key is absent: linear betas 0.0001...0.02, linspace spacing.
        let defaults = try EulerSchedulerConfig(json: .object(JSON.Object()), source: "s")
        XCTAssertEqual(defaults.betaSchedule, .linear)
        XCTAssertEqual(defaults.spacing, .linspace)
    }
}
