/// Bounds the pickle machine enforces on untrusted input. The defaults are far above what any
/// real checkpoint needs (a 20k-tensor state dict uses ~200k memo slots and a stack of a few
/// thousand) and far below what would exhaust memory.
public struct PickleLimits: Sendable {
    /// Values on the stack, marks included.
    public var maxStack = 1 << 20
    /// Open MARKs at once.
    public var maxMarks = 1 << 16
    /// Memo entries (BINPUT/MEMOIZE).
    public var maxMemo = 1 << 22
    /// Compound values the heap may hold.
    public var maxNodes = 1 << 24
    /// Bytes of one string or bytes value.
    public var maxStringBytes = 1 << 28
    /// Bytes of one integer (LONG1/LONG4/text LONG). Python caps decimal text at 4300 digits.
    public var maxIntegerBytes = 2048
    /// Nesting depth of containers, checked while building and on every walk.
    public var maxNesting = 256
    /// Nodes one walk (flattening, rendering) may visit: defeats billion-laughs sharing.
    public var maxWalkNodes = 1 << 20

    public init() {}
}

/// A refused or malformed pickle. The reader wraps it into a `CheckpointError` naming the file.
public struct PickleError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    /// Byte offset of the opcode at fault, in the buffer the machine ran over.
    public var offset: Int?
    /// Set when the fault lies in another entry than the pickle (a storage record).
    public var entry: String?

    public init(_ reason: String, offset: Int? = nil, entry: String? = nil) {
        self.reason = reason
        self.offset = offset
        self.entry = entry
    }

    public var description: String {
        var s = reason
        if let offset { s += " (at byte \(offset))" }
        return s
    }
}
