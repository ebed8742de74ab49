import COpenSSL
import Foundation
import NIOCore
import NIOHTTP1
import XCTest

/// The token service of distribution's token auth (docs/spec/auth/token.md), small and real:
/// GET /token?service=S&scope=repository:NAME:ACTIONS checks HTTP basic credentials and answers
/// a JWT signed RS256 with a test key whose certificate the registry trusts (`rootcertbundle`).
/// The registry verifies it; irzoo only follows the challenge. Anonymous callers get pull only.
final class TokenServer: @unchecked Sendable {
    let service = "irzoo-test-registry"
    let issuer = "irzoo-test-issuer"
    let user: String
    let password: String
    let dir: URL
    private var server: TestHTTPServer!
    private let key: OpaquePointer
    private let certDERBase64: String
    private let lock = NSLock()
    private var _requests: [TestHTTPServer.Request] = []

    var certPath: String { dir.appendingPathComponent("token.crt").path }
    var realm: String { "\(server.origin)/token" }
    var requests: [TestHTTPServer.Request] { lock.withLock { _requests } }

    init(user: String, password: String, dir: URL) throws {
        self.user = user
        self.password = password
        self.dir = dir
        let keyPath = dir.appendingPathComponent("token.key").path
        let r = try RegistryServer.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                                             "-subj", "/CN=irzoo-test-token-issuer", "-keyout", keyPath,
                                                             "-out", dir.appendingPathComponent("token.crt").path])
        guard r.status == 0 else { throw NSError(domain: "TokenServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "openssl: \(r.stderr)"]) }
        let keyDER = try Self.pemBody(keyPath)
        guard let k = keyDER.withUnsafeBufferPointer({ buf -> OpaquePointer? in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            return d2i_AutoPrivateKey(nil, &p, buf.count)
        }) else { throw NSError(domain: "TokenServer", code: 2, userInfo: [NSLocalizedDescriptionKey: "cannot read the test key"]) }
        key = k
        certDERBase64 = Data(try Self.pemBody(dir.appendingPathComponent("token.crt").path)).base64EncodedString()
        server = try TestHTTPServer { [unowned self] request in self.answer(request) }
    }

    deinit {
        server?.stop()
        EVP_PKEY_free(key)
    }

    private func answer(_ request: TestHTTPServer.Request) -> TestHTTPServer.Response {
        lock.withLock { _requests.append(request) }
        guard request.path == "/token" else { return .text(.notFound, "no such endpoint") }
        var subject = "anonymous"
        if let auth = request.headers.first(name: "Authorization") {
            guard auth.hasPrefix("Basic "), let decoded = Data(base64Encoded: String(auth.dropFirst(6))),
                  String(decoding: decoded, as: UTF8.self) == "\(user):\(password)" else {
                return .text(.unauthorized, "bad credentials")
            }
            subject = user
        }
        let query = request.query
        guard query.contains(where: { $0 == ("service", service) }) else { return .text(.badRequest, "unknown service") }
        var access: [[String: Any]] = []
        for (k, v) in query where k == "scope" {
            let parts = v.split(separator: ":")
            guard parts.count == 3, parts[0] == "repository" else { continue }
            let asked = parts[2].split(separator: ",").map(String.init)
            let granted = subject == "anonymous" ? asked.filter { $0 == "pull" } : asked
            access.append(["type": "repository", "name": String(parts[1]), "actions": granted])
        }
        let now = Int(Date().timeIntervalSince1970)
        let claims: [String: Any] = ["iss": issuer, "sub": subject, "aud": service, "exp": now + 300, "nbf": now - 10, "iat": now,
                                     "jti": UUID().uuidString, "access": access]
        let header: [String: Any] = ["typ": "JWT", "alg": "RS256", "x5c": [certDERBase64]]
        guard let token = sign(header: header, claims: claims) else { return .text(.internalServerError, "signing failed") }
        let body = try! JSONSerialization.data(withJSONObject: ["token": token, "access_token": token, "expires_in": 300])
        return TestHTTPServer.Response(status: .ok, headers: ["Content-Type": "application/json"], body: Array(body))
    }

    private func sign(header: [String: Any], claims: [String: Any]) -> String? {
        func b64url(_ d: Data) -> String {
            d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        guard let h = try? JSONSerialization.data(withJSONObject: header), let c = try? JSONSerialization.data(withJSONObject: claims) else { return nil }
        let input = b64url(h) + "." + b64url(c)
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, EVP_sha256(), nil, key) == 1 else { return nil }
        let bytes = Array(input.utf8)
        var length = 0
        guard EVP_DigestSign(ctx, nil, &length, bytes, bytes.count) == 1 else { return nil }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(ctx, &signature, &length, bytes, bytes.count) == 1 else { return nil }
        return input + "." + b64url(Data(signature.prefix(length)))
    }

    /// The DER bytes inside a PEM file (its base64 body).
    static func pemBody(_ path: String) throws -> [UInt8] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let d = Data(base64Encoded: body) else { throw NSError(domain: "TokenServer", code: 3) }
        return Array(d)
    }
}
