import Foundation
import IRTensor
import XCTest

final class JSONTests: XCTestCase {
    func testParsesAndKeepsOrderAndExactIntegers() throws {
        let v = try JSON.parse(#" {"z": 1, "a": [true, null, -0.5e3, "x\u00e9\n"], "big": 18446744073709551615} "#)
        XCTAssertEqual(v.objectValue?.keys, ["z", "a", "big"])
        XCTAssertEqual(v["big"]?.numberValue?.uint64, UInt64.max)
        XCTAssertEqual(v["a"]?.arrayValue?[2].numberValue?.double, -500)
        XCTAssertEqual(v["a"]?.arrayValue?[3].stringValue, "xé\n")
        XCTAssertEqual(try JSON.parse(v.serialized()), v, "serialization round-trips")
        XCTAssertEqual(try JSON.parse(v.serialized(pretty: true)), v)
        XCTAssertEqual(JSON.object([("k", .string("q\"\\\u{1}"))]).serialized(), #"{"k":"q\"\\\u0001"}"#)
    }

    func testRefusesWhatStrictJSONRefuses() {
        let bad = [
            #"{"a":1,"a":2}"#: "duplicate key \"a\"",
            #"{"a":1,}"#: "expected a string key",
            "[01]": "leading zeros",
            "[NaN]": "unexpected character",
            "\"\u{1}\"": "control character",
            #""\ud800""#: "unpaired surrogate",
            "{} x": "after the value",
            "": "unexpected end",
            String(repeating: "[", count: 65) + String(repeating: "]", count: 65): "nesting deeper",
        ]
        for (text, fragment) in bad {
            XCTAssertThrowsError(try JSON.parse(text), text) { XCTAssertTrue("\($0)".contains(fragment), "\(text): \($0)") }
        }
        XCTAssertThrowsError(try JSON.parse([0x22, 0xC0, 0xAF, 0x22])) { XCTAssertTrue("\($0)".contains("invalid UTF-8")) }
        XCTAssertThrowsError(try JSON.parse([0x22, 0xED, 0xA0, 0x80, 0x22]), "encoded surrogates are not UTF-8")
    }

    func testDoublesSerializeAsJSONNumbers() throws {
        XCTAssertEqual(JSON.double(3).serialized(), "3")
        XCTAssertEqual(JSON.double(0.1).serialized(), "0.1")
        XCTAssertEqual(JSON.double(.nan), .null)
        XCTAssertEqual(try JSON.parse(JSON.double(1e-300).serialized()).numberValue?.double, 1e-300)
    }
}

final class JSONSchemaValidatorTests: XCTestCase {
    let schema = #"""
    {
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "type": "object",
      "required": ["id", "size"],
      "additionalProperties": false,
      "properties": {
        "id": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$", "maxLength": 8},
        "size": {"type": "integer", "minimum": 0, "maximum": 100},
        "kind": {"enum": ["a", "b", 3]},
        "version": {"const": 1},
        "tags": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "digest": {"$ref": "#/$defs/sha"},
        "parent": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/sha"}]},
        "extra": {"type": "object", "additionalProperties": {"type": "number"}}
      },
      "$defs": {"sha": {"type": "string", "pattern": "^[0-9a-f]{4}$"}}
    }
    """#

    func testValidDocumentsPass() throws {
        let v = try JSONSchemaValidator(schemaText: schema)
        XCTAssertEqual(v.validate(try JSON.parse(#"{"id":"ab-1","size":7.0,"kind":3,"version":1.0,"tags":["x"],"digest":"00af","parent":null,"extra":{"q":1.5}}"#)), [])
        XCTAssertEqual(v.validate(try JSON.parse(#"{"id":"a","size":0,"parent":"beef"}"#)), [])
    }

    func testEveryKeywordReportsItsViolation() throws {
        let v = try JSONSchemaValidator(schemaText: schema)
        let doc = try JSON.parse(#"{"id":"Ab","size":101.5,"kind":"c","version":2,"tags":[],"digest":"xyz","parent":"no","extra":{"q":"s"},"other":1}"#)
        let found = Dictionary(grouping: v.validate(doc), by: { $0.path }).mapValues { $0.map { $0.message } }
        XCTAssertEqual(Set(found.keys), ["$.id", "$.size", "$.kind", "$.version", "$.tags", "$.digest", "$.parent", "$.extra.q", "$.other"])
        XCTAssertTrue(found["$.id"]![0].contains("does not match the pattern"))
        XCTAssertEqual(found["$.size"], ["expected integer, found number"])
        XCTAssertTrue(found["$.kind"]![0].contains("must be one of"))
        XCTAssertEqual(found["$.other"], ["unexpected property"])
        XCTAssertEqual(found["$.tags"], ["must have at least 1 items"])
        XCTAssertEqual(v.validate(try JSON.parse(#"{"size":-1}"#)).map { $0.description },
                       ["$: missing required property 'id'", "$.size: must be ≥ 0"])
        XCTAssertEqual(v.validate(try JSON.parse(#"{"id":"abcdefghi","size":1}"#)).map { $0.message }, ["must be at most 8 characters long", ])
        XCTAssertEqual(v.validate(.array([])).map { $0.message }, ["expected object, found array"])
    }

    func testUnsupportedOrMalformedSchemasAreRefused() {
        XCTAssertThrowsError(try JSONSchemaValidator(schemaText: #"{"type":"object","oneOf":[]}"#)) { XCTAssertTrue("\($0)".contains("'oneOf' is not supported")) }
        XCTAssertThrowsError(try JSONSchemaValidator(schemaText: #"{"type":"thing"}"#))
        XCTAssertThrowsError(try JSONSchemaValidator(schemaText: ##"{"$ref":"#/$defs/missing"}"##))
        XCTAssertThrowsError(try JSONSchemaValidator(schemaText: #"{"pattern":"("}"#))
        XCTAssertThrowsError(try JSONSchemaValidator(schemaText: #"{"properties":{"a":{"minimum":"x"}}}"#))
    }

    /// Through Codable (manifest and config fields whose shape the decoding type does not fix):
    /// members sorted by key (a Decoder gives no order), integers kept as integer literals.
    func testCodableSortsMembersAndKeepsIntegers() throws {
        let text = #"{"z": 2, "a": {"y": [1, 2.5, "s", null, false], "b": 3}, "m": -7}"#
        let v = try JSONDecoder().decode(JSON.self, from: Data(text.utf8))
        XCTAssertEqual(v.serialized(), #"{"a":{"b":3,"y":[1,2.5,"s",null,false]},"m":-7,"z":2}"#)
        XCTAssertEqual(v["z"]?.intValue, 2)
        XCTAssertEqual(v["a"]?["y"]?.arrayValue?[1].numberValue?.isIntegerLiteral, false)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        XCTAssertEqual(try JSONDecoder().decode(JSON.self, from: encoder.encode(v)), v, "Codable round-trips")
        XCTAssertEqual(v, try JSON.parse(v.serialized()), "the same tree as the strict parser reads")
    }

    func testMergingReplacesMembersRecursively() {
        let base: JSON = .object(["dim": .int(48), "heads": .array([.int(1)]), "norm": .object(["kind": .string("a"), "eps": .double(1e-5)])])
        let merged = base.merging(.object(["heads": .array([.int(2)]), "norm": .object(["kind": .string("b")]), "new": .bool(true)]))
        XCTAssertEqual(merged.serialized(), #"{"dim":48,"heads":[2],"norm":{"kind":"b","eps":1e-05},"new":true}"#)
        XCTAssertEqual(base.merging(.int(3)), .int(3), "a non-object override wins whole")
    }
}
