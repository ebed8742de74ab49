import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

final class NumpyArrayTests: XCTestCase {
    private var expected: [String: Any] = [:]

    override func setUpWithError() throws {
        expected = try FixtureJSON.load("npy/expected.json")
    }

    private var files: [String: [String: Any]] { expected["files"] as! [String: [String: Any]] }

    /// Every dtype, 0-dim, empty, big-endian, Fortran order and the 2.0/3.0 headers, as numpy sees them.
    func testReadsWhatNumpyWrote() throws {
        XCTAssertGreaterThanOrEqual(files.count, 16)
        for (name, spec) in files.sorted(by: { $0.key < $1.key }) {
            let t = try NumpyArray.read(path: TestSupport.fixture("npy/\(name)"))
            assertTensors([t], [ExpectedTensor(spec)], name)
        }
    }

    func testLittleEndianCOrderIsZeroCopy() throws {
        let path = TestSupport.fixture("npy/input_f32.npy")
        let file = try ByteBuffer.map(path: path)
        let t = try NumpyArray.parse(file.whole, name: "x", file: path)
        XCTAssertTrue(t.data.buffer === file)
        XCTAssertEqual(t.data.offset % 64, 0, "numpy aligns the data to 64 bytes")
        XCTAssertEqual(t.shape, [1, 3, 4, 5])
    }

    /// What we write is byte-identical to `np.save` of the same array.
    func testWriteIsByteIdenticalToNpSave() throws {
        let dir = TestSupport.makeTempDir("irzoo-npy")
        defer { try? FileManager.default.removeItem(at: dir) }
        var compared = 0
        for (name, spec) in files where spec["np_save_identical"] as! Bool {
            let source = TestSupport.fixture("npy/\(name)")
            let t = try NumpyArray.read(path: source)
            let out = dir.appendingPathComponent(name).path
            try NumpyArray.write(t, to: out)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: URL(fileURLWithPath: source)), name)
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 11)
    }

    /// Big-endian and Fortran-order inputs are written back as little-endian C order, same values.
    func testNonNativeLayoutsRoundTripAsCOrder() throws {
        let dir = TestSupport.makeTempDir("irzoo-npy")
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["big_endian.npy", "big_endian_i64.npy", "fortran.npy", "v2.npy", "v3.npy"] {
            let t = try NumpyArray.read(path: TestSupport.fixture("npy/\(name)"))
            let out = dir.appendingPathComponent(name).path
            try NumpyArray.write(t, to: out)
            let back = try NumpyArray.read(path: out)
            XCTAssertEqual(back.data.bytes, t.data.bytes, name)
            XCTAssertEqual(back.shape, t.shape, name)
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)).prefix(80), as: UTF8.self)
            XCTAssertTrue(text.contains("'fortran_order': False"), name)
            XCTAssertTrue(text.contains("'descr': '<") || text.contains("'descr': '|"), name)
        }
    }

    func testHeaderLayout() {
        let header = NumpyArray.headerBytes(dtype: .f32, shape: [Int](repeating: 1, count: 64))!
        XCTAssertEqual(header[6], 1, "version 1.0 while the header fits in 65535 bytes")
        XCTAssertEqual(header.count % 64, 0, "data starts 64-aligned")
        XCTAssertEqual(header.last, 0x0A)
        XCTAssertNil(NumpyArray.headerBytes(dtype: .bf16, shape: [1]), "numpy has no bfloat16")
    }

    func testBF16IsRefusedOnWrite() throws {
        let t = try TensorRecord(name: "w", dtype: .bf16, shape: [1], data: ByteBuffer.copying([0, 0x3F]).whole)
        let dir = TestSupport.makeTempDir("irzoo-npy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let e = expectCheckpointError("bf16") { try NumpyArray.write(t, to: dir.appendingPathComponent("w.npy").path) }
        XCTAssertTrue(e?.description.contains("numpy has no bf16") ?? false)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testMalformedFilesAreRefused() throws {
        let table = expected["malformed"] as! [String: String]
        let dir = TestSupport.fixture("npy/malformed")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".npy") }
        XCTAssertEqual(Set(names), Set(table.keys), "every malformed file needs an expectation")
        for (name, fragment) in table.sorted(by: { $0.key < $1.key }) {
            let path = dir + "/" + name
            guard let e = expectCheckpointError(name, { _ = try NumpyArray.read(path: path) }) else { continue }
            XCTAssertTrue(e.description.contains(fragment), "\(name): '\(e.description)' lacks '\(fragment)'")
            XCTAssertTrue(e.description.hasPrefix(path), "\(name): \(e.description)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/irzoo-canary-npy"), "a header was evaluated")
    }

    func testEveryTruncationIsRefused() throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("npy/input_f32.npy"))))
        for cut in 0..<bytes.count {
            XCTAssertThrowsError(try NumpyArray.parse(ByteBuffer.copying(bytes[0..<cut]).whole, name: "x", file: "cut"), "cut \(cut)")
        }
    }
}
