import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

final class ZipArchiveTests: XCTestCase {
    private func archive(_ bytes: [UInt8]) throws -> ZipArchive {
        try ZipArchive(buffer: ByteBuffer.copying(bytes), path: "test.zip")
    }

    func testReadsTorchArchiveThroughTheCentralDirectory() throws {
        let zip = try ZipArchive(path: TorchFixture.path("dtypes.pt"))
        XCTAssertEqual(zip.entries.first?.name, "dtypes/data.pkl")
        XCTAssertTrue(zip.entries.allSatisfy { $0.isStored })
        // torch's writer uses data descriptors (zeros in local headers) for every non-empty member.
        XCTAssertTrue(zip.entries.filter { $0.uncompressedSize > 0 }.allSatisfy { $0.flags & 0x08 != 0 })
        let e = try XCTUnwrap(zip.entry(named: "dtypes/byteorder"))
        let v = try zip.data(of: e)
        XCTAssertEqual(String(decoding: v.bytes, as: UTF8.self), "little")
        XCTAssertTrue(v.buffer === zip.buffer, "stored members are views of the mapping")
        XCTAssertEqual(v.offset % 64, 0, "torch aligns member data to 64 bytes")
    }

    func testZip64AndDeflatedCopiesHoldTheSameBytes() throws {
        let plain = try ZipArchive(path: TorchFixture.path("dtypes.pt"))
        for variant in ["dtypes_zip64.pt", "dtypes_deflated.pt"] {
            let other = try ZipArchive(path: TorchFixture.path(variant))
            XCTAssertEqual(other.entries.map(\.name), plain.entries.map(\.name), variant)
            for e in plain.entries {
                XCTAssertEqual(try other.data(named: e.name).bytes, try plain.data(of: e).bytes, "\(variant): \(e.name)")
            }
        }
        let deflated = try ZipArchive(path: TorchFixture.path("dtypes_deflated.pt"))
        XCTAssertTrue(deflated.entries.contains { $0.method == 8 })
    }

    func testUnsafeNamesAreRefused() {
        for name in ["../evil", "a/../../evil", "/etc/passwd", "\\\\server\\share", "C:/windows", "a\\..\\b", "x/\u{0}y"] {
            var w = TestZipWriter()
            w.add("archive/data.pkl", [0x80, 0x02, 0x4E, 0x2E])
            w.add(name, [1, 2, 3])
            XCTAssertThrowsError(try archive(w.build()), name) { e in
                XCTAssertTrue("\(e)".contains("refusing unsafe entry name"), "\(name): \(e)")
            }
        }
    }

    func testDuplicateNamesAreRefused() {
        var w = TestZipWriter()
        w.add("a/x", [1])
        w.add("a/x", [2])
        XCTAssertThrowsError(try archive(w.build())) { XCTAssertTrue("\($0)".contains("duplicate entry name"), "\($0)") }
    }

    func testCRCMismatchIsFoundOnRead() throws {
        var w = TestZipWriter()
        w.add("a/data", Array(repeating: 7, count: 100))
        var bytes = w.build()
        bytes[30 + 6 + 50] ^= 0x01  // a byte in the member's data
        let zip = try archive(bytes)
        XCTAssertThrowsError(try zip.data(named: "a/data")) { e in
            XCTAssertTrue("\(e)".contains("test.zip: a/data: CRC-32 mismatch"), "\(e)")
        }
        XCTAssertEqual(try zip.data(named: "a/data", verifyCRC: false).count, 100)
    }

    func testTruncatedAndForeignFiles() {
        XCTAssertThrowsError(try archive([0x50, 0x4B, 0x03, 0x04, 0, 0])) { XCTAssertTrue("\($0)".contains("too short")) }
        var w = TestZipWriter()
        w.add("a/data", Array(repeating: 1, count: 64))
        let full = w.build()
        XCTAssertThrowsError(try archive(Array(full.prefix(full.count - 5)))) {
            XCTAssertTrue("\($0)".contains("no end-of-central-directory record"), "\($0)")
        }
        // Central directory pointing past the end.
        var bad = full
        bad[bad.count - 6] = 0xFF
        XCTAssertThrowsError(try archive(bad)) { XCTAssertTrue("\($0)".contains("central directory"), "\($0)") }
    }

    func testCRCOfLargeBuffersMatchesAcrossThreadSplits() {
        // 40 MiB is split across cores and recombined with crc32_combine; it must equal one pass.
        let n = 40 << 20
        let buf = ByteBuffer.make(count: n) { p in
            for i in stride(from: 0, to: n, by: 4093) { p[i] = UInt8(truncatingIfNeeded: i >> 7) }
        }
        XCTAssertEqual(ZipCRC.checksum(buf.whole), ZipCRC.checksumSerial(buf.whole))
        XCTAssertEqual(ZipCRC.checksum(ByteBuffer.copying(Array("123456789".utf8)).whole), 0xCBF4_3926)  // the standard check value
    }
}
