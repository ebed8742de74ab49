/// A refused operation: wrong shapes, bad parameters, a mode the op does not support.
/// `description` is one line naming the operator and the reason, e.g.
/// `conv2d: input has 3 channels but the weight [16, 4, 3, 3] with groups 1 expects 4`.
public struct RuntimeError: Error, CustomStringConvertible, Sendable, Equatable {
    public let op: String
    public let reason: String

    public init(_ op: String, _ reason: String) {
        self.op = op
        self.reason = reason
    }

    public var description: String { "\(op): \(reason)" }
}

/// Throws `RuntimeError(op, reason())` unless `condition` holds.
@inline(__always)
func require(_ condition: Bool, _ op: String, _ reason: @autoclosure () -> String) throws {
    if !condition { throw RuntimeError(op, reason()) }
}

/// Overflow-checked arithmetic for sizes computed from parameters (a stride or padding read from
/// a hostile config must give an error, not a trap).
struct SizeMath {
    let op: String
    init(_ op: String) { self.op = op }

    func add(_ a: Int, _ b: Int) throws -> Int {
        let (r, o) = a.addingReportingOverflow(b)
        if o { throw RuntimeError(op, "size \(a) + \(b) overflows") }
        return r
    }

    func mul(_ a: Int, _ b: Int) throws -> Int {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        if o { throw RuntimeError(op, "size \(a) × \(b) overflows") }
        return r
    }

    /// (size + 2·pad − (dilation·(kernel − 1) + 1)) / stride + 1, or nil when the window does not fit.
    func slidingOutput(size: Int, pad: Int, kernel: Int, stride: Int, dilation: Int) throws -> Int? {
        let padded = try add(size, try mul(2, pad))
        let span = try add(try mul(dilation, kernel - 1), 1)
        if padded < span { return nil }
        return (padded - span) / stride + 1
    }
}
