/// A store operation that could not be done. `description` is the one line the CLI prints.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// No model of that name is installed.
        case notFound
        /// The name is taken by a model with other weights.
        case nameTaken
        /// The name cannot be used as a model name.
        case invalidName
        /// A manifest or the store layout cannot be read (damaged, or from a newer irzoo).
        case unreadable
        /// A file-system operation failed.
        case io
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
