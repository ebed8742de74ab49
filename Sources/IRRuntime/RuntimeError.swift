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
