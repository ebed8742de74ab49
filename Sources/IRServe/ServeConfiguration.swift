import Foundation

/// What `irzoo serve` was asked for, and the limits it enforces on every request.
public struct ServeConfiguration: Sendable {
    /// Where the server listens; loopback unless the user says otherwise.
    public var host: String
    /// 0 asks the system for a free port (tests, benchmarks).
    public var port: Int
    /// Required on every request when set (and always when `host` is not loopback).
    public var token: String?
    /// The whole multipart request body, image and reference together.
    public var maxUploadBytes: Int
    /// Decoded pixels of one image (width × height), checked on the header before decoding.
    public var maxPixels: Int
    /// Jobs waiting or running, all models together; one more is answered 429.
    public var queueCapacity: Int
    /// Finished jobs kept (with their files) for status and download; the oldest go first.
    public var keepFinished: Int
    /// Where the private temp folder is made (`$TMPDIR`, else /tmp).
    public var temporaryRoot: String

    public init(host: String = "127.0.0.1", port: Int = 8080, token: String? = nil,
                maxUploadBytes: Int = 256 << 20, maxPixels: Int = 64_000_000,
                queueCapacity: Int = 64, keepFinished: Int = 256,
                temporaryRoot: String = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") {
        self.host = host
        self.port = port
        self.token = token
        self.maxUploadBytes = maxUploadBytes
        self.maxPixels = maxPixels
        self.queueCapacity = queueCapacity
        self.keepFinished = keepFinished
        self.temporaryRoot = temporaryRoot
    }

    /// True for addresses only this machine can reach.
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        return h == "localhost" || h == "::1" || h == "[::1]" || h.hasPrefix("127.")
    }

    /// 0.0.0.0 or :: : every interface, so no fixed list of names the server answers to.
    public static func isWildcard(_ host: String) -> Bool {
        ["0.0.0.0", "::", "[::]", "*"].contains(host)
    }

    /// Refuses configurations that would expose the server without a token.
    public func validated() throws -> ServeConfiguration {
        if !Self.isLoopback(host) && (token ?? "").isEmpty {
            throw ServeError.configuration("--host \(host) makes the server reachable from other machines; it needs --token (checked on every request)")
        }
        if let token, token.count < 16 {
            throw ServeError.configuration("--token must be at least 16 characters (e.g. `openssl rand -hex 16`)")
        }
        if let token, token.contains(where: { !$0.isASCII || $0.isWhitespace || $0 == ";" || $0 == "," || $0 == "\"" }) {
            throw ServeError.configuration("--token must be printable ASCII without spaces, quotes, ',' or ';'")
        }
        guard (0...65535).contains(port) else { throw ServeError.configuration("--port must be 0...65535") }
        guard maxUploadBytes > 0, maxPixels > 0, queueCapacity > 0, keepFinished >= 0 else {
            throw ServeError.configuration("limits must be positive")
        }
        return self
    }
}

public enum ServeError: Error, CustomStringConvertible {
    case configuration(String)
    case startup(String)

    public var description: String {
        switch self {
        case .configuration(let s), .startup(let s): return s
        }
    }
}
