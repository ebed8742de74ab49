/// Why an .irw file was refused. `description` is the one line the CLI prints:
/// "FILE: ENTRY: REASON", where ENTRY is "preamble", "header" or "tensor 'NAME'".
public struct IRWError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The file could not be opened or mapped.
        case unreadable
        /// Not an .irw file at all (wrong magic, too short to hold a preamble).
        case notIRW
        /// Shorter than its preamble says: an interrupted copy or download.
        case truncated
        /// Inconsistent or hostile structure (overlaps, offsets past the end, overflow, duplicates, bad JSON).
        case malformed
        /// Structurally fine but the bytes do not match their digest.
        case damaged
        /// A newer major version, or a dtype this build does not know.
        case unsupported
        /// A writer was handed invalid tensors (duplicate names, byte counts that do not match shapes).
        case invalidInput
    }

    public let kind: Kind
    public let path: String
    public let entry: String?
    public let reason: String

    public init(_ kind: Kind, path: String, entry: String? = nil, reason: String) {
        self.kind = kind
        self.path = path
        self.entry = entry
        self.reason = reason
    }

    public var description: String {
        var s = path
        if let entry { s += ": \(entry)" }
        return s + ": \(reason)"
    }
}
