import Foundation
import XCTest
import IRTestSupport
import IRCheckpoint
import IRModels

/// The CLIP BPE tokenizer against transformers' CLIPTokenizer (Tools/gen_clip_tokenizer_fixtures.py):
/// 354 strings — unicode, emoji and ZWJ sequences, accents (composed and combining), CJK,
/// numbers, punctuation, contractions, special-token text, over-long, empty, whitespace runs —
/// id for id, unpadded and padded both ways SDXL pads.
final class CLIPTokenizerTests: XCTestCase {
    struct Case: Decodable {
        let text: String
        let ids: [Int32]
        let padded_eos: [Int32]
        let padded_zero: [Int32]
    }

    struct Cases: Decodable { let cases: [Case] }

    static let merges: [UInt8] = {
        let path = TestSupport.fixture("tokenizer/bpe_simple_vocab_16e6.txt.gz")
        let gz = FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
        return (try? Gzip.decompress(gz, file: path)) ?? []
    }()

    func cases() throws -> [Case] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: TestSupport.fixture("tokenizer/cases.json")))
        return try JSONDecoder().decode(Cases.self, from: data).cases
    }

    func tokenizer(pad: String) throws -> CLIPTokenizer {
        try CLIPTokenizer(mergesText: Self.merges, padToken: pad, source: "bpe_simple_vocab_16e6.txt.gz")
    }

    func testIdsMatchTransformers() throws {
        let eos = try tokenizer(pad: "<|endoftext|>"), zero = try tokenizer(pad: "!")
        let all = try cases()
        XCTAssertEqual(all.count, 354)
        var mismatches = [String]()
        for c in all {
            if eos.encode(c.text) != c.ids { mismatches.append("unpadded \(c.text.debugDescription): \(eos.encode(c.text)) != \(c.ids)") }
            if eos.encodePadded(c.text) != c.padded_eos { mismatches.append("pad 49407 \(c.text.debugDescription)") }
            if zero.encodePadded(c.text) != c.padded_zero { mismatches.append("pad 0 \(c.text.debugDescription): \(zero.encodePadded(c.text))") }
        }
        XCTAssertEqual(mismatches.count, 0, mismatches.prefix(8).joined(separator: "\n"))
        print("CLIP tokenizer: \(all.count) strings x 3 encodings, \(mismatches.count) mismatches")
    }

    func testKnownIds() throws {
        let t = try tokenizer(pad: "<|endoftext|>")
        XCTAssertEqual(t.encode("a photo of a cat"), [49406, 320, 1125, 539, 320, 2368, 49407])
        XCTAssertEqual(t.encode(""), [49406, 49407])
        let long = t.encodePadded(String(repeating: "word ", count: 200))
        XCTAssertEqual(long.count, 77)
        XCTAssertEqual(long.last, 49407)
    }

    /// Padded encoding stops after the 77th id: a huge prompt costs what its start costs, same ids.
    func testHugePromptIsTruncatedCheaply() throws {
        let t = try tokenizer(pad: "!")
        let start = "a red fox, snow, golden hour, 8k! " + String(repeating: "word ", count: 100)
        let huge = start + String(repeating: "lorem ipsum dolor sit amet ", count: 40_000)
        let began = Date()
        XCTAssertEqual(t.encodePadded(huge), t.encodePadded(start))
        XCTAssertLessThan(Date().timeIntervalSince(began), 5)
    }

    func testVocabularyFileIsChecked() throws {
        XCTAssertEqual(Self.merges.count, 3_194_984)
        XCTAssertThrowsError(try CLIPTokenizer(mergesText: Array(Self.merges.prefix(100_000)), source: "cut.txt")) {
            XCTAssertTrue("\($0)".contains("merges"), "\($0)")
        }
        XCTAssertThrowsError(try CLIPTokenizer(mergesText: Self.merges, padToken: "<pad>", source: "x")) {
            XCTAssertTrue("\($0)".contains("pad token"), "\($0)")
        }
        let path = TestSupport.fixture("tokenizer/bpe_simple_vocab_16e6.txt.gz")
        let gz = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: path)))
        XCTAssertThrowsError(try Gzip.decompress(Array(gz.prefix(gz.count / 2)), file: "half.gz")) {
            XCTAssertTrue("\($0)".contains("truncated"), "\($0)")
        }
        XCTAssertThrowsError(try Gzip.decompress(gz, limit: 1 << 20, file: "big.gz")) {
            XCTAssertTrue("\($0)".contains("past"), "\($0)")
        }
        XCTAssertThrowsError(try Gzip.decompress(Array("plain".utf8), file: "plain.txt"))
    }
}
