import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

final class SafetensorsReaderTests: XCTestCase {
    private func readFixture(_ name: String) throws -> LoadedCheckpoint {
        try SafetensorsReader.read(path: TestSupport.fixture("safetensors/\(name)"))
    }

    func testValidFilesReadExactlyInFileOrder() throws {
        let expected = try FixtureJSON.load("safetensors/expected.json")["files"] as! [String: [String: Any]]
        XCTAssertEqual(expected.count, 4)
        for (name, spec) in expected.sorted(by: { $0.key < $1.key }) {
            let loaded = try readFixture(name)
            XCTAssertEqual(loaded.format, .safetensors)
            XCTAssertNil(loaded.wrapper)
            XCTAssertEqual(loaded.metadata, spec["metadata"] as! [String: String], name)
            assertTensors(loaded.tensors, ExpectedTensor.list(spec["tensors"]), name)
        }
    }

    func testTorchFileCarriesEveryDtypeScalarAndEmpty() throws {
        let loaded = try readFixture("torch_all_dtypes.safetensors")
        XCTAssertEqual(Set(loaded.tensors.map(\.dtype)), Set(DType.allCases))
        XCTAssertEqual(loaded.tensors.first { $0.name == "scalar" }?.shape, [])
        XCTAssertEqual(loaded.tensors.first { $0.name == "empty" }?.shape, [0, 3])
        XCTAssertEqual(loaded.metadata["unicode"], "héllo ✓")
    }

    func testTensorsAreZeroCopyViewsOfTheMapping() throws {
        let path = TestSupport.fixture("safetensors/torch_all_dtypes.safetensors")
        let file = try ByteBuffer.map(path: path)
        let loaded = try SafetensorsReader.read(file: file, path: path)
        let header = try file.whole.withUnsafeBytes { try SafetensorsHeader.parse($0) }
        XCTAssertEqual(header.dataStart % 8, 0, "the reference writer pads the header to 8 bytes")
        var cursor = header.dataStart
        for t in loaded.tensors {
            XCTAssertTrue(t.data.buffer === file, "\(t.name) was copied")
            XCTAssertEqual(t.data.offset, cursor, "\(t.name) is not where its data_offsets say")
            cursor += t.byteCount
        }
        XCTAssertEqual(cursor, file.count)
    }

    func testCheckpointReaderSniffsSafetensors() throws {
        let loaded = try CheckpointReader.read(path: TestSupport.fixture("safetensors/numpy_writer.safetensors"))
        XCTAssertEqual(loaded.format, .safetensors)
        XCTAssertEqual(loaded.tensors.count, 4)
    }

    /// Every file of the malformed corpus is refused with its expected one-line message, naming
    /// the file and (where it concerns one) the tensor. The table covers every file in the folder.
    func testMalformedCorpusIsRefusedWithActionableMessages() throws {
        let table = try FixtureJSON.load("safetensors/malformed/expected.json") as! [String: [String: Any]]
        let dir = TestSupport.fixture("safetensors/malformed")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".safetensors") }
        XCTAssertEqual(Set(files), Set(table.keys), "every malformed file needs an expectation")
        XCTAssertGreaterThanOrEqual(files.count, 30)
        for (name, spec) in table.sorted(by: { $0.key < $1.key }) {
            let path = dir + "/" + name
            guard let e = expectCheckpointError(name, { _ = try SafetensorsReader.read(path: path) }) else { continue }
            let fragment = spec["fragment"] as! String
            XCTAssertTrue(e.description.contains(fragment), "\(name): '\(e.description)' lacks '\(fragment)'")
            XCTAssertTrue(e.description.hasPrefix(path), "\(name): message must start with the file: \(e.description)")
            XCTAssertFalse(e.description.contains("\n"), "\(name): one line")
            if let entry = spec["entry"] as? String {
                XCTAssertEqual(e.entry, entry, name)
            }
        }
    }

    /// Cutting a valid file anywhere gives an error, never a crash or a partial table.
    func testEveryTruncationIsRefused() throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("safetensors/torch_all_dtypes.safetensors"))))
        for cut in 0..<bytes.count {
            let buffer = ByteBuffer.copying(bytes[0..<cut])
            XCTAssertThrowsError(try SafetensorsReader.read(file: buffer, path: "cut-\(cut)"), "prefix of \(cut) bytes accepted")
        }
    }

    /// Flipping any header byte must either be refused or still describe a consistent file.
    func testHeaderByteFlipsNeverBreakTheInvariants() throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("safetensors/torch_all_dtypes.safetensors"))))
        let headerEnd = 8 + Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var accepted = 0
        for i in 0..<headerEnd {
            for flip: UInt8 in [0x01, 0x80] {
                var b = bytes
                b[i] ^= flip
                let buffer = ByteBuffer.copying(b)
                guard let loaded = try? SafetensorsReader.read(file: buffer, path: "flip") else { continue }
                accepted += 1
                XCTAssertEqual(loaded.tensors.reduce(0) { $0 + $1.byteCount }, buffer.count - headerEnd, "byte \(i) ^ \(flip)")
            }
        }
        // Some flips only change a name or a metadata value and are legitimately accepted.
        XCTAssertLessThan(accepted, headerEnd)
    }

    func testHeaderParserReportsUnsupportedButValidDtypes() throws {
        let path = TestSupport.fixture("safetensors/malformed/unsupported_dtype_u16.safetensors")
        let file = try ByteBuffer.map(path: path)
        // The header itself is valid safetensors ...
        let header = try file.whole.withUnsafeBytes { try SafetensorsHeader.parse($0) }
        XCTAssertEqual(header.entries.map(\.dtypeName), ["U16"])
        XCTAssertNil(header.entries[0].dtype)
        // ... but irzoo cannot carry the dtype, and says so.
        XCTAssertThrowsError(try SafetensorsReader.read(file: file, path: path)) { e in
            XCTAssertTrue("\(e)".contains("U16 is valid safetensors but irzoo does not support it"), "\(e)")
        }
    }
}
