import XCTest
import IRRuntime

/// AnyIR's frequency branch `irfft2(rfft2(A) + rfft2(G), s=(H, W))` (torch defaults, norm
/// "backward") equals `A + G`: the transform is linear and irfft2 inverts rfft2 on real input.
/// This is why the model may compute the sum (`FrequencyBranch.sum`); AnyIRGoldenTests checks
/// both paths on a whole network.
final class AnyIRFrequencyBranchTests: XCTestCase {
    /// A fixed pseudo-random map in [-2, 2) (SplitMix64), so failures reproduce.
    func randomMap(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var state = seed
        let n = shape.reduce(1, *)
        let values = (0..<n).map { _ -> Float in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) / Float(1 << 24) * 4 - 2
        }
        return try Tensor(shape: shape, values: values)
    }

    func testTransformPairOfASumIsTheSum() throws {
        let ctx = ComputeContext()
        // Even and odd sides (the Hermitian half-spectrum differs), square and not, one pixel.
        for (i, hw) in [(8, 8), (24, 32), (21, 30), (5, 7), (1, 1), (3, 16)].enumerated() {
            let a = try randomMap([2, 3, hw.0, hw.1], seed: UInt64(2 * i + 1))
            let g = try randomMap([2, 3, hw.0, hw.1], seed: UInt64(2 * i + 2))
            let spectral = try ctx.irfft2(try ctx.add(try ctx.rfft2(a), try ctx.rfft2(g)), size: Size2(hw.0, hw.1))
            let sum = try ctx.add(a, g)
            var worst: Float = 0
            for k in 0..<sum.count { worst = max(worst, abs(spectral.pointer[k] - sum.pointer[k])) }
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(hw.0)x\(hw.1): max |irfft2(rfft2 a + rfft2 g) - (a + g)| = \(worst)")
        }
    }

    /// The identity is not vacuous: the spectra of A and G differ from the spectrum of either.
    func testSpectraOfTheBranchesDiffer() throws {
        let ctx = ComputeContext()
        let a = try randomMap([1, 1, 8, 8], seed: 11), g = try randomMap([1, 1, 8, 8], seed: 12)
        let fa = try ctx.rfft2(a), fs = try ctx.rfft2(try ctx.add(a, g))
        var gap: Float = 0
        for k in 0..<fa.count { gap = max(gap, abs(fa.pointer[k] - fs.pointer[k])) }
        XCTAssertGreaterThan(gap, 0.5)
    }
}
