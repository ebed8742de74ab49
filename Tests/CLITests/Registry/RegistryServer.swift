#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IRTestSupport
import XCTest

/// A real CNCF Distribution registry (Debian's `docker-registry`, distribution 2.8), started on
/// 127.0.0.1 on a free port with its own storage folder and a generated config, and stopped by
/// PID. `make test` installs the package; without it the tests skip, unless
/// IRZOO_REQUIRE_REGISTRY=1 (set by `make test`) makes that a failure.
final class RegistryServer {
    enum Auth {
        case anonymous
        /// htpasswd file made with `htpasswd -B` (bcrypt), as the registry requires.
        case basic(user: String, password: String)
        /// The token flow: the registry trusts `cert` and sends clients to `realm`.
        case token(realm: String, service: String, issuer: String, certPath: String)
    }

    static let binary = "/usr/bin/docker-registry"

    let dir: URL
    let port: Int
    let auth: Auth
    /// PEM certificate and key: the registry serves HTTPS with them.
    let tls: (certificate: String, key: String)?
    private var process: Process?

    var address: String { "127.0.0.1:\(port)" }
    var storage: String { dir.appendingPathComponent("storage").path }

    /// Skips the test when the registry is not installed (fails under `make test`).
    static func requireInstalled() throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            if ProcessInfo.processInfo.environment["IRZOO_REQUIRE_REGISTRY"] == "1" {
                XCTFail("\(binary) is missing: `make test` installs Debian's docker-registry")
            }
            throw XCTSkip("\(binary) is not installed (run `make test`, which installs docker-registry)")
        }
    }

    init(auth: Auth = .anonymous, port: Int? = nil, tls: (certificate: String, key: String)? = nil) throws {
        try Self.requireInstalled()
        dir = TestSupport.makeTempDir("irzoo-registry")
        self.port = try port ?? Self.freePort()
        self.auth = auth
        self.tls = tls
        try FileManager.default.createDirectory(atPath: storage, withIntermediateDirectories: true)
        try writeConfig()
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: dir)
    }

    private func writeConfig() throws {
        var authYAML = ""
        switch auth {
        case .anonymous:
            break
        case .basic(let user, let password):
            let htpasswd = dir.appendingPathComponent("htpasswd").path
            let r = try Self.run("/usr/bin/htpasswd", ["-Bbn", user, password])
            XCTAssertEqual(r.status, 0, "htpasswd: \(r.stderr)")
            try r.stdout.write(toFile: htpasswd, atomically: true, encoding: .utf8)
            authYAML = "auth:\n  htpasswd:\n    realm: irzoo-test\n    path: \(htpasswd)\n"
        case .token(let realm, let service, let issuer, let certPath):
            authYAML = "auth:\n  token:\n    realm: \(realm)\n    service: \(service)\n    issuer: \(issuer)\n    rootcertbundle: \(certPath)\n"
        }
        // A fixed http.secret keeps upload sessions valid across a restart.
        let yaml = """
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: \(storage)
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: 127.0.0.1:\(port)
              secret: irzoo-test-upload-secret
            \(tls.map { "  tls:\n    certificate: \($0.certificate)\n    key: \($0.key)\n" } ?? "")\(authYAML)
            """
        try yaml.write(to: dir.appendingPathComponent("config.yml"), atomically: true, encoding: .utf8)
    }

    /// Starts the registry and waits until it answers on its port.
    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["serve", dir.appendingPathComponent("config.yml").path]
        let log = dir.appendingPathComponent("registry.log")
        if !FileManager.default.fileExists(atPath: log.path) { FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if Self.canConnect(port: port) { return }
            guard p.isRunning else { break }
            usleep(20_000)
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw NSError(domain: "RegistryServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "docker-registry did not start on \(port): \(text.suffix(2000))"])
    }

    /// SIGKILL, as a crash would: no clean shutdown of anything in flight.
    func kill9() {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    func stop() {
        guard let p = process else { return }
        if p.isRunning {
            kill(p.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while p.isRunning && Date() < deadline { usleep(10_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        p.waitUntilExit()
        process = nil
    }

    var log: String { (try? String(contentsOf: dir.appendingPathComponent("registry.log"), encoding: .utf8)) ?? "" }

    /// Where distribution's filesystem driver keeps a blob's bytes.
    func blobDataPath(_ digest: String) -> String {
        let hex = String(digest.dropFirst("sha256:".count))
        return "\(storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }

    // MARK: helpers

    static func freePort(host: String = "127.0.0.1") throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr(host)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard bound == 0 else { throw NSError(domain: "RegistryServer", code: 2) }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func canConnect(port: Int, host: String = "127.0.0.1") -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    static func run(_ tool: String, _ args: [String], stdin: Data? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = stdin == nil ? FileHandle.nullDevice : inPipe
        try p.run()
        if let stdin {
            inPipe.fileHandleForWriting.write(stdin)
            try inPipe.fileHandleForWriting.close()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
