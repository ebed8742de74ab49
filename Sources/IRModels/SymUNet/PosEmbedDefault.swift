import Foundation
import IRRegistry

extension SESymUNetConfig {
    /// The positional embedding a guidance/refinement module uses when `--aux` gives none.
    ///
    /// `seeded-normal` (the default): standard normal values, the distribution upstream's
    /// `torch.randn` draws and the weights were trained with, but reproducible and independent of
    /// call order: SplitMix64 seeded with `posEmbedSeed ^ FNV-1a-64(modulePath)`, each pair of
    /// draws turned into two normals by Box-Muller in Double, row-major [1, tokens, patchDim].
    /// Tools/reference/pos_embed.py is the same generator in Python (goldens use it).
    /// `zeros`: no positional term.
    public func defaultPosEmbed(modulePath: String, tokens: Int, patchDim: Int) -> [Float] {
        let (count, overflow) = tokens.multipliedReportingOverflow(by: patchDim)
        guard !overflow, count > 0 else { return [] }
        switch posEmbedDefault {
        case .zeros:
            return [Float](repeating: 0, count: count)
        case .seededNormal:
            return SeededNormal.values(seed: posEmbedSeed ^ SeededNormal.fnv1a64(modulePath), count: count)
        }
    }
}

/// The generator behind `seeded-normal`, spelled out so other languages can reproduce it.
public enum SeededNormal {
    public static func fnv1a64(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    public static func values(seed: UInt64, count: Int) -> [Float] {
        var state = seed
        func next() -> UInt64 {
            state = state &+ 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        // (0, 1]: never 0, so the logarithm is finite.
        func uniform() -> Double { (Double(next() >> 11) + 1) * 0x1p-53 }
        var out = [Float]()
        out.reserveCapacity(count)
        while out.count < count {
            let r = (-2 * Foundation.log(uniform())).squareRoot()
            let theta = 2 * Double.pi * uniform()
            out.append(Float(r * Foundation.cos(theta)))
            if out.count < count { out.append(Float(r * Foundation.sin(theta))) }
        }
        return out
    }
}
