import XCTest
import IRCheckpoint

/// Container sniffing at the edges: a safetensors header whose length has 0x80 as its low byte
/// (the tiny bigG text-encoder golden has one) is not a pickle.
final class ContainerSniffTests: XCTestCase {
    func sniff(_ bytes: [UInt8]) -> ContainerFormat? { bytes.withUnsafeBytes { CheckpointReader.sniff($0) } }

    func testSafetensorsHeaderLengthEndingIn0x80() {
        XCTAssertEqual(sniff([0x80, 0x16, 0, 0, 0, 0, 0, 0] + Array("{\"a\"".utf8)), .safetensors)
        XCTAssertEqual(sniff([0x88, 0x16, 0, 0, 0, 0, 0, 0] + Array("{\"a\"".utf8)), .safetensors)
        // A legacy torch file: PROTO 2, then the LONG1 magic number.
        XCTAssertEqual(sniff([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8]), .torchLegacy)
    }
}
