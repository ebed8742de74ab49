import Foundation
import IRTensor

/// A user name and password for one registry, and where they came from (for error messages).
public struct RegistryCredentials: Sendable, Equatable {
    public var user: String
    public var password: String
    public var source: String

    public init(user: String, password: String, source: String) {
        self.user = user
        self.password = password
        self.source = source
    }

    /// `Basic base64(user:password)`.
    public var basicAuthorization: String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    /// `IRZOO_REGISTRY_USER` and `IRZOO_REGISTRY_PASSWORD`, else the `auths` entry for `registry`
    /// in docker's config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), whose
    /// `auth` is base64 "user:password" (or `username` and `password` members). Nil: anonymous.
    public static func lookup(registry: String, environment: [String: String]) throws -> RegistryCredentials? {
        let user = environment["IRZOO_REGISTRY_USER"], password = environment["IRZOO_REGISTRY_PASSWORD"]
        if user != nil || password != nil {
            guard let user, let password, !user.isEmpty else {
                throw DistributionError(.usage, "set both IRZOO_REGISTRY_USER and IRZOO_REGISTRY_PASSWORD, or neither")
            }
            return RegistryCredentials(user: user, password: password, source: "IRZOO_REGISTRY_USER/IRZOO_REGISTRY_PASSWORD")
        }
        let path: String
        if let dir = environment["DOCKER_CONFIG"], !dir.isEmpty {
            path = dir + "/config.json"
        } else if let home = environment["HOME"], !home.isEmpty {
            path = home + "/.docker/config.json"
        } else {
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let json: JSON
        do { json = try JSON.parse(Array(data)) } catch { throw DistributionError(.usage, "\(path): \(error)") }
        guard let auths = json["auths"]?.objectValue else { return nil }
        for (key, entry) in auths where hostOf(authsKey: key) == hostOf(authsKey: registry)
            || (registry == "docker.io" && hostOf(authsKey: key) == "index.docker.io") {
            if let encoded = entry["auth"]?.stringValue, !encoded.isEmpty {
                guard let decoded = Data(base64Encoded: encoded).map({ String(decoding: $0, as: UTF8.self) }),
                      let colon = decoded.firstIndex(of: ":") else {
                    throw DistributionError(.usage, "\(path): auths[\"\(key)\"].auth is not base64 of user:password")
                }
                return RegistryCredentials(user: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]),
                                           source: "\(path) (auths[\"\(key)\"])")
            }
            if let u = entry["username"]?.stringValue, let p = entry["password"]?.stringValue {
                return RegistryCredentials(user: u, password: p, source: "\(path) (auths[\"\(key)\"])")
            }
        }
        return nil
    }

    /// "https://index.docker.io/v1/" -> "index.docker.io"; "ghcr.io" -> "ghcr.io".
    static func hostOf(authsKey key: String) -> String {
        var s = Substring(key)
        for scheme in ["https://", "http://"] where s.hasPrefix(scheme) { s = s.dropFirst(scheme.count) }
        if let slash = s.firstIndex(of: "/") { s = s[..<slash] }
        return s.lowercased()
    }
}

/// One `WWW-Authenticate` challenge (RFC 7235): a scheme and its parameters, e.g.
/// `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"`.
public struct AuthChallenge: Sendable, Equatable {
    public var scheme: String
    public var parameters: [String: String]

    /// The first challenge in a header value; nil when it cannot be read.
    public static func parse(_ header: String) -> AuthChallenge? {
        let u = Array(header.utf8)
        var i = 0
        func skipSpaces() { while i < u.count && (u[i] == 0x20 || u[i] == 0x09) { i += 1 } }
        func isTokenChar(_ c: UInt8) -> Bool {
            c > 0x20 && c < 0x7F && !"()<>@,;:\\\"/[]?={}".utf8.contains(c)
        }
        func token() -> String? {
            let start = i
            while i < u.count && isTokenChar(u[i]) { i += 1 }
            return i > start ? String(decoding: u[start..<i], as: UTF8.self) : nil
        }
        skipSpaces()
        guard let scheme = token() else { return nil }
        var params: [String: String] = [:]
        while true {
            skipSpaces()
            while i < u.count && u[i] == 0x2C { i += 1; skipSpaces() }
            guard i < u.count, let key = token() else { break }
            skipSpaces()
            guard i < u.count, u[i] == 0x3D else { break } // another challenge's scheme: stop
            i += 1
            skipSpaces()
            var value: [UInt8] = []
            if i < u.count && u[i] == 0x22 {
                i += 1
                while i < u.count && u[i] != 0x22 {
                    if u[i] == 0x5C && i + 1 < u.count { i += 1 }
                    value.append(u[i])
                    i += 1
                }
                guard i < u.count else { return nil } // unterminated quoted string
                i += 1
            } else {
                // A token by the RFC; read leniently up to the next comma or space (an unquoted URL).
                let start = i
                while i < u.count && u[i] != 0x2C && u[i] != 0x20 && u[i] != 0x09 { i += 1 }
                guard i > start else { return nil }
                value = Array(u[start..<i])
            }
            params[key.lowercased()] = String(decoding: value, as: UTF8.self)
        }
        return AuthChallenge(scheme: scheme.lowercased(), parameters: params)
    }
}
