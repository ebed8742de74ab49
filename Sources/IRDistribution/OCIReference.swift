/// `REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST]`, as docker, ORAS and skopeo write it
/// (distribution's reference grammar: a registry host first, lowercase path components).
public struct OCIReference: Sendable, Equatable, CustomStringConvertible {
    /// The registry as written: host, optional port ("ghcr.io", "127.0.0.1:5000").
    public var registry: String
    /// Path inside the registry ("team/symunet").
    public var repository: String
    public var tag: String?
    /// "sha256:" + 64 hex digits.
    public var digest: String?
    /// Plain HTTP instead of HTTPS: loopback registries, or `--insecure`.
    public var plainHTTP: Bool

    /// What the manifest endpoint is asked for: the digest, else the tag, else "latest".
    public var manifestReference: String { digest ?? tag ?? "latest" }

    /// `REGISTRY/REPOSITORY`: what the store records as a remote.
    public var repositoryPath: String { "\(registry)/\(repository)" }

    public var description: String {
        repositoryPath + (digest.map { "@\($0)" } ?? ":\(tag ?? "latest")")
    }

    /// The host the API lives on (Docker Hub's is not the name people write).
    public var apiHost: String { registry == "docker.io" ? "registry-1.docker.io" : registry }

    /// "https://HOST" or "http://HOST".
    public var baseURL: String { (plainHTTP ? "http://" : "https://") + apiHost }

    /// `https://` or `http://` in front chooses the scheme outright (HTTPS to a loopback registry
    /// with TLS; plain HTTP elsewhere still needs `--insecure`); without one, loopback registries
    /// are plain HTTP and every other registry HTTPS.
    public static func parse(_ written: String, insecure: Bool = false) throws -> OCIReference {
        func bad(_ why: String) -> DistributionError { DistributionError(.usage, "'\(written)' is not a registry reference: \(why)") }
        var text = written, scheme: String? = nil
        for s in ["https", "http"] where text.lowercased().hasPrefix(s + "://") {
            scheme = s
            text = String(text.dropFirst(s.count + 3))
        }
        guard let slash = text.firstIndex(of: "/") else {
            throw bad("name the registry first, as in ghcr.io/OWNER/MODEL:TAG or 127.0.0.1:5000/MODEL")
        }
        let registry = String(text[..<slash])
        guard isRegistryHost(registry) else {
            throw bad("'\(registry)' is not a registry host (a name with a dot or a port, 'localhost', or an IP address)")
        }
        var rest = String(text[text.index(after: slash)...])
        var digest: String? = nil
        if let at = rest.firstIndex(of: "@") {
            let d = String(rest[rest.index(after: at)...])
            guard isSHA256Digest(d) else { throw bad("the digest must be sha256: and 64 lowercase hex digits") }
            digest = d
            rest = String(rest[..<at])
        }
        var tag: String? = nil
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let t = String(rest[rest.index(after: colon)...])
            guard isTag(t) else { throw bad("'\(t)' is not a tag (1 to 128 of letters, digits, '_', '.', '-', not starting with '.' or '-')") }
            tag = t
            rest = String(rest[..<colon])
        }
        guard isRepository(rest) else {
            throw bad("'\(rest)' is not a repository name (lowercase letters and digits, separated by '.', '_', '__', '-' or '/')")
        }
        if registry == "docker.io" && !rest.contains("/") { rest = "library/" + rest }
        let plainHTTP: Bool
        switch scheme {
        case "https": plainHTTP = false
        case "http":
            guard insecure || isLoopback(registry) else {
                throw DistributionError(.usage, "'\(written)': plain HTTP to a registry that is not on this machine needs --insecure")
            }
            plainHTTP = true
        default: plainHTTP = insecure || isLoopback(registry)
        }
        return OCIReference(registry: registry, repository: rest, tag: tag, digest: digest, plainHTTP: plainHTTP)
    }

    // MARK: grammar

    static func isSHA256Digest(_ s: String) -> Bool {
        guard s.hasPrefix("sha256:") else { return false }
        let hex = s.utf8.dropFirst(7)
        return hex.count == 64 && hex.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func isTag(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...128).contains(u.count) else { return false }
        func word(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F }
        return word(u[0]) && u.allSatisfy { word($0) || $0 == 0x2E || $0 == 0x2D }
    }

    /// Path components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by '/'.
    static func isRepository(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 255 else { return false }
        for component in s.split(separator: "/", omittingEmptySubsequences: false) {
            let u = Array(component.utf8)
            func alnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) }
            guard let first = u.first, let last = u.last, alnum(first), alnum(last) else { return false }
            var i = 0
            while i < u.count {
                if alnum(u[i]) { i += 1; continue }
                // A separator: '.', '_', '__' or a run of '-', each between alphanumerics.
                var j = i
                if u[i] == 0x2D { while j < u.count && u[j] == 0x2D { j += 1 } }
                else if u[i] == 0x5F { j += (i + 1 < u.count && u[i + 1] == 0x5F) ? 2 : 1 }
                else if u[i] == 0x2E { j += 1 }
                else { return false }
                guard j < u.count, alnum(u[j]) else { return false }
                i = j
            }
        }
        return true
    }

    /// A host with a dot or a port, "localhost", or a bracketed IPv6 address; optional ":PORT".
    static func isRegistryHost(_ s: String) -> Bool {
        var host = Substring(s)
        var hasPort = false
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { return false }
            }
            return host[host.index(after: host.startIndex)..<close].allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        if let colon = host.firstIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else { return false }
            host = host[..<colon]
            hasPort = true
        }
        guard !host.isEmpty, host.utf8.allSatisfy({ c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x2D
        }) else { return false }
        return hasPort || host.contains(".") || host == "localhost"
    }

    /// localhost, 127.0.0.0/8, [::1]: plain HTTP is allowed there without `--insecure`.
    public static func isLoopback(_ registry: String) -> Bool {
        let host: Substring
        if registry.hasPrefix("[") {
            host = registry.split(separator: "]").first.map { $0.dropFirst() } ?? ""
            return host == "::1"
        }
        host = registry.split(separator: ":").first ?? ""
        return host == "localhost" || host.hasPrefix("127.")
    }
}
