#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import NIOSSL
import Foundation
import IRFormat
import IRStore
import IRTensor
import NIOCore
import NIOHTTP1

/// How often and how patiently a request is repeated when the registry answers 408, 429 or 5xx
/// or the connection fails: exponential back-off, or the registry's `Retry-After` when it says.
public struct RetryPolicy: Sendable {
    /// Tries in all, the first included.
    public var attempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    /// The longest `Retry-After` honoured; a registry asking for more is waited on this long.
    public var maxRetryAfter: Double

    public init(attempts: Int = 6, baseDelay: Double = 0.25, maxDelay: Double = 8, maxRetryAfter: Double = 60) {
        self.attempts = max(1, attempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// The wait before try `attempt + 1` (attempt counts from 1).
    public func delay(after attempt: Int, retryAfter: Double?) -> Double {
        if let retryAfter { return min(max(retryAfter, 0), maxRetryAfter) }
        return min(baseDelay * Double(1 << min(attempt - 1, 20)), maxDelay)
    }

    public static func isTransient(_ status: UInt) -> Bool { status == 408 || status == 429 || (500...599).contains(status) }
}

/// One registry API request, re-creatable for every retry.
struct RegistryRequest {
    enum Body {
        case bytes([UInt8])
        /// `length` bytes of an open file from `offset`, read as they are sent (and fed to
        /// `hasher`); `progress` gets the bytes sent so far.
        case file(fd: Int32, offset: Int, length: Int, hasher: StreamHasher?, progress: (@Sendable (Int) -> Void)?)
    }

    var method: HTTPMethod
    var url: String
    var headers = HTTPHeaders()
    var body: Body? = nil
    /// False for a chunk upload: a failed PATCH is resumed from the registry's own offset, not re-sent.
    var retryTransient = true
    /// A short name for error messages ("GET manifest team/model:v1").
    var what: String
}

/// The HTTP side of a registry (OCI distribution-spec over async-http-client): authentication
/// (anonymous, HTTP basic, the bearer-token challenge flow), retries with back-off, and redirects
/// followed without ever sending the registry's Authorization header to another host.
public final class RegistryClient: @unchecked Sendable {
    public let reference: OCIReference
    public let credentials: RegistryCredentials?
    public let retry: RetryPolicy
    /// Called with one line when a request is retried or re-authenticated (the CLI shows it).
    public var notice: (@Sendable (String) -> Void)?

    let http: HTTPClient
    private let origin: Origin
    private let state = NSLock()
    private var bearer: AuthChallenge?
    private var tokens: [String: String] = [:]
    private var useBasic = false

    /// `extraCAFile`: PEM certificates trusted besides the system's (`IRZOO_REGISTRY_CA_FILE`,
    /// checked first with `checkCAFile`).
    public init(reference: OCIReference, credentials: RegistryCredentials?, retry: RetryPolicy = RetryPolicy(),
                connectTimeout: Double = 5, readTimeout: Double = 60, extraCAFile: String? = nil) {
        self.reference = reference
        self.credentials = credentials
        self.retry = retry
        self.origin = Origin(reference.baseURL)!
        // HTTP/2 where TLS offers it; the system's CA certificates (NIOSSL's default trust roots),
        // plus those of IRZOO_REGISTRY_CA_FILE (a registry signed by an organisation's own CA).
        var tls = TLSConfiguration.makeClientConfiguration()
        if let extraCAFile { tls.additionalTrustRoots = [.file(extraCAFile)] }
        let config = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow, // followed here, so Authorization stays with the registry
            timeout: .init(connect: .milliseconds(Int64(connectTimeout * 1000)), read: .milliseconds(Int64(readTimeout * 1000))),
            decompression: .disabled)
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }

    /// Checks `IRZOO_REGISTRY_CA_FILE` before any connection, so a wrong file is one clear line.
    public static func checkCAFile(_ path: String) throws {
        do {
            guard !(try NIOSSLCertificate.fromPEMFile(path)).isEmpty else {
                throw DistributionError(.usage, "IRZOO_REGISTRY_CA_FILE \(path) holds no PEM certificate")
            }
        } catch let e as DistributionError { throw e } catch {
            throw DistributionError(.usage, "IRZOO_REGISTRY_CA_FILE \(path) cannot be read as PEM certificates: \(error)")
        }
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    /// `https://HOST/v2/REPO/SUFFIX`.
    func url(_ suffix: String, repository: String? = nil) -> String {
        "\(reference.baseURL)/v2/\(repository ?? reference.repository)/\(suffix)"
    }

    /// "repository:REPO:ACTIONS" (the scope a bearer token is asked for).
    static func scope(_ repository: String, _ actions: String) -> String { "repository:\(repository):\(actions)" }

    // MARK: sending

    /// Sends `request`, authenticating on a 401 challenge, retrying transient failures and
    /// following redirects. The caller reads (or drops) the body of the response it gets.
    func send(_ request: RegistryRequest, scopes: [String]) async throws -> HTTPClientResponse {
        var url = request.url
        var method = request.method
        var body = request.body
        var attempt = 0, redirects = 0
        var authenticated = false
        while true {
            let toRegistry = Origin(url) == origin
            var req = HTTPClientRequest(url: url)
            req.method = method
            req.headers = request.headers
            if toRegistry, let authorization = try await authorization(for: scopes) {
                req.headers.replaceOrAdd(name: "Authorization", value: authorization)
            }
            switch body {
            case .bytes(let b)?:
                req.body = .bytes(NIOCore.ByteBuffer(bytes: b))
                req.headers.replaceOrAdd(name: "Content-Length", value: String(b.count))
            case .file(let fd, let offset, let length, let hasher, let progress)?:
                req.body = .stream(FileChunks(fd: fd, offset: offset, length: length, hasher: hasher, progress: progress),
                                   length: .known(Int64(length)))
            case nil:
                if method == .POST || method == .PUT || method == .PATCH { req.headers.replaceOrAdd(name: "Content-Length", value: "0") }
            }
            let response: HTTPClientResponse
            do {
                response = try await http.execute(req, deadline: .distantFuture)
            } catch {
                if Self.isLocal(error) { throw error }
                if let why = Self.tlsRefusal(error) { throw DistributionError(.registry, "\(request.what): \(why)") }
                attempt += 1
                guard request.retryTransient, attempt < retry.attempts else {
                    throw DistributionError(.registry, "\(request.what): \(Self.describe(error))\(attempt > 1 ? " (after \(attempt) tries)" : "")")
                }
                let wait = retry.delay(after: attempt, retryAfter: nil)
                notice?("\(request.what): \(Self.describe(error)); retrying in \(Self.seconds(wait)) (try \(attempt + 1) of \(retry.attempts))")
                try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                continue
            }
            let status = response.status.code
            if status == 401, toRegistry, !authenticated {
                authenticated = true
                let challenge = response.headers.first(name: "WWW-Authenticate")
                _ = await Self.drain(response)
                try await authenticate(challenge: challenge, scopes: scopes, what: request.what)
                continue
            }
            if [301, 302, 303, 307, 308].contains(status), let location = response.headers.first(name: "Location"),
               method == .GET || method == .HEAD {
                _ = await Self.drain(response)
                redirects += 1
                guard redirects <= 10 else { throw DistributionError(.registry, "\(request.what): more than 10 redirects") }
                guard let next = URL(string: location, relativeTo: URL(string: url))?.absoluteURL.absoluteString,
                      let target = Origin(next) else {
                    throw DistributionError(.registry, "\(request.what): unusable redirect to '\(location)'")
                }
                // Never from HTTPS down to plain HTTP, unless plain HTTP is allowed there anyway.
                if Origin(url)?.scheme == "https", target.scheme == "http", !(reference.plainHTTP || OCIReference.isLoopback(target.host)) {
                    throw DistributionError(.registry, "\(request.what): refused a redirect from HTTPS to plain HTTP (\(target.host))")
                }
                url = next
                if status == 303 { method = .GET; body = nil }
                continue
            }
            if RetryPolicy.isTransient(status), request.retryTransient {
                attempt += 1
                let retryAfter = response.headers.first(name: "Retry-After").flatMap { Double($0.trimmingSpaces) }
                let text = await Self.drain(response)
                guard attempt < retry.attempts else {
                    throw DistributionError(.registry, "\(request.what): \(Self.statusLine(status, text)) (after \(attempt) tries)")
                }
                let wait = retry.delay(after: attempt, retryAfter: retryAfter)
                notice?("\(request.what): \(Self.statusLine(status, text)); retrying in \(Self.seconds(wait)) (try \(attempt + 1) of \(retry.attempts))")
                try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                continue
            }
            return response
        }
    }

    /// Fails with a one-line error unless the response status is one of `ok` (the body is read
    /// for the registry's own error message).
    func expect(_ response: HTTPClientResponse, _ ok: Set<UInt>, _ what: String) async throws {
        let status = response.status.code
        guard !ok.contains(status) else { return }
        let text = await Self.drain(response)
        let line = "\(what): \(Self.statusLine(status, text))"
        switch status {
        case 401:
            let who = credentials.map { "the credentials from \($0.source) were refused" }
                ?? "no credentials given (set IRZOO_REGISTRY_USER and IRZOO_REGISTRY_PASSWORD, or `docker login \(reference.registry)`)"
            throw DistributionError(.denied, "\(line): \(who)", httpStatus: status)
        case 403: throw DistributionError(.denied, line, httpStatus: status)
        case 404: throw DistributionError(.notFound, line, httpStatus: status)
        default: throw DistributionError(.registry, line, httpStatus: status)
        }
    }

    // MARK: authentication

    /// The Authorization header for a request needing `scopes`: a bearer token (fetched now if
    /// the registry asked for bearer tokens before), basic credentials, or none.
    private func authorization(for scopes: [String]) async throws -> String? {
        let (challenge, token, basic) = state.withLock { (bearer, tokens[Self.key(scopes)], useBasic) }
        if let token { return "Bearer \(token)" }
        if let challenge {
            return "Bearer " + (try await fetchToken(challenge, scopes: scopes))
        }
        return basic ? credentials?.basicAuthorization : nil
    }

    private func authenticate(challenge header: String?, scopes: [String], what: String) async throws {
        guard let header, let challenge = AuthChallenge.parse(header) else {
            throw DistributionError(.denied, "\(what): 401 without a WWW-Authenticate challenge irzoo can answer")
        }
        switch challenge.scheme {
        case "bearer":
            state.withLock { bearer = challenge; tokens[Self.key(scopes)] = nil }
            _ = try await fetchToken(challenge, scopes: scopes)
        case "basic":
            guard credentials != nil else {
                throw DistributionError(.denied, "\(what): \(reference.registry) requires credentials (set IRZOO_REGISTRY_USER and IRZOO_REGISTRY_PASSWORD, or `docker login \(reference.registry)`)")
            }
            state.withLock { useBasic = true }
        default:
            throw DistributionError(.denied, "\(what): unsupported authentication scheme '\(challenge.scheme)'")
        }
    }

    /// The token flow (distribution's docs/spec/auth/token.md): GET REALM?service=S&scope=...,
    /// with basic credentials when there are any; the answer's `token` (or `access_token`).
    private func fetchToken(_ challenge: AuthChallenge, scopes: [String]) async throws -> String {
        guard let realm = challenge.parameters["realm"], var parts = URLComponents(string: realm), let realmOrigin = Origin(realm) else {
            throw DistributionError(.denied, "\(reference.registry): bearer challenge without a usable realm")
        }
        if realmOrigin.scheme != "https" && !(reference.plainHTTP || OCIReference.isLoopback(realmOrigin.host)) {
            throw DistributionError(.denied, "\(reference.registry): refused to send credentials to a plain-HTTP token service (\(realm)); use --insecure if you mean it")
        }
        var wanted = scopes
        for s in (challenge.parameters["scope"] ?? "").split(separator: " ").map(String.init) where !wanted.contains(s) { wanted.append(s) }
        var query = parts.queryItems ?? []
        if let service = challenge.parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        for s in wanted { query.append(URLQueryItem(name: "scope", value: s)) }
        parts.queryItems = query
        // '+' in a scope or service would read as a space on the other side.
        parts.percentEncodedQuery = parts.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        guard let tokenURL = parts.url?.absoluteString else { throw DistributionError(.denied, "\(reference.registry): bad token realm '\(realm)'") }
        var request = HTTPClientRequest(url: tokenURL)
        request.method = .GET
        if let credentials { request.headers.add(name: "Authorization", value: credentials.basicAuthorization) }
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPClientResponse
            do { response = try await http.execute(request, deadline: .distantFuture) } catch {
                if let why = Self.tlsRefusal(error) { throw DistributionError(.registry, "token service \(realmOrigin.host): \(why)") }
                guard attempt < retry.attempts else { throw DistributionError(.registry, "token service \(realmOrigin.host): \(Self.describe(error))") }
                try await Task.sleep(nanoseconds: UInt64(retry.delay(after: attempt, retryAfter: nil) * 1e9))
                continue
            }
            let status = response.status.code
            if RetryPolicy.isTransient(status) && attempt < retry.attempts {
                _ = await Self.drain(response)
                try await Task.sleep(nanoseconds: UInt64(retry.delay(after: attempt, retryAfter: nil) * 1e9))
                continue
            }
            let bytes = Array(buffer: (try? await response.body.collect(upTo: 1 << 20)) ?? NIOCore.ByteBuffer())
            guard status == 200 else {
                let who = credentials.map { "refused the credentials from \($0.source)" } ?? "refused anonymous access (set IRZOO_REGISTRY_USER and IRZOO_REGISTRY_PASSWORD, or `docker login \(reference.registry)`)"
                throw DistributionError(.denied, "token service \(realm): HTTP \(status): \(who)")
            }
            guard let json = try? JSON.parse(bytes), let token = json["token"]?.stringValue ?? json["access_token"]?.stringValue, !token.isEmpty else {
                throw DistributionError(.denied, "token service \(realm): the answer has no token")
            }
            state.withLock { tokens[Self.key(scopes)] = token }
            return token
        }
    }

    private static func key(_ scopes: [String]) -> String { scopes.sorted().joined(separator: " ") }

    // MARK: helpers

    /// Reads what is left of a response body (at most 64 KiB, for an error message).
    static func drain(_ response: HTTPClientResponse) async -> String {
        guard let buffer = try? await response.body.collect(upTo: 1 << 16) else { return "" }
        return String(buffer: buffer)
    }

    /// "HTTP 404 MANIFEST_UNKNOWN: manifest unknown" from a distribution-spec error body.
    static func statusLine(_ status: UInt, _ body: String) -> String {
        var line = "HTTP \(status)"
        if let json = try? JSON.parse(body), let errors = json["errors"]?.arrayValue, !errors.isEmpty {
            line += " " + errors.prefix(3).map { e in
                [e["code"]?.stringValue, e["message"]?.stringValue].compactMap { $0 }.joined(separator: ": ")
            }.joined(separator: "; ")
        } else {
            let text = body.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first.map(String.init) ?? ""
            if !text.isEmpty { line += " " + String(text.prefix(200)) }
        }
        return line
    }

    /// Errors raised by our own side (a file that cannot be read, a refusal): never retried.
    static func isLocal(_ error: Error) -> Bool {
        error is DistributionError || error is LocalFileError || error is FileWriteError || error is StoreError || error is CancellationError
    }

    /// A TLS failure that retrying cannot mend (an untrusted or mismatched certificate), in words.
    static func tlsRefusal(_ error: Error) -> String? {
        let text = "\(error)"
        guard error is NIOSSLError || text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("handshakeFailed") else { return nil }
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") || text.contains("unableToValidateCertificate") {
            return "the registry's TLS certificate is not trusted here (certificate verify failed); if your organisation signs it, set IRZOO_REGISTRY_CA_FILE to its CA's PEM file"
        }
        return "TLS handshake failed (\(text))"
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .remoteConnectionClosed: return "the registry closed the connection"
            case .readTimeout: return "no data from the registry for too long (read timeout)"
            case .connectTimeout: return "connection timed out"
            default: return "\(e)"
            }
        }
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("Connection reset") || text.contains("ECONNRESET") { return "connection reset by the registry" }
        return text
    }

    static func seconds(_ s: Double) -> String { s < 1 ? "\(Int(s * 1000)) ms" : "\(Int(s.rounded())) s" }
}

/// An I/O error on a local file while sending or receiving (not the network's fault).
struct LocalFileError: Error, CustomStringConvertible {
    let description: String
}

/// scheme, host and port of a URL: "the same host" for deciding where credentials may go.
struct Origin: Equatable {
    let scheme: String
    let host: String
    let port: Int

    init?(_ url: String) {
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), let host = u.host?.lowercased() else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = u.port ?? (scheme == "https" ? 443 : 80)
    }
}

/// A file region as an async sequence of buffers for a streamed request body (1 MiB reads).
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = NIOCore.ByteBuffer
    let fd: Int32
    let offset: Int
    let length: Int
    let hasher: StreamHasher?
    let progress: (@Sendable (Int) -> Void)?

    struct AsyncIterator: AsyncIteratorProtocol {
        let chunks: FileChunks
        var sent = 0
        let allocator = NIOCore.ByteBufferAllocator()

        mutating func next() async throws -> NIOCore.ByteBuffer? {
            guard sent < chunks.length else { return nil }
            let want = Swift.min(1 << 20, chunks.length - sent)
            var buffer = allocator.buffer(capacity: want)
            let position = chunks.offset + sent
            let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw -> Int in
                var done = 0
                while done < want {
                    let r = pread(chunks.fd, raw.baseAddress! + done, want - done, off_t(position + done))
                    if r < 0 { if errno == EINTR { continue }; throw LocalFileError(description: "read failed: \(String(cString: strerror(errno)))") }
                    if r == 0 { throw LocalFileError(description: "the file ended early (it changed while being sent)") }
                    done += r
                }
                chunks.hasher?.feed(UnsafeRawBufferPointer(start: raw.baseAddress, count: done), at: position)
                return done
            }
            sent += n
            chunks.progress?(sent)
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: self) }
}

/// SHA-256 of a file as it is sent, in file order: a range sent again after a resumed upload is
/// hashed once. `finish` gives the digest of bytes 0..<position.
final class StreamHasher: @unchecked Sendable {
    private var hasher: SHA256Hasher? = SHA256Hasher()
    private(set) var position = 0
    private let lock = NSLock()

    func feed(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        lock.withLock {
            guard offset <= position, offset + bytes.count > position else { return }
            hasher?.update(UnsafeRawBufferPointer(rebasing: bytes[(position - offset)...]))
            position = offset + bytes.count
        }
    }

    /// "sha256:HEX"; the hasher is spent.
    func finish() -> String {
        lock.withLock { "sha256:" + (hasher.take()?.finalizeHex() ?? "") }
    }
}
