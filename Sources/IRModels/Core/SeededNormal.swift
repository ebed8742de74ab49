import Foundation

/// irzoo's own reproducible standard-normal generator (the `seeded-normal` pos_embed default of
/// SE-SymUNet, docs/ARCHITECTURES.md). Upstream draws these values from torch's global RNG, whose
/// AVX2 and scalar paths differ, so no runtime can match it; this one is specified exactly so that
/// any language can reproduce it (Tools/pos_embed_default.py does, in Python):
///
/// - state: SplitMix64 seeded with `seed XOR fnv1a64(utf8(stream))` (the module path);
/// - uniforms from the top 53 bits: `u1 = ((next() >> 11) + 1) · 2⁻⁵³` in (0, 1],
///   `u2 = (next() >> 11) · 2⁻⁵³` in [0, 1);
/// - Box–Muller in Double: `r = √(−2 ln u1)`, values `r·cos(2πu2)` then `r·sin(2πu2)`, each
///   rounded to Float; the tensor is filled in row-major order.
public struct SeededNormal {
    private var state: UInt64
    private var spare: Double?

    public init(seed: UInt64, stream: String) {
        state = seed ^ SeededNormal.fnv1a64(stream)
    }

    /// 64-bit FNV-1a of the UTF-8 bytes.
    public static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// SplitMix64 (Steele, Lea, Flood 2014).
    public mutating func nextUInt64() -> UInt64 {
        state = state &+ 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    public mutating func next() -> Float {
        if let s = spare {
            spare = nil
            return Float(s)
        }
        let u1 = Double((nextUInt64() >> 11) + 1) * 0x1p-53
        let u2 = Double(nextUInt64() >> 11) * 0x1p-53
        let r = (-2 * Foundation.log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spare = r * Foundation.sin(angle)
        return Float(r * Foundation.cos(angle))
    }

    /// `count` values in order.
    public mutating func fill(_ p: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { p[i] = next() }
    }
}
