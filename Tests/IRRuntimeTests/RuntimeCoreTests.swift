import XCTest
import IRRuntime
import IRTensor

/// Tensor storage, buffer reuse, errors, and the GEMM blocking paths the small goldens do not reach.
final class RuntimeCoreTests: XCTestCase {
    /// f32 weights are used in place from the mapping; f16/bf16 are widened once.
    func testTensorFromRecordIsZeroCopyForF32() throws {
        let values: [Float] = [1, -2, 3.5, 0.25, 7, -8]
        let buffer = values.withUnsafeBytes { ByteBuffer.copying($0) }
        let record = try TensorRecord(name: "w", dtype: .f32, shape: [2, 3], data: buffer.whole)
        let t = try Tensor(record: record)
        XCTAssertTrue(t.isMapped)
        XCTAssertEqual(UnsafeRawPointer(t.pointer), buffer.base, "no copy")
        XCTAssertEqual(t.scalars, values)

        let halves = values.map { ElementConversion.f32ToF16($0) }
        let hb = halves.withUnsafeBytes { ByteBuffer.copying($0) }
        let h = try Tensor(record: TensorRecord(name: "h", dtype: .f16, shape: [6], data: hb.whole))
        XCTAssertFalse(h.isMapped)
        XCTAssertEqual(h.scalars, values)
        let bf = values.map { ElementConversion.f32ToBF16($0) }
        let bb = bf.withUnsafeBytes { ByteBuffer.copying($0) }
        XCTAssertEqual(try Tensor(record: TensorRecord(name: "b", dtype: .bf16, shape: [3, 2], data: bb.whole)).scalars, values)
    }

    func testTensorRefusesIntegersAndWrongSizes() throws {
        let buffer = ByteBuffer.copying([UInt8](repeating: 0, count: 16))
        XCTAssertThrowsError(try Tensor(bytes: buffer.whole, dtype: .i64, shape: [2])) { e in
            XCTAssertTrue("\(e)".contains("i64"), "\(e)")
        }
        XCTAssertThrowsError(try Tensor(bytes: buffer.whole, dtype: .f32, shape: [5]))
        XCTAssertThrowsError(try Tensor(shape: [2, 2], values: [1, 2, 3]))
        XCTAssertThrowsError(try Tensor(shape: [Int.max, 4], values: []))
        let t = try Tensor(shape: [2, 6], values: Array(repeating: 1, count: 12))
        XCTAssertEqual(try t.reshaped([3, -1]).shape, [3, 4])
        XCTAssertThrowsError(try t.reshaped([5, -1]))
        XCTAssertThrowsError(try t.reshaped([-1, -1]))
    }

    /// Misaligned f32 data (possible in a safetensors file) is copied instead of read unaligned.
    func testMisalignedF32IsCopied() throws {
        var bytes = [UInt8](repeating: 0, count: 1 + 8)
        withUnsafeBytes(of: Float(1.5).bitPattern.littleEndian) { for i in 0..<4 { bytes[1 + i] = $0[i] } }
        withUnsafeBytes(of: Float(-3).bitPattern.littleEndian) { for i in 0..<4 { bytes[5 + i] = $0[i] } }
        let buffer = ByteBuffer.copying(bytes)
        let t = try Tensor(bytes: buffer.whole.slice(offset: 1, count: 8)!, dtype: .f32, shape: [2])
        XCTAssertFalse(t.isMapped)
        XCTAssertEqual(t.scalars, [1.5, -3])
    }

    /// A steady-state forward pass (the same ops at the same sizes) takes every buffer from the pool.
    func testSteadyStateForwardAllocatesNothingNew() throws {
        let ctx = ComputeContext(threads: 2)
        let x = try Tensor(shape: [1, 8, 20, 23], values: (0..<(8 * 20 * 23)).map { Float($0 % 17) / 17 })
        let w1 = try Tensor(shape: [24, 8, 1, 1], values: (0..<192).map { Float($0 % 7) / 10 - 0.3 })
        let dw = try Tensor(shape: [24, 1, 3, 3], values: (0..<216).map { Float($0 % 5) / 10 })
        let w2 = try Tensor(shape: [8, 12, 1, 1], values: (0..<96).map { Float($0 % 3) / 10 })
        let norm = try Tensor(shape: [8], values: Array(repeating: 1, count: 8))
        let temperature = try Tensor(shape: [1, 1, 1], values: [1])
        func block(_ x: Tensor) throws -> Tensor {
            let n = try ctx.channelLayerNorm(x, weight: norm, bias: norm)
            let h = try ctx.conv2d(ctx.conv2d(n, weight: w1), weight: dw, padding: 1, groups: 24, paddingMode: .reflect)
            let a = try ctx.channelAttention(q: ctx.narrow(h, dim: 1, start: 0, length: 8), k: ctx.narrow(h, dim: 1, start: 8, length: 8),
                                             v: ctx.narrow(h, dim: 1, start: 16, length: 8), temperature: temperature, heads: 1)
            let g = try ctx.gated(ctx.concat([a, h], dim: 1), activation: .gelu)
            let y = try ctx.add(x, ctx.conv2d(ctx.narrow(g, dim: 1, start: 0, length: 12), weight: w2))
            return try ctx.pixelUnshuffle(ctx.pixelShuffle(y, 1), 1)
        }
        // Warm-up: one pass, then one more while the first result is still alive (as in the loop).
        let first = try block(block(x))
        _ = try block(block(x))
        let warm = ctx.pool.freshAllocations
        XCTAssertGreaterThan(warm, 0)
        for _ in 0..<3 {
            let again = try block(block(x))
            XCTAssertEqual(again.scalars, first.scalars, "deterministic")
        }
        XCTAssertEqual(ctx.pool.freshAllocations, warm, "buffers after warm-up must come from the pool")
        XCTAssertGreaterThan(ctx.pool.reusedAllocations, 0)
    }

    /// Large products cross every cache block of the packed GEMM (K > KC, M > MC, N > NC) and the
    /// partial edge tiles, at every SIMD level, against a double-precision reference.
    func testGemmBlockingAgainstReference() throws {
        var values = ReferenceValues(seed: 42)
        for (m, n, k) in [(133, 2100, 300), (7, 4099, 513), (300, 37, 1030)] {
            let a = try Tensor(shape: [m, k], values: values.next(m * k))
            let b = try Tensor(shape: [k, n], values: values.next(k * n))
            try assertMatmulMatchesDoubleReference(a, b)
        }
    }

    /// Errors are one line that names the op, and nothing traps on hostile parameters.
    func testErrorsNameTheOp() throws {
        let ctx = ComputeContext()
        let x = try Tensor.zeros([1, 3, 4, 4])
        let cases: [(String, () throws -> Tensor)] = [
            ("conv2d", { try ctx.conv2d(x, weight: Tensor.zeros([2, 4, 3, 3])) }),
            ("conv2d", { try ctx.conv2d(x, weight: Tensor.zeros([2, 3, 3, 3]), stride: 0) }),
            ("conv2d", { try ctx.conv2d(x, weight: Tensor.zeros([2, 3, 3, 3]), padding: 4, paddingMode: .reflect) }),
            ("conv2d", { try ctx.conv2d(x, weight: Tensor.zeros([2, 3, 3, 3]), bias: Tensor.zeros([3])) }),
            ("linear", { try ctx.linear(x, weight: Tensor.zeros([2, 5])) }),
            ("matmul", { try ctx.matmul(x, Tensor.zeros([3, 3])) }),
            ("pixelShuffle", { try ctx.pixelShuffle(x, 2) }),
            ("pixelShuffle", { try ctx.pixelShuffle(x, 0) }),
            ("channelAttention", { try ctx.channelAttention(q: x, k: x, v: x, temperature: Tensor.zeros([2]), heads: 2) }),
            ("windowAttention", { try ctx.windowAttention(q: x, k: x, v: x, heads: 1, window: 3) }),
            ("interpolate", { try ctx.interpolate(x, size: Size2(0, 2), mode: .bilinear) }),
            ("interpolate", { try ctx.interpolate(x, scaleFactor: (h: .nan, w: 1), mode: .nearest) }),
            ("pad", { try ctx.pad(x, [1, 2, 3]) }),
            ("softmax", { try ctx.softmax(x, dim: 4) }),
            ("reshape", { try x.reshaped([7, -1]) }),
            ("narrow", { try ctx.narrow(x, dim: 2, start: 3, length: 2) }),
            ("avgPool2d", { try ctx.avgPool2d(x, kernel: 0) }),
            ("rfft2", { try ctx.rfft2(Tensor.zeros([3])) }),
            ("irfft2", { try ctx.irfft2(Tensor.zeros([2, 3, 2]), size: Size2(0, 4)) }),
            ("convTranspose2d", { try ctx.convTranspose2d(x, weight: Tensor.zeros([3, 2, 3, 3]), stride: 2, outputPadding: 2) }),
            ("groupNorm", { try ctx.groupNorm(x, groups: 0, weight: nil, bias: nil) }),
            ("timestepEmbedding", { try ctx.timestepEmbedding([1], dim: 1) }),
        ]
        for (op, body) in cases {
            XCTAssertThrowsError(try body(), op) { e in
                let text = "\(e)"
                XCTAssertTrue(text.hasPrefix(op + ":"), "\(op): \(text)")
                XCTAssertFalse(text.contains("\n"))
            }
        }
    }
}

/// Hostile parameters (as a corrupt config could give) are errors, never traps.
final class HostileParameterTests: XCTestCase {
    func testHugeParametersAreErrors() throws {
        let ctx = ComputeContext()
        let x = try Tensor(shape: [1, 2, 3, 3], values: Array(repeating: 1, count: 18))
        let w = try Tensor(shape: [2, 2, 1, 1], values: [1, 0, 0, 1])
        let big = Int.max / 2
        XCTAssertThrowsError(try ctx.conv2d(x, weight: w, padding: Size2(big)))
        let w3 = try Tensor.zeros([2, 2, 3, 3])
        XCTAssertThrowsError(try ctx.conv2d(x, weight: w3, dilation: Size2(big)))
        XCTAssertThrowsError(try ctx.convTranspose2d(x, weight: w, stride: Size2(big)))
        XCTAssertThrowsError(try ctx.pad(x, [big, big, 0, 0]))
        XCTAssertThrowsError(try ctx.pad(x, [1, 1, big, 1]))
        XCTAssertThrowsError(try ctx.interpolate(x, scaleFactor: (h: 1e300, w: 1), mode: .nearest))
        XCTAssertThrowsError(try ctx.interpolate(x, size: Size2(1 << 40, 1 << 40), mode: .bilinear))
        XCTAssertThrowsError(try ctx.avgPool2d(x, kernel: 3, padding: Size2(big)))
        XCTAssertThrowsError(try ctx.pixelShuffle(x, 1 << 33))
        XCTAssertThrowsError(try ctx.repeatInterleave(x, big, dim: 1))
        XCTAssertThrowsError(try ctx.windowAttention(q: x, k: x, v: x, heads: 1, window: big))
        XCTAssertThrowsError(try ctx.timestepEmbedding([1, 2], dim: big))
        XCTAssertThrowsError(try ctx.zeros([1 << 30, 1 << 30]))
        XCTAssertThrowsError(try Tensor.zeros([Int.max, 2]))
    }
}
