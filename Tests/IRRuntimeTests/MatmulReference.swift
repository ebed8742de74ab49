import XCTest
import IRRuntime

/// Deterministic values in [-1, 1] (a 64-bit LCG): the same inputs on every machine.
struct ReferenceValues {
    var seed: UInt64
    mutating func next(_ n: Int) -> [Float] {
        (0..<n).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
        }
    }
}

/// `a @ b` ([m, k] x [k, n]) at every SIMD level the CPU has, against a double-precision reference.
/// The error is measured against Σ|a·b| per element, the natural scale of a float dot product's
/// rounding (the result itself may cancel to near zero).
func assertMatmulMatchesDoubleReference(_ a: Tensor, _ b: Tensor, bound: Double = 2e-6,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
    var want = [Double](repeating: 0, count: m * n), scale = want
    for i in 0..<m { for p in 0..<k {
        let av = Double(a.pointer[i * k + p])
        for j in 0..<n {
            let t = av * Double(b.pointer[p * n + j])
            want[i * n + j] += t
            scale[i * n + j] += abs(t)
        }
    } }
    let original = ComputeContext.simdLevel
    defer { ComputeContext.setSIMDLevel(original) }
    for level in SIMDLevel.allCases where ComputeContext.setSIMDLevel(level) {
        let c = try ComputeContext(threads: 2).matmul(a, b)
        var worst = 0.0
        for i in 0..<(m * n) { worst = max(worst, abs(Double(c.pointer[i]) - want[i]) / max(1, scale[i])) }
        XCTAssertLessThan(worst, bound, "\(m)x\(n)x\(k) at \(level)", file: file, line: line)
    }
}
