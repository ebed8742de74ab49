import Foundation
import IRFormat
import IRTensor
import IRTestSupport
import XCTest

/// The frozen v1 fixtures, written by Tools/gen_irw_fixture.py (an independent implementation of
/// docs/FORMAT.md). These tests stay forever: every irzoo must keep reading files written today.
final class IRWFixtureTests: XCTestCase {
    func testV1FixtureOpensWithExactValues() throws {
        let file = try IRWFile.open(path: TestSupport.fixture("irw/v1-all-dtypes.irw"))
        XCTAssertEqual(file.version, "1.0")
        // The digest of a frozen file never changes.
        XCTAssertEqual(file.digest, "6e331d752bbda432302cdf72dff3f14cb96cc1cf2b94ecc9f9b129893314684b")

        let expectedURL = URL(fileURLWithPath: TestSupport.fixture("irw/v1-all-dtypes.expected.json"))
        let expected = try JSON.parse(Array(try Data(contentsOf: expectedURL)))
        let rows = try XCTUnwrap(expected["tensors"]?.arrayValue)
        XCTAssertEqual(file.tensors.count, rows.count)
        XCTAssertEqual(Set(file.tensors.map { $0.dtype }), Set(DType.allCases), "the fixture covers every dtype")
        for (entry, row) in zip(file.tensors, rows) {
            XCTAssertEqual(entry.name, row["name"]?.stringValue)
            XCTAssertEqual(entry.dtype.rawValue, row["dtype"]?.stringValue)
            XCTAssertEqual(entry.shape, row["shape"]?.arrayValue?.compactMap { $0.intValue })
            XCTAssertEqual(entry.sourceName, row["source_name"]?.stringValue)
            let i = try XCTUnwrap(file.index(of: entry.name))
            XCTAssertEqual(file.view(i).bytes, hexBytes(row["hex"]!.stringValue!), entry.name)
            XCTAssertEqual((file.dataOffset + entry.offset) % 64, 0, "\(entry.name) starts 64-byte aligned in the file")
        }
        let step = try file.checkedRecord(named: "step")
        XCTAssertEqual(step.shape, [])
        XCTAssertEqual(ElementConversion.value(step.data.pointer, .i64, 0), 123456789012)
        XCTAssertEqual(try file.checkedRecord(named: "empty").byteCount, 0)
        XCTAssertEqual(try file.checkedRecord(named: "größe.ß").shape, [1])

        let m = file.metadata
        XCTAssertEqual(m.architecture, "raw")
        XCTAssertNil(m.variant)
        XCTAssertEqual(m.config["blocks"], .array([.int(1), .int(2)]))
        XCTAssertEqual(m.config["scale"]?.numberValue?.double, 0.5)
        // A 1.0 file carries its provenance in the header.
        let made = try XCTUnwrap(m.provenance)
        XCTAssertEqual(made.source.container, "torch-zip")
        XCTAssertEqual(made.source.wrapper, "params")
        XCTAssertEqual(made.source.size, 14)
        XCTAssertEqual(made.keyMapping, ["strip prefix 'module.'"])
        XCTAssertEqual(made.created, "2026-11-24T00:00:00Z")

        let report = file.verify()
        XCTAssertTrue(report.isIntact, report.problems.joined(separator: "\n"))
        XCTAssertEqual(report.bytesChecked, file.tensors.reduce(0) { $0 + $1.length })
    }

    func testFixtureHeadersMatchTheSchema() throws {
        let schema = try loadSchema("irw-header.schema.json")
        for name in ["v1-all-dtypes.irw", "v1-future-minor.irw"] {
            let file = try IRWFile.open(path: TestSupport.fixture("irw/\(name)"))
            XCTAssertEqual(schema.validate(file.header.json), [], name)
        }
        // And the schema is not vacuous: a broken header fails it.
        var broken = try IRWFile.open(path: TestSupport.fixture("irw/v1-all-dtypes.irw")).header.json.objectValue!
        var rows = broken["tensors"]!.arrayValue!
        var row = rows[0].objectValue!
        row["sha256"] = .string("XYZ")
        row["dtype"] = .string("f8")
        rows[0] = .object(row)
        broken["tensors"] = .array(rows)
        broken["endianness"] = .string("big")
        let violations = schema.validate(.object(broken)).map { $0.path }
        XCTAssertEqual(Set(violations), ["$.endianness", "$.tensors[0].dtype", "$.tensors[0].sha256"])
    }

    /// A later minor version may add fields, flags and reserved bytes: a 1.0 reader opens it.
    func testFutureMinorVersionIsReadAndUnknownFieldsIgnored() throws {
        let file = try IRWFile.open(path: TestSupport.fixture("irw/v1-future-minor.irw"))
        XCTAssertEqual(file.version, "1.7")
        XCTAssertEqual(file.preamble.flags, 5)
        XCTAssertNotNil(file.header.json["future_field"])
        let base = try IRWFile.open(path: TestSupport.fixture("irw/v1-all-dtypes.irw"))
        XCTAssertEqual(file.tensors, base.tensors)
        XCTAssertTrue(file.verify().isIntact)
    }

    /// The Swift writer, given the 1.0 fixture's tensors and metadata (in its order, with its
    /// provenance), writes the Python-written 1.1 fixture byte for byte: the two implementations
    /// agree on every detail of the layout, the canonical header, the name order and what is left out.
    func testSwiftWriterReproducesThePythonFixture() throws {
        let fixture = try IRWFile.open(path: TestSupport.fixture("irw/v1-all-dtypes.irw"))
        let dir = TestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("copy.irw").path
        let inputs = fixture.tensors.indices.map { IRWTensorInput(fixture.record($0), sourceName: fixture.tensors[$0].sourceName) }
        let result = try IRWWriter.write(inputs, metadata: { fixture.metadata }, to: out)
        let python = try IRWFile.open(path: TestSupport.fixture("irw/v1.1-all-dtypes.irw"))
        XCTAssertEqual(python.version, "1.1")
        XCTAssertEqual(result.digest, python.digest)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: out))), try readFixture("v1.1-all-dtypes.irw"))
    }
}
