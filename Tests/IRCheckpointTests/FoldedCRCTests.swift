import IRCheckpoint
import IRTensor
import XCTest

/// ZipCRC folds with PCLMULQDQ where the CPU has it: every length (below, at and around the
/// 64-byte minimum and the 16-byte steps), every start alignment, and the cross-core split must
/// equal plain zlib.
final class FoldedCRCTests: XCTestCase {
    func testFoldedCRCEqualsZlibAtEveryLengthAndAlignment() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let buf = ByteBuffer.make(count: 1 << 16) { p in
            for i in 0..<p.count {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                p[i] = UInt8(truncatingIfNeeded: state >> 33)
            }
        }
        var lengths = Array(0...300) + [511, 512, 513, 1023, 4096, 4111, 65000]
        lengths.append(contentsOf: (0..<50).map { _ in Int.random(in: 0...60000) })
        for n in lengths {
            for start in [0, 1, 3, 8, 15, 17] where start + n <= buf.count {
                let view = buf.whole.slice(offset: start, count: n)!
                XCTAssertEqual(ZipCRC.checksum(view), ZipCRC.checksumSerial(view), "length \(n) at \(start)")
            }
        }
        // 24 MiB: split across cores, each part folded, recombined.
        let big = ByteBuffer.make(count: 24 << 20) { p in
            for i in stride(from: 0, to: p.count, by: 97) { p[i] = UInt8(truncatingIfNeeded: i &* 31) }
        }
        XCTAssertEqual(ZipCRC.checksum(big.whole), ZipCRC.checksumSerial(big.whole))
    }
}
