import XCTest
import IRRuntime

/// Products deeper than the GEMM's depth block (1024 on AVX-512), split into several unequal
/// blocks, against a double-precision reference at every SIMD level: a plain matmul and a padded
/// 3x3 convolution large enough for the banded path with in-place (direct) B tiles.
final class GemmDepthBlockTests: XCTestCase {
    private var reference = ReferenceValues(seed: 7)
    private func values(_ n: Int) -> [Float] { reference.next(n) }

    func testDeepMatmulAgainstReference() throws {
        let (m, n, k) = (130, 150, 2100)
        try assertMatmulMatchesDoubleReference(try Tensor(shape: [m, k], values: values(m * k)),
                                               try Tensor(shape: [k, n], values: values(k * n)))
    }

    func testDeepConvolutionAgainstReference() throws {
        let original = ComputeContext.simdLevel
        defer { ComputeContext.setSIMDLevel(original) }
        // K = 130 * 9 = 1170 (two depth blocks); 40 x 110 output pixels take the banded path on
        // 2 threads, and 110-pixel rows hold whole 64-wide tiles (read in place) and wrapped ones.
        let (o, c, h, w) = (13, 130, 40, 110)
        let x = try Tensor(shape: [1, c, h, w], values: values(c * h * w))
        let wt = try Tensor(shape: [o, c, 3, 3], values: values(o * c * 9))
        let bias = try Tensor(shape: [o], values: values(o))
        var want = [Double](repeating: 0, count: o * h * w), scale = want
        for oc in 0..<o { for ci in 0..<c { for i in 0..<3 { for j in 0..<3 {
            let wv = Double(wt.pointer[((oc * c + ci) * 3 + i) * 3 + j])
            for y in 0..<h {
                let sy = y + i - 1
                if sy < 0 || sy >= h { continue }
                for xx in 0..<w {
                    let sx = xx + j - 1
                    if sx < 0 || sx >= w { continue }
                    let t = wv * Double(x.pointer[(ci * h + sy) * w + sx])
                    want[(oc * h + y) * w + xx] += t
                    scale[(oc * h + y) * w + xx] += abs(t)
                }
            }
        } } } }
        for i in 0..<(o * h * w) { want[i] += Double(bias.pointer[i / (h * w)]) }
        for level in SIMDLevel.allCases where ComputeContext.setSIMDLevel(level) {
            let out = try ComputeContext(threads: 2).conv2d(x, weight: wt, bias: bias, padding: 1)
            XCTAssertEqual(out.shape, [1, o, h, w])
            var worst = 0.0
            for i in 0..<(o * h * w) { worst = max(worst, abs(Double(out.pointer[i]) - want[i]) / max(1, scale[i])) }
            XCTAssertLessThan(worst, 2e-6, "conv \(c)->\(o) \(h)x\(w) at \(level)")
        }
    }
}
