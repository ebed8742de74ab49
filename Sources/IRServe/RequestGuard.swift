import Foundation
import HTTPTypes
import Hummingbird

/// The port the server actually bound (known only after start when `--port 0`).
final class BoundPort: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int

    init(_ port: Int) { self.port = port }

    var value: Int {
        get { lock.withLock { port } }
        set { lock.withLock { port = newValue } }
    }
}

/// Checks every request before any route sees it (docs/SERVE.md, "Safe by default"):
/// - `Host` must name this server (DNS rebinding: a hostile site's name resolving to 127.0.0.1);
/// - `Origin`, when sent, must be this server's own origin, and a browser's cross-site request
///   (`Sec-Fetch-Site: cross-site`) never reaches the API (CSRF);
/// - with a token, the token (a Bearer header or the cookie the page entry sets).
/// It also adds the headers that keep the page from being framed or sniffed.
struct RequestGuard<Context: RequestContext>: RouterMiddleware {
    static var cookieName: String { "irzoo_token" }

    let host: String
    let port: BoundPort
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        if let refusal = refusal(request) {
            response = ErrorBody.response(refusal.status, refusal.message)
        } else if let entry = tokenEntry(request) {
            response = entry
        } else {
            do {
                response = try await next(request, context)
            } catch let error as HTTPError {
                response = ErrorBody.response(error.status, error.body ?? error.status.reasonPhrase)
            }
        }
        SecurityHeaders.add(to: &response, api: request.uri.path.hasPrefix("/api/"))
        return response
    }

    /// Why the request is refused, or nil.
    func refusal(_ request: Request) -> (status: HTTPResponse.Status, message: String)? {
        guard let authority = request.head.authority, let hostPart = Self.hostAndPort(authority) else {
            return (.badRequest, "the request has no valid Host header")
        }
        if !allowedHost(hostPart.host, port: hostPart.port) {
            return (.forbidden, "Host \(Self.printable(authority)) is not this server (irzoo serve answers only to its own address; DNS rebinding refused)")
        }
        if let origin = request.headers[.origin] {
            guard let o = Self.origin(origin), o.scheme == "http", allowedHost(o.host, port: o.port),
                  // A wildcard bind accepts any Host, so the origin must be the one the browser asked.
                  !ServeConfiguration.isWildcard(host) || (o.host == hostPart.host && o.port == hostPart.port) else {
                return (.forbidden, "Origin \(Self.printable(origin)) is not this server's page (cross-site requests refused)")
            }
        }
        if request.uri.path.hasPrefix("/api/"), let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site == "cross-site" {
            return (.forbidden, "cross-site requests to the API are refused")
        }
        if let token, !presentsToken(request, token) && !isTokenEntry(request) {
            return (.unauthorized, "this server needs its token: `Authorization: Bearer TOKEN`, or open /?token=TOKEN once in the browser")
        }
        return nil
    }

    /// `GET /?token=T`: sets the cookie the page's own requests carry, then leaves the token out of the address bar.
    func tokenEntry(_ request: Request) -> Response? {
        guard token != nil, isTokenEntry(request) else { return nil }
        var headers = HTTPFields()
        headers[.location] = "/"
        headers[.setCookie] = "\(Self.cookieName)=\(token!); Path=/; HttpOnly; SameSite=Strict"
        return Response(status: .seeOther, headers: headers)
    }

    private func isTokenEntry(_ request: Request) -> Bool {
        guard let token, request.method == .get, request.uri.path == "/", let given = request.uri.queryParameters["token"] else { return false }
        return Self.constantTimeEqual(String(given), token)
    }

    private func presentsToken(_ request: Request, _ token: String) -> Bool {
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer "),
           Self.constantTimeEqual(String(auth.dropFirst(7)), token) {
            return true
        }
        for cookieLine in request.headers[values: .cookie] {
            for pair in cookieLine.split(separator: ";") {
                let kv = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == Self.cookieName, Self.constantTimeEqual(String(kv[1]), token) { return true }
            }
        }
        return false
    }

    /// The names this server answers to: its bind address and, on loopback, every loopback name,
    /// always with the bound port. A wildcard bind (0.0.0.0, which requires a token) takes any name.
    func allowedHost(_ name: String, port requestPort: Int?) -> Bool {
        guard requestPort ?? 80 == port.value else { return false }
        if ServeConfiguration.isWildcard(host) { return true }
        let n = name.lowercased()
        if n == host.lowercased() || "[\(host.lowercased())]" == n { return true }
        return ServeConfiguration.isLoopback(host) && (n == "localhost" || n == "[::1]" || n == "127.0.0.1")
    }

    /// "name:port" / "[v6]:port" / "name" → (host, port).
    static func hostAndPort(_ authority: String) -> (host: String, port: Int?)? {
        guard !authority.isEmpty, authority.count <= 255, !authority.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "@" }) else { return nil }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let host = String(authority[...close])
            let rest = authority[authority.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (0...65535).contains(p) else { return nil }
            return (host, p)
        }
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return (String(parts[0]), nil)
        case 2:
            guard !parts[0].isEmpty, let p = Int(parts[1]), (0...65535).contains(p) else { return nil }
            return (String(parts[0]), p)
        default: return nil
        }
    }

    /// "scheme://host[:port]" with nothing after it (an Origin header's form).
    static func origin(_ value: String) -> (scheme: String, host: String, port: Int?)? {
        guard let sep = value.range(of: "://") else { return nil }
        let scheme = value[..<sep.lowerBound].lowercased()
        guard let hp = hostAndPort(String(value[sep.upperBound...])) else { return nil }
        return (scheme, hp.host, hp.port ?? (scheme == "https" ? 443 : 80))
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }

    /// A header value in an error message: short, printable ASCII only.
    static func printable(_ s: String) -> String {
        let cleaned = s.unicodeScalars.prefix(80).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : "?" }.joined()
        return "'\(cleaned)'"
    }
}

enum SecurityHeaders {
    /// The page loads only its own scripts, styles and images (blob: for the local previews), and
    /// no other site may frame it.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
        + "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

    static func add(to response: inout Response, api: Bool) {
        response.headers[.contentSecurityPolicy] = contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "same-origin"
        if api && response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
    }
}

/// Every error the API returns: `{"error": "one line"}`.
struct ErrorBody: Codable {
    var error: String

    static func response(_ status: HTTPResponse.Status, _ message: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json; charset=utf-8"
        let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let data = (try? encoder.encode(ErrorBody(error: line))) ?? Data("{\"error\":\"error\"}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
