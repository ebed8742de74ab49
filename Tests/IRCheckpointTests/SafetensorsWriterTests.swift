import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class SafetensorsWriterTests: XCTestCase {
    private var dir: URL!

    override func setUp() {
        dir = TestSupport.makeTempDir("irzoo-st-writer")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
    }

    private func record(_ name: String, _ dtype: DType, _ shape: [Int], _ bytes: [UInt8]) throws -> TensorRecord {
        try TensorRecord(name: name, dtype: dtype, shape: shape, data: ByteBuffer.copying(bytes).whole)
    }

    private func directoryListing() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    }

    /// `--dtype keep|f32|f16|bf16` on a file holding every dtype: what our reader reads back is
    /// bit-identical to torch's own `.to(dtype)` (expected hashes from the fixture script), ints
    /// and bools untouched, order kept, header padded to 8.
    /// With IRZOO_ST_EXPORT_DIR set, the outputs are also copied there so that
    /// `Tools/gen_safetensors_hdf5_fixtures.py --verify-swift DIR` can load them with Python.
    func testConversionsMatchTorchBitForBit() throws {
        let source = try SafetensorsReader.read(path: TestSupport.fixture("safetensors/torch_all_dtypes.safetensors"))
        let conversions = try FixtureJSON.load("safetensors/expected.json")["conversions"] as! [String: [String: Any]]
        let expected = conversions["torch_all_dtypes.safetensors"]!
        let export = ProcessInfo.processInfo.environment["IRZOO_ST_EXPORT_DIR"]
        for mode in DTypeConversion.allCases {
            let out = dir.appendingPathComponent("\(mode.rawValue).safetensors").path
            try SafetensorsWriter.write(source.tensors, to: out, dtype: mode)
            let back = try SafetensorsReader.read(path: out)
            XCTAssertEqual(back.metadata, ["format": "pt"])
            assertTensors(back.tensors, ExpectedTensor.list(expected[mode.rawValue]), "--dtype \(mode.rawValue)")
            let file = try ByteBuffer.map(path: out)
            let header = try file.whole.withUnsafeBytes { try SafetensorsHeader.parse($0) }
            XCTAssertEqual(header.dataStart % 8, 0)
            if let export {
                try? FileManager.default.removeItem(atPath: export + "/\(mode.rawValue).safetensors")
                try FileManager.default.copyItem(atPath: out, toPath: export + "/\(mode.rawValue).safetensors")
            }
        }
        XCTAssertEqual(try directoryListing(), ["bf16.safetensors", "f16.safetensors", "f32.safetensors", "keep.safetensors"],
                       "no temporary files left behind")
    }

    func testHeaderIsCompactMetadataFirstAndSpacePadded() throws {
        let a = try record("a", .f32, [2], [UInt8](repeating: 0, count: 8))
        let b = try record("quote\"d\n", .u8, [3], [1, 2, 3])
        let header = try SafetensorsWriter.headerBytes([a, b], metadata: ["z": "1", "format": "pt"])
        let text = String(decoding: header, as: UTF8.self)
        XCTAssertEqual(text.trimmingCharacters(in: .whitespaces),
                       #"{"__metadata__":{"format":"pt","z":"1"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"quote\"d\n":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}"#)
        XCTAssertEqual(header.count % 8, 0)
        XCTAssertTrue(header.count - text.trimmingCharacters(in: .whitespaces).utf8.count < 8)
    }

    func testOrderIsTheCallersAndValuesRoundTrip() throws {
        let tensors = [
            try record("z.first", .i16, [2], [1, 0, 0xFF, 0xFF]),
            try record("a.second", .bool, [3], [1, 0, 1]),
            try record("m.third", .f32, [], Array(withUnsafeBytes(of: Float(1.5).bitPattern.littleEndian, Array.init))),
        ]
        let out = dir.appendingPathComponent("order.safetensors").path
        var reports: [(Int, Int)] = []
        try SafetensorsWriter.write(tensors, to: out, metadata: [:]) { reports.append(($0, $1)) }
        XCTAssertEqual(reports.map(\.0), [4, 7, 11], "progress after each tensor, in data bytes")
        XCTAssertTrue(reports.allSatisfy { $0.1 == 11 })
        let back = try SafetensorsReader.read(path: out)
        XCTAssertEqual(back.tensors.map(\.name), ["z.first", "a.second", "m.third"])
        XCTAssertEqual(back.metadata, [:])
        for (x, y) in zip(tensors, back.tensors) {
            XCTAssertEqual(x.data.bytes, y.data.bytes)
            XCTAssertEqual(x.shape, y.shape)
            XCTAssertEqual(x.dtype, y.dtype)
        }
    }

    func testRefusedTablesCreateNothing() throws {
        let a = try record("a", .f32, [1], [0, 0, 0, 0])
        let out = dir.appendingPathComponent("x.safetensors").path
        let dup = expectCheckpointError("duplicate names") { try SafetensorsWriter.write([a, a], to: out) }
        XCTAssertTrue(dup?.description.contains("duplicate tensor name") ?? false)
        XCTAssertEqual(dup?.entry, "a")
        let meta = try record("__metadata__", .f32, [1], [0, 0, 0, 0])
        _ = expectCheckpointError("reserved name") { try SafetensorsWriter.write([meta], to: out) }
        let missing = dir.appendingPathComponent("no/such/dir/x.safetensors").path
        let e = expectCheckpointError("missing directory") { try SafetensorsWriter.write([a], to: missing) }
        XCTAssertTrue(e?.description.hasPrefix(missing) ?? false, "\(String(describing: e))")
        XCTAssertEqual(try directoryListing(), [])
    }

    /// A write that fails halfway (here: the file-size limit, EFBIG) leaves neither the output
    /// nor a temporary file, and an existing output is left as it was.
    func testFailureMidWriteLeavesNoFileBehind() throws {
        let out = dir.appendingPathComponent("big.safetensors").path
        try Data("previous".utf8).write(to: URL(fileURLWithPath: out))
        let big = try record("big", .f32, [1 << 20], [UInt8](repeating: 7, count: 4 << 20))
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        var limited = old
        limited.rlim_cur = 1 << 20
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited), 0)
        let e = expectCheckpointError("file size limit") { try SafetensorsWriter.write([big], to: out) }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        XCTAssertEqual(e?.entry, "big")
        XCTAssertTrue(e?.description.contains("cannot write") ?? false, "\(String(describing: e))")
        XCTAssertEqual(try directoryListing(), ["big.safetensors"])
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "previous")
        // Without the limit the same write replaces the old file.
        try SafetensorsWriter.write([big], to: out)
        XCTAssertEqual(try SafetensorsReader.read(path: out).tensors.first?.byteCount, 4 << 20)
        XCTAssertEqual(try directoryListing(), ["big.safetensors"])
    }

    /// Conversion streams in chunks: a tensor larger than one chunk converts like a small one.
    func testChunkedConversionMatchesElementwise() throws {
        let n = (1 << 18) * 2 + 123
        var floats = [Float](repeating: 0, count: n)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<n { floats[i] = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)) }
        let t = try TensorRecord(name: "w", dtype: .f32, shape: [n], data: floats.withUnsafeBytes { ByteBuffer.copying($0) }.whole)
        let out = dir.appendingPathComponent("bf16.safetensors").path
        try SafetensorsWriter.write([t], to: out, dtype: .bf16)
        let back = try SafetensorsReader.read(path: out).tensors[0]
        XCTAssertEqual(back.dtype, .bf16)
        let p = back.data.pointer
        for i in 0..<n {
            let got = p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
            let want = ElementConversion.f32ToBF16(floats[i])
            if got != want { XCTFail("element \(i): \(got) != \(want)"); break }
        }
    }

    func testStreamingToF64IsExactAndChunked() throws {
        let values: [Float] = [1.5, -0.0, .infinity, 1e-40, 3.4e38, .nan]
        let t = try TensorRecord(name: "w", dtype: .f32, shape: [values.count],
                                 data: values.withUnsafeBytes { ByteBuffer.copying($0) }.whole)
        var out: [UInt8] = []
        var chunks = 0
        DTypeConversion.stream(t.data, from: .f32, to: .f64, count: values.count, chunkElements: 4) { out += $0; chunks += 1 }
        XCTAssertEqual(chunks, 2)
        let doubles = out.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        for (d, f) in zip(doubles, values) {
            if f.isNaN { XCTAssertTrue(d.isNaN) } else { XCTAssertEqual(d, Double(f)); XCTAssertEqual(d.sign, f.sign) }
        }
    }
}
