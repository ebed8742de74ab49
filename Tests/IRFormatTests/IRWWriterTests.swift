#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IRFormat
import IRTensor
import IRTestSupport
import XCTest

final class IRWWriterTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = TestSupport.makeTempDir() }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    let metadata = IRWMetadata(architecture: "raw", variant: "tiny", config: .object([("width", .int(8))]),
                               source: IRWSource(fileName: "src.pth", sha256: String(repeating: "ab", count: 32), container: "torch-zip", size: 10, wrapper: "params"),
                               keyMapping: ["strip prefix 'net.'"], notes: ["dtype kept"])

    private func entries() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.sorted() ?? [] }

    private func record(_ name: String, _ dtype: DType, _ shape: [Int], seed: Int = 1) throws -> TensorRecord {
        let n = ShapeMath.byteCount(shape, dtype)!
        let buf = ByteBuffer.make(count: n) { p in for i in 0..<n { p[i] = UInt8(truncatingIfNeeded: i &* 31 &+ seed) } }
        return try TensorRecord(name: name, dtype: dtype, shape: shape, data: buf.whole)
    }

    func testRoundTripKeepsEveryDtypeShapeAndByte() throws {
        var records = try DType.allCases.enumerated().map { try record("t.\($0.element.rawValue)", $0.element, [3, $0.offset + 1], seed: $0.offset) }
        records.append(try record("scalar", .f64, []))
        records.append(try record("empty", .f32, [0, 7]))
        records.append(try record("after.empty", .u8, [5]))
        let path = dir.appendingPathComponent("m.irw").path
        let result = try IRWWriter.write(records, metadata: metadata, to: path)
        XCTAssertEqual(entries(), ["m.irw"], "no temp file is left")
        XCTAssertEqual(result.fileSize, DurableFile.size(of: path))

        let file = try IRWFile.open(path: path)
        XCTAssertEqual(file.digest, result.digest)
        // Format 1.1: content only, tensors in name order (by UTF-8 bytes).
        XCTAssertEqual(file.metadata, IRWMetadata(architecture: metadata.architecture, variant: metadata.variant, config: metadata.config, provenance: nil))
        XCTAssertEqual(file.tensors.map { $0.name }, records.map { $0.name }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        for r in records {
            let got = file.record(try XCTUnwrap(file.index(of: r.name)))
            XCTAssertEqual(got.dtype, r.dtype)
            XCTAssertEqual(got.shape, r.shape)
            XCTAssertEqual(got.data.bytes, r.data.bytes)
            XCTAssertEqual(got.data.offset % 64, 0, "\(r.name) is 64-byte aligned in the file")
            XCTAssertEqual(Int(bitPattern: got.data.pointer) % 64, 0, "and in memory")
        }
        XCTAssertTrue(file.verify().isIntact)
        XCTAssertEqual(try loadSchema("irw-header.schema.json").validate(file.header.json), [])
    }

    /// Tensor bytes are produced one at a time and released before the next is produced.
    func testWriterHoldsOneProducedTensorAtATime() throws {
        final class Tracker { weak var previous: ByteBuffer?; var produced = 0; var overlaps = 0 }
        let tracker = Tracker()
        let inputs = (0..<20).map { i in
            IRWTensorInput(name: "w\(i)", dtype: .f32, shape: [256, 256]) {
                if tracker.previous != nil { tracker.overlaps += 1 }
                let buf = ByteBuffer.make(count: 256 * 256 * 4) { $0.baseAddress!.storeBytes(of: UInt32(i), as: UInt32.self) }
                tracker.previous = buf
                tracker.produced += 1
                return buf.whole
            }
        }
        let path = dir.appendingPathComponent("stream.irw").path
        try IRWWriter.write(inputs, metadata: { self.metadata }, to: path)
        XCTAssertEqual(tracker.produced, 20)
        XCTAssertEqual(tracker.overlaps, 0, "a produced tensor was still alive when the next was produced")
        XCTAssertTrue(try IRWFile.open(path: path).verify().isIntact)
    }

    func testAFailingTensorLeavesNothingBehind() throws {
        struct Boom: Error {}
        let good = try record("a", .f32, [64])
        let path = dir.appendingPathComponent("x.irw").path
        let inputs = [IRWTensorInput(good), IRWTensorInput(name: "b", dtype: .f32, shape: [4]) { throw Boom() }]
        XCTAssertThrowsError(try IRWWriter.write(inputs, metadata: { self.metadata }, to: path)) { XCTAssertTrue($0 is Boom) }
        XCTAssertEqual(entries(), [])
        let lying = [IRWTensorInput(name: "b", dtype: .f32, shape: [4]) { good.data }]
        XCTAssertThrowsError(try IRWWriter.write(lying, metadata: { self.metadata }, to: path)) { error in
            XCTAssertEqual((error as? IRWError)?.kind, .invalidInput)
            XCTAssertTrue("\(error)".contains("tensor 'b': produced 256 bytes"), "\(error)")
        }
        XCTAssertEqual(entries(), [])
    }

    func testInvalidTablesAreRefusedBeforeWriting() throws {
        let a = try record("a", .f32, [2])
        let path = dir.appendingPathComponent("x.irw").path
        XCTAssertThrowsError(try IRWWriter.write([a, a], metadata: metadata, to: path)) { XCTAssertTrue("\($0)".contains("tensor 'a': duplicate tensor name")) }
        let huge = IRWTensorInput(name: "h", dtype: .f32, shape: [Int.max / 2, 3]) { a.data }
        XCTAssertThrowsError(try IRWWriter.write([huge], metadata: { self.metadata }, to: path)) { XCTAssertTrue("\($0)".contains("overflows")) }
        XCTAssertEqual(entries(), [])
    }

    func testExistingTargetIsReplacedAtomically() throws {
        let path = dir.appendingPathComponent("m.irw").path
        let first = try IRWWriter.write([try record("a", .f32, [2])], metadata: metadata, to: path)
        let second = try IRWWriter.write([try record("b", .f32, [3])], metadata: metadata, to: path)
        XCTAssertNotEqual(first.digest, second.digest)
        XCTAssertEqual(try IRWFile.open(path: path).tensors.map { $0.name }, ["b"])
        XCTAssertEqual(entries(), ["m.irw"])
    }

    /// `ulimit -f` reached mid-write: a clear EFBIG error, not a SIGXFSZ death, and no debris.
    func testFileSizeLimitGivesAClearErrorAndNoPartialFile() throws {
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        var small = old
        small.rlim_cur = 256 << 10
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small), 0)
        defer { var o = old; setrlimit(Int32(RLIMIT_FSIZE.rawValue), &o) }
        let big = try record("big", .f32, [1 << 18]) // 1 MiB
        let path = dir.appendingPathComponent("big.irw").path
        XCTAssertThrowsError(try IRWWriter.write([big], metadata: metadata, to: path)) { error in
            let e = error as? FileWriteError
            XCTAssertEqual(e?.code, EFBIG, "\(error)")
            XCTAssertTrue("\(error)".contains("ulimit -f"), "\(error)")
        }
        XCTAssertEqual(entries(), [])
    }
}
