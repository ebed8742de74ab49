import IRTensor
import XCTest

/// `JSON.canonicalBytes()` against RFC 8785 (JSON Canonicalization Scheme): its own examples.
final class JSONCanonicalTests: XCTestCase {
    private func canonical(_ text: String) throws -> String {
        String(decoding: try JSON.parse(text).canonicalBytes(), as: UTF8.self)
    }

    /// RFC 8785 section 3.2.2: whitespace, number forms, string escapes, member order.
    func testRFC8785SerializationExample() throws {
        let input = #"""
        {
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }
        """#
        XCTAssertEqual(try canonical(input),
                       #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#)
    }

    /// RFC 8785 section 3.2.3: keys sort by UTF-16 code units (the emoji's surrogates before U+FB33).
    func testRFC8785SortingExample() throws {
        let input = #"""
        {
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }
        """#
        let values = try XCTUnwrap(try JSON.parse(try canonical(input)).objectValue).members.map { $0.value.stringValue ?? "" }
        XCTAssertEqual(values, ["Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis", "Euro Sign",
                                "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh"])
        XCTAssertTrue(try canonical(input).hasPrefix(#"{"\r":"Carriage Return","1":"One","\#u{80}":"Control""#))
    }

    /// RFC 8785 appendix B: IEEE 754 doubles and their canonical spelling.
    func testRFC8785NumberTable() throws {
        let table: [(UInt64, String)] = [
            (0x0000000000000000, "0"), (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"), (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"), (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"), (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"), (0x44b52d02c7e14af6, "1e+23"), (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"), (0x444b1ae4d6e2ef4f, "999999999999999900000"), (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "0.000001"), (0x3eb0c6f7a0b5ed8d, "0.0000010000000000000002"),
            (0x41b3de4355555553, "333333333.3333332"), (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"), (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"), (0x43143ff3c1cb0959, "1424953923781206.2"),
        ]
        for (bits, expected) in table {
            let number = try XCTUnwrap(JSON.Number(Double(bitPattern: bits)))
            XCTAssertEqual(number.canonicalLiteral, expected, String(bits, radix: 16))
            // The same value however it was spelled in the text parsed.
            XCTAssertEqual(try canonical(expected.replacingOccurrences(of: "e+", with: "E")), expected)
        }
    }

    /// Member order and number spelling do not change the bytes; 64-bit integers stay exact.
    func testEqualContentGivesEqualBytes() throws {
        let a = try JSON.parse(#"{"b":[1.0,2E0,-0],"a":{"y":true,"x":"é"}}"#)
        let b = JSON.object([("a", .object([("x", .string("é")), ("y", .bool(true))])), ("b", .array([.int(1), .int(2), .int(0)]))])
        XCTAssertEqual(a.canonicalBytes(), b.canonicalBytes())
        XCTAssertEqual(String(decoding: a.canonicalBytes(), as: UTF8.self), #"{"a":{"x":"é","y":true},"b":[1,2,0]}"#)
        XCTAssertEqual(JSON.uint64(UInt64.max).canonicalBytes(), Array("18446744073709551615".utf8), "offsets are never rounded through a double")
        XCTAssertEqual(JSON.int(9007199254740993).canonicalBytes(), Array("9007199254740993".utf8))
        XCTAssertEqual(try JSON.parse(String(decoding: a.canonicalBytes(), as: UTF8.self)), try JSON.parse(#"{"a":{"x":"é","y":true},"b":[1,2,0]}"#))
    }
}
