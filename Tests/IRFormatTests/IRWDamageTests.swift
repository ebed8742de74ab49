import Foundation
import IRFormat
import IRTensor
import IRTestSupport
import XCTest

/// Damage anywhere in a file is found: at open (preamble, header) or by verification (tensor
/// bytes, padding), and the report names the tensor.
final class IRWDamageTests: XCTestCase {
    /// Flips one bit in every byte of the fixture in turn: not one flip goes unnoticed.
    func testEveryBitFlipInTheFixtureIsDetected() throws {
        let original = try readFixture("v1-all-dtypes.irw")
        let clean = try IRWFile.open(bytes: original)
        let dataStart = clean.dataOffset
        var atOpen = 0, byVerify = 0
        for i in original.indices {
            var bytes = original
            bytes[i] ^= UInt8(1 << (i % 8))
            let file: IRWFile
            do { file = try IRWFile.open(bytes: bytes) } catch let e as IRWError {
                atOpen += 1
                XCTAssertTrue(i < dataStart || i >= clean.dataOffset + clean.dataLength, "byte \(i) in the data section failed at open: \(e)")
                continue
            }
            let report = file.verify(threads: 2)
            XCTAssertFalse(report.isIntact, "flip at byte \(i) went unnoticed")
            byVerify += 1
            let rel = i - dataStart
            if let owner = clean.tensors.first(where: { rel >= $0.offset && rel < $0.offset + $0.length }) {
                XCTAssertEqual(report.damagedTensors, [owner.name], "byte \(i)")
                XCTAssertThrowsError(try file.checkedRecord(named: owner.name)) { XCTAssertEqual(($0 as? IRWError)?.kind, .damaged) }
            } else {
                XCTAssertEqual(report.damagedTensors, [], "byte \(i) is padding")
                XCTAssertEqual(report.damagedPadding.count, 1, "byte \(i)")
            }
        }
        XCTAssertEqual(atOpen + byVerify, original.count)
        XCTAssertEqual(byVerify, clean.dataLength)
    }

    /// Every truncation of the fixture is refused at open, as truncated or not-an-irw.
    func testEveryTruncationIsRefusedAtOpen() throws {
        let original = try readFixture("v1-all-dtypes.irw")
        for n in 0..<original.count {
            XCTAssertThrowsError(try IRWFile.open(bytes: Array(original[0..<n])), "\(n) bytes") { error in
                let kind = (error as? IRWError)?.kind
                XCTAssertTrue(kind == .truncated || kind == .notIRW, "\(n) bytes: \(error)")
            }
        }
        // And an appended byte is refused too (nothing may follow the header).
        XCTAssertThrowsError(try IRWFile.open(bytes: original + [0]))
    }

    func testVerificationOnDemandChecksOnlyTheTensorAsked() throws {
        var bytes = try readFixture("v1-all-dtypes.irw")
        let clean = try IRWFile.open(bytes: bytes)
        let half = clean.tensors[try XCTUnwrap(clean.index(of: "half"))]
        bytes[clean.dataOffset + half.offset + 1] ^= 0x40
        let file = try IRWFile.open(bytes: bytes)
        XCTAssertNoThrow(try file.checkedRecord(named: "brain"))
        XCTAssertThrowsError(try file.checkedRecord(named: "half")) { error in
            XCTAssertEqual("\(error)", "test.irw: tensor 'half': bytes do not match the recorded SHA-256 (the file is damaged)")
        }
        XCTAssertThrowsError(try file.checkedRecord(named: "nope"))
        XCTAssertEqual(file.verify().problems, ["tensor 'half': bytes do not match the recorded SHA-256"])
    }

    /// Many tensors over several workers: the same answer as one worker, and progress adds up.
    func testParallelVerificationFindsEveryDamagedTensor() throws {
        let dir = TestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("many.irw").path
        let records = try (0..<64).map { i -> TensorRecord in
            let n = 1000 + i * 997
            let buf = ByteBuffer.make(count: n * 4) { p in for j in 0..<n { p.storeBytes(of: Float(i * j), toByteOffset: j * 4, as: Float.self) } }
            return try TensorRecord(name: "layer\(i).weight", dtype: .f32, shape: [n], data: buf.whole)
        }
        try IRWWriter.write(records, metadata: IRWMetadata(source: IRWSource(fileName: "m", sha256: String(repeating: "0", count: 64), container: "irw")), to: path)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let clean = try IRWFile.open(bytes: bytes)
        let hitNames = [3, 17, 40, 63].map { "layer\($0).weight" }
        for name in hitNames {
            let t = clean.tensors[clean.index(of: name)!]
            bytes[clean.dataOffset + t.offset + t.length / 2] ^= 1
        }
        let damaged = try IRWFile.open(bytes: bytes)
        for threads in [1, 2, 4] {
            final class Progress: @unchecked Sendable { var last = 0; let lock = NSLock() }
            let seen = Progress()
            let report = damaged.verify(threads: threads) { done, total in
                seen.lock.lock(); seen.last = max(seen.last, done); seen.lock.unlock()
                XCTAssertLessThanOrEqual(done, total)
            }
            XCTAssertEqual(Set(report.damagedTensors), Set(hitNames), "\(threads) threads")
            XCTAssertEqual(report.damagedTensors.count, hitNames.count)
            XCTAssertEqual(seen.last, report.bytesChecked)
        }
    }
}
