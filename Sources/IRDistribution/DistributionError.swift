/// A push or pull that could not be done. `description` is the one line the CLI prints.
public struct DistributionError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The reference, an option or the credentials given are malformed.
        case usage
        /// The registry has no such repository, tag or blob.
        case notFound
        /// What the registry sent is refused: a digest or size that does not match, a manifest
        /// that is not an irzoo model, malformed JSON. Nothing was installed.
        case refused
        /// The registry refused the credentials (401) or the access (403).
        case denied
        /// The registry kept failing (429, 5xx, dropped connections) after every retry, or
        /// answered something the protocol does not allow.
        case registry
    }

    public let kind: Kind
    public let message: String
    /// The registry's HTTP status, when the error is its answer.
    public let httpStatus: UInt?

    public init(_ kind: Kind, _ message: String, httpStatus: UInt? = nil) {
        self.kind = kind
        self.message = message
        self.httpStatus = httpStatus
    }

    public var description: String { message }
}
