import Foundation
import IRFormat
import IRTensor
import XCTest

/// Hostile files with a correct digest: the structural checks alone must refuse them, with a
/// clear one-line reason, and never trap.
final class IRWHostileTests: XCTestCase {
    let four = [UInt8](repeating: 7, count: 4)
    var shaFour: String { IRWBytes.sha(four) }

    private func refuse(_ bytes: [UInt8], _ kind: IRWError.Kind, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try IRWFile.open(bytes: bytes), file: file, line: line) { error in
            guard let e = error as? IRWError else { return XCTFail("unexpected error \(error)", file: file, line: line) }
            XCTAssertEqual(e.kind, kind, e.description, file: file, line: line)
            XCTAssertTrue(e.description.contains(fragment), "'\(e.description)' lacks '\(fragment)'", file: file, line: line)
            XCTAssertFalse(e.description.contains("\n"), "errors are one line", file: file, line: line)
        }
    }

    func testWellFormedBaselineOpens() throws {
        let h = IRWBytes.header([IRWBytes.row("a", [1], offset: 0, length: 4, sha: shaFour)])
        let f = try IRWFile.open(bytes: IRWBytes.file(header: h, data: four, tensorCount: 1))
        XCTAssertEqual(f.tensors.map { $0.name }, ["a"])
        XCTAssertTrue(f.verify().isIntact)
    }

    func testOverlappingRangesAreRefused() {
        let data = four + [UInt8](repeating: 0, count: 60) + four
        let h = IRWBytes.header([IRWBytes.row("a", [1], offset: 0, length: 4, sha: shaFour),
                                 IRWBytes.row("b", [2], offset: 0, length: 8, sha: shaFour)])
        refuse(IRWBytes.file(header: h, data: data, tensorCount: 2), .malformed, "tensor 'b': offset 0 overlaps the previous tensor")
        // Many tensors aliasing one region (the safetensors DoS attempt) is the same case.
        let alias = IRWBytes.header((0..<100).map { IRWBytes.row("t\($0)", [1], offset: 0, length: 4, sha: shaFour) })
        refuse(IRWBytes.file(header: alias, data: four, tensorCount: 100), .malformed, "overlaps")
    }

    func testGapsUnalignedOffsetsAndUnindexedBytesAreRefused() {
        let data = four + [UInt8](repeating: 0, count: 124) + four
        let gap = IRWBytes.header([IRWBytes.row("a", [1], offset: 0, length: 4, sha: shaFour),
                                   IRWBytes.row("b", [1], offset: 128, length: 4, sha: shaFour)])
        refuse(IRWBytes.file(header: gap, data: data, tensorCount: 2), .malformed, "leaves a gap")
        let unaligned = IRWBytes.header([IRWBytes.row("a", [1], offset: 0, length: 4, sha: shaFour),
                                         IRWBytes.row("b", [1], offset: 4, length: 4, sha: shaFour)])
        refuse(IRWBytes.file(header: unaligned, data: four + four, tensorCount: 2), .malformed, "not 64-byte aligned")
        let short = IRWBytes.header([IRWBytes.row("a", [1], offset: 0, length: 4, sha: shaFour)])
        refuse(IRWBytes.file(header: short, data: four + four, tensorCount: 1), .malformed, "not indexed")
    }

    func testOffsetsPastTheEndAreRefused() {
        let h = IRWBytes.header([IRWBytes.row("a", [1000], offset: 0, length: 4000, sha: shaFour)])
        refuse(IRWBytes.file(header: h, data: four, tensorCount: 1), .malformed, "extend past the data section")
        let huge = IRWBytes.header([IRWBytes.row("a", [9_223_372_036_854_775_807], dtype: "u8", offset: 0, length: 9_223_372_036_854_775_807, sha: shaFour)])
        refuse(IRWBytes.file(header: huge, data: four, tensorCount: 1), .malformed, "extend past the data section")
        let beyondInt = IRWBytes.header([#"{"name":"a","dtype":"u8","shape":[4],"offset":18446744073709551615,"length":4,"sha256":"\#(shaFour)"}"#])
        refuse(IRWBytes.file(header: beyondInt, data: four, tensorCount: 1), .malformed, "non-negative integers")
    }

    func testShapeOverflowAndBadDimensionsAreRefused() {
        let overflow = IRWBytes.header([IRWBytes.row("a", [4_611_686_018_427_387_904, 4], offset: 0, length: 4, sha: shaFour)])
        refuse(IRWBytes.file(header: overflow, data: four, tensorCount: 1), .malformed, "overflows")
        let negative = IRWBytes.header([IRWBytes.row("a", [-1], offset: 0, length: 4, sha: shaFour)])
        refuse(IRWBytes.file(header: negative, data: four, tensorCount: 1), .malformed, "not a non-negative integer")
        let fractional = IRWBytes.header([#"{"name":"a","dtype":"f32","shape":[1.5],"offset":0,"length":4,"sha256":"\#(shaFour)"}"#])
        refuse(IRWBytes.file(header: fractional, data: four, tensorCount: 1), .malformed, "not a non-negative integer")
        let mismatch = IRWBytes.header([IRWBytes.row("a", [2], offset: 0, length: 4, sha: shaFour)])
        refuse(IRWBytes.file(header: mismatch, data: four, tensorCount: 1), .malformed, "does not match shape [2] of f32 (8 bytes)")
        let rank = IRWBytes.header([IRWBytes.row("a", [4] + [Int](repeating: 1, count: 64), dtype: "u8", offset: 0, length: 4, sha: shaFour)])
        refuse(IRWBytes.file(header: rank, data: four, tensorCount: 1), .malformed, "at most 64 dimensions")
    }

    func testDuplicateNamesAndDuplicateKeysAreRefused() {
        let data = four + [UInt8](repeating: 0, count: 60) + four
        let dup = IRWBytes.header([IRWBytes.row("a", [1], offset: 0, length: 4, sha: shaFour),
                                   IRWBytes.row("a", [1], offset: 64, length: 4, sha: shaFour)])
        refuse(IRWBytes.file(header: dup, data: data, tensorCount: 2), .malformed, "tensor 'a': duplicate tensor name")
        // A JSON key given twice is a parser differential (TOB-SFTN-7): refused outright.
        let dupKey = IRWBytes.header([#"{"name":"a","dtype":"f32","shape":[1],"offset":0,"length":4,"length":8,"sha256":"\#(shaFour)"}"#])
        refuse(IRWBytes.file(header: dupKey, data: four, tensorCount: 1), .malformed, "duplicate key \"length\"")
    }

    func testHugeOrMisplacedHeadersAreRefused() {
        let h = IRWBytes.header([IRWBytes.row("a", [1], offset: 0, length: 4, sha: shaFour)])
        refuse(IRWBytes.file(header: h, data: four, tensorCount: 1, edit: { $0.headerLength = 1 << 40 }), .malformed, "header length 1099511627776 is outside")
        refuse(IRWBytes.file(header: h, data: four, tensorCount: 1, edit: { $0.headerLength = 60 << 20 }), .truncated, "truncated")
        refuse(IRWBytes.file(header: h, data: four, tensorCount: 1, edit: { $0.headerLength! -= 1 }), .malformed, "1 bytes follow the header")
        refuse(IRWBytes.file(header: h, data: four, tensorCount: 1, edit: { $0.dataLength = UInt64.max - 100 }), .malformed, "does not follow the data section")
        refuse(IRWBytes.file(header: h, data: four, tensorCount: 1, edit: { $0.dataOffset = 100 }), .malformed, "data offset 100")
        refuse(IRWBytes.file(header: h, data: four, tensorCount: 1, edit: { $0.tensorCount = 2 }), .malformed, "tensor count 2 disagrees")
        refuse(IRWBytes.file(header: h, data: four, tensorCount: 1, edit: { $0.tensorCount = UInt64.max }), .malformed, "exceeds the limit")
        // A header of 20 MB of nesting: bounded depth, no stack exhaustion.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        refuse(IRWBytes.file(header: deep, data: [], tensorCount: 0), .malformed, "nesting deeper than")
    }

    func testBadJSONAndUnsupportedContentAreRefused() {
        let invalidUTF8 = IRWBytes.header([IRWBytes.row("a\u{FFFD}", [1], offset: 0, length: 4, sha: shaFour)])
            .replacingOccurrences(of: "a\u{FFFD}", with: "a\u{1}")
        refuse(IRWBytes.file(header: invalidUTF8, data: four, tensorCount: 1), .malformed, "control character")
        var raw = Array(IRWBytes.header([IRWBytes.row("aX", [1], offset: 0, length: 4, sha: shaFour)]).utf8)
        raw[raw.firstIndex(of: UInt8(ascii: "X"))!] = 0xFF
        refuse(IRWBytes.file(headerBytes: raw, data: four, tensorCount: 1), .malformed, "invalid UTF-8")
        refuse(IRWBytes.file(header: "[]", data: [], tensorCount: 0), .malformed, "must be a JSON object")
        refuse(IRWBytes.file(header: IRWBytes.header([IRWBytes.row("a", [4], dtype: "f8e4m3", offset: 0, length: 4, sha: shaFour)]), data: four, tensorCount: 1),
               .unsupported, "tensor 'a': dtype \"f8e4m3\" is not known")
        let bigEndian = IRWBytes.header([]).replacingOccurrences(of: "little", with: "big")
        refuse(IRWBytes.file(header: bigEndian, data: [], tensorCount: 0), .unsupported, "endianness")
        refuse(IRWBytes.file(header: IRWBytes.header([]), data: [], tensorCount: 0, edit: { $0.major = 2 }), .unsupported, "format version 2.0")
        let noSha = IRWBytes.header([IRWBytes.row("a", [1], offset: 0, length: 4, sha: "ABC")])
        refuse(IRWBytes.file(header: noSha, data: four, tensorCount: 1), .malformed, "64 lowercase hex")
        let noMeta = #"{"endianness":"little","alignment":64,"tensors":[]}"#
        refuse(IRWBytes.file(header: noMeta, data: [], tensorCount: 0), .malformed, "metadata")
    }

    func testWrongMagicAndTinyFilesAreRefused() {
        refuse(Array("PK\u{3}\u{4}not an irw file".utf8), .notIRW, "not an .irw file")
        refuse([], .notIRW, "not an .irw file")
        refuse(IRWBytes.magic + [1, 0], .truncated, "shorter than the 128-byte preamble")
    }

    func testDigestMismatchNamesTheHeader() {
        let h = IRWBytes.header([IRWBytes.row("a", [1], offset: 0, length: 4, sha: shaFour)])
        refuse(IRWBytes.file(header: h, data: four, tensorCount: 1, fixDigest: false), .damaged, "header: digest mismatch")
    }
}
