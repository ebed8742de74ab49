import XCTest
import IRTensor

/// RFC 8785 (JSON Canonicalization Scheme): the examples of its sections 3.2.2 and 3.2.3, and
/// ECMAScript's number spelling at the edges where it switches notation.
final class JSONCanonicalTests: XCTestCase {
    func canonical(_ text: String) throws -> String { try JSON.parse(Array(text.utf8)).canonical() }

    func testRFC8785Example() throws {
        // RFC 8785 section 3.2.2's input (numbers and literals), whitespace and order as given.
        let input = #"{ "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false] }"#
        XCTAssertEqual(try canonical(input),
                       #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#)
    }

    func testKeysSortByUTF16CodeUnits() throws {
        // RFC 8785 section 3.2.3: U+1F600 (a surrogate pair, D83D DE00) sorts before U+FB33 (FB33)
        // in UTF-16 order, though after it in code-point order.
        let input = #"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#
        let keys = try XCTUnwrap(try JSON.parse(Array(try canonical(input).utf8)).objectValue?.keys)
        XCTAssertEqual(keys.map { $0.unicodeScalars.first!.value }, [0x0D, 0x31, 0x80, 0xF6, 0x20AC, 0x1F600, 0xFB33])
    }

    func testNumberSpelling() {
        let cases: [(Double, String)] = [(0, "0"), (-0.0, "0"), (1, "1"), (-1.5, "-1.5"), (2.66, "2.66"), (1e21, "1e+21"),
                                         (1e20, "100000000000000000000"), (123e18, "123000000000000000000"), (1e-6, "0.000001"),
                                         (1e-7, "1e-7"), (1.5e-7, "1.5e-7"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
                                         (0.1, "0.1"), (100.25, "100.25"), (9007199254740993, "9007199254740992")]
        for (value, want) in cases {
            XCTAssertEqual(JSON.double(value).canonical(), want, "\(value)")
        }
        // Integer literals are kept digit for digit (byte offsets need every digit).
        XCTAssertEqual(JSON.int(Int.max).canonical(), "9223372036854775807")
    }

    func testMemberOrderDoesNotMatter() {
        let a = JSON.object([("b", .int(1)), ("a", .array([.string("x"), .null])), ("c", .object([("z", .bool(true)), ("y", .double(0.5))]))])
        let b = JSON.object([("c", .object([("y", .double(0.5)), ("z", .bool(true))])), ("a", .array([.string("x"), .null])), ("b", .int(1))])
        XCTAssertEqual(a.canonicalBytes(), b.canonicalBytes())
        XCTAssertEqual(a.canonical(), #"{"a":["x",null],"b":1,"c":{"y":0.5,"z":true}}"#)
    }

    /// RFC 8785 appendix B: IEEE 754 doubles (by bit pattern) and their canonical spelling, also
    /// when parsed back from text with another exponent spelling.
    func testRFC8785AppendixBNumbers() throws {
        let table: [(UInt64, String)] = [
            (0x0000000000000000, "0"), (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"), (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"), (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"), (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"), (0x44b52d02c7e14af6, "1e+23"), (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"), (0x444b1ae4d6e2ef4f, "999999999999999900000"), (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"), (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"), (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"), (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"), (0x43143ff3c1cb0959, "1424953923781206.2"),
        ]
        for (bits, expected) in table {
            XCTAssertEqual(JSON.double(Double(bitPattern: bits)).canonical(), expected, String(bits, radix: 16))
            let respelled = String(expected.compactMap { $0 == "+" ? nil : ($0 == "e" ? "E" : $0) }) // "1e+23" -> "1E23"
            XCTAssertEqual(try JSON.parse(respelled).canonical(), expected, respelled)
        }
    }
}
