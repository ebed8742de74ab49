import XCTest
import IRTensor

final class IRTensorTests: XCTestCase {
    func testShapeMathRejectsOverflowAndNegatives() {
        XCTAssertEqual(ShapeMath.elementCount([2, 3, 4]), 24)
        XCTAssertEqual(ShapeMath.elementCount([]), 1)
        XCTAssertEqual(ShapeMath.elementCount([0, 5]), 0)
        XCTAssertNil(ShapeMath.elementCount([-1, 2]))
        XCTAssertNil(ShapeMath.elementCount([Int.max / 2, 3]))
        XCTAssertNil(ShapeMath.byteCount([Int.max / 4 + 1], .f32))
    }

    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256Hasher.hex(of: UnsafeRawBufferPointer(start: nil, count: 0)),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let abc = Array("abc".utf8)
        XCTAssertEqual(abc.withUnsafeBytes { SHA256Hasher.hex(of: $0) },
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testBF16RoundsToNearestEven() {
        // 1 + 2^-8 is halfway between two bf16 values: ties go to the even one (1.0).
        XCTAssertEqual(ElementConversion.f32ToBF16(1 + 1.0 / 256), 0x3F80)
        XCTAssertEqual(ElementConversion.f32ToBF16(1 + 3.0 / 256), 0x3F82)
        XCTAssertEqual(ElementConversion.bf16ToF32(0x3F80), 1.0)
        XCTAssertTrue(ElementConversion.bf16ToF32(ElementConversion.f32ToBF16(.nan)).isNaN)
    }

    func testTensorRecordChecksByteCount() throws {
        let buf = ByteBuffer.copying([UInt8](repeating: 0, count: 8))
        XCTAssertNoThrow(try TensorRecord(name: "w", dtype: .f32, shape: [2], data: buf.whole))
        XCTAssertThrowsError(try TensorRecord(name: "w", dtype: .f32, shape: [3], data: buf.whole))
    }

    func testByteSwap() {
        var a: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        a.withUnsafeMutableBytes { ElementConversion.byteSwap($0, elementSize: 4) }
        XCTAssertEqual(a, [4, 3, 2, 1, 8, 7, 6, 5])
    }
}
