/// How far computed floats are from reference ones, with NaN and the infinities compared as
/// values: a NaN must face a NaN and an infinity the same infinity, position for position (XCTest's
/// `==` and `abs(a − b)` both lose that: NaN == NaN is false, and inf − inf is NaN). Every numeric
/// test compares through this one type.
public struct FloatDifference: CustomStringConvertible, Sendable {
    /// Elements compared.
    public private(set) var count = 0
    /// Positions where one side is NaN or ±inf and the other is not the same.
    public private(set) var specialMismatches = 0
    public private(set) var firstSpecialMismatch: (index: Int, got: Float, want: Float)?
    /// NaN and ±inf positions that do match.
    public private(set) var matchedSpecials = 0
    /// Largest |got − want| over pairs finite on both sides.
    public private(set) var maxAbs: Float = 0
    /// Largest |got − want| / max(1, |want|) over finite pairs, and where.
    public private(set) var maxScaled: Float = 0
    public private(set) var maxScaledIndex: Int?

    public init<Got: Sequence, Want: Sequence>(_ got: Got, _ want: Want) where Got.Element == Float, Want.Element == Float {
        GoldenDump.record(got, want)
        var index = 0
        var wants = want.makeIterator()
        for a in got {
            guard let b = wants.next() else { specialMismatches += 1; break }
            defer { index += 1 }
            count += 1
            if !a.isFinite || !b.isFinite {
                // NaN meets NaN, +inf meets +inf, -inf meets -inf; anything else is a mismatch.
                if (a.isNaN && b.isNaN) || (a.isInfinite && a == b) {
                    matchedSpecials += 1
                } else {
                    specialMismatches += 1
                    if firstSpecialMismatch == nil { firstSpecialMismatch = (index, a, b) }
                }
                continue
            }
            let d = abs(a - b)
            if d > maxAbs { maxAbs = d }
            let s = d / Swift.max(1, abs(b))
            if s > maxScaled { maxScaled = s; maxScaledIndex = index }
        }
        if wants.next() != nil { specialMismatches += 1 } // lengths differ
    }

    /// maxAbs, or +inf when any NaN/inf position differs: one number for "how close".
    public var maxAbsOrInfinity: Float { specialMismatches > 0 ? .infinity : maxAbs }
    /// maxScaled, or +inf when any NaN/inf position differs.
    public var maxScaledOrInfinity: Float { specialMismatches > 0 ? .infinity : maxScaled }

    /// True when every NaN/inf matches and every finite pair is within `tolerance`·max(1, |want|).
    public func within(scaled tolerance: Float) -> Bool { specialMismatches == 0 && maxScaled <= tolerance }

    public var description: String {
        var s = "\(count) values: max |Δ| \(maxAbs), max |Δ|/max(1,|want|) \(maxScaled)"
        if matchedSpecials > 0 { s += ", \(matchedSpecials) NaN/inf matched" }
        if let m = firstSpecialMismatch {
            s += ", \(specialMismatches) NaN/inf mismatched (first at \(m.index): got \(m.got), want \(m.want))"
        }
        return s
    }
}
