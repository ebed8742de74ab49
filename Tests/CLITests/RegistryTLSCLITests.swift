import Foundation
import IRTestSupport
import XCTest

/// Issue 16, TLS: a real docker-registry serving HTTPS on 127.0.0.1 with a certificate signed by a
/// CA made here with openssl. `https://` in the reference asks for TLS on loopback; the
/// certificate is refused until IRZOO_REGISTRY_CA_FILE names the CA, then push and pull work and
/// the pulled model verifies.
final class RegistryTLSCLITests: XCTestCase {
    /// A CA and a server certificate for 127.0.0.1 it signed (EC P-256, 2 days).
    static func makeCertificates(in dir: URL) throws -> (ca: String, certificate: String, key: String) {
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func openssl(_ args: [String]) throws {
            let r = try RegistryServer.run("/usr/bin/openssl", args)
            guard r.status == 0 else { throw NSError(domain: "openssl", code: 1, userInfo: [NSLocalizedDescriptionKey: "openssl \(args.first ?? ""): \(r.stderr)"]) }
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=irzoo test CA"])
        try openssl(["req"] + ec + ["-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=127.0.0.1"])
        try "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n".write(toFile: path("ext.cnf"), atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
                     "-out", path("server.pem"), "-days", "2", "-extfile", path("ext.cnf")])
        return (path("ca.pem"), path("server.pem"), path("server.key"))
    }

    func testHTTPSRegistryWithTheOrganisationsCA() throws {
        try RegistryServer.requireInstalled()
        let dir = TestSupport.makeTempDir("irzoo-tls")
        defer { try? FileManager.default.removeItem(at: dir) }
        let certs = try Self.makeCertificates(in: dir)
        let registry = try RegistryServer(tls: (certs.certificate, certs.key))
        addTeardownBlock { registry.stop() }
        let a = CLIHarness(), b = CLIHarness()
        XCTAssertEqual(try a.run(["import", golden("symunet-tiny", "checkpoint.pth"), "--arch", "symunet", "--name", "tiny"]).status, 0)
        let ref = "https://\(registry.address)/team/tiny:v1"

        // The system's CAs do not know this one: a clear refusal, not retried, nothing pushed.
        let untrusted = try a.run(["push", "tiny", ref], env: ["IRZOO_REGISTRY_ATTEMPTS": "2"])
        XCTAssertNotEqual(untrusted.status, 0)
        XCTAssertTrue(untrusted.stderr.contains("TLS certificate is not trusted") && untrusted.stderr.contains("IRZOO_REGISTRY_CA_FILE"), untrusted.stderr)
        XCTAssertEqual(untrusted.stderr.split(separator: "\n").filter { !$0.hasPrefix("irzoo: note:") }.count, 1, untrusted.stderr)
        XCTAssertFalse(untrusted.stderr.contains("retrying"), "a certificate refusal is not transient: \(untrusted.stderr)")
        print("untrusted registry: \(untrusted.stderr)")
        // A CA file that is not PEM is named before any connection.
        let junk = dir.appendingPathComponent("junk.pem").path
        try "not a certificate\n".write(toFile: junk, atomically: true, encoding: .utf8)
        let badCA = try a.run(["push", "tiny", ref], env: ["IRZOO_REGISTRY_CA_FILE": junk])
        XCTAssertEqual(badCA.status, 2, badCA.stderr)
        XCTAssertTrue(badCA.stderr.contains("IRZOO_REGISTRY_CA_FILE \(junk)"), badCA.stderr)

        let trusted = ["IRZOO_REGISTRY_CA_FILE": certs.ca]
        let pushed = try a.run(["push", "tiny", ref, "--json"], env: trusted)
        XCTAssertEqual(pushed.status, 0, pushed.stderr)
        let pulled = try b.run(["pull", ref, "--name", "tiny"], env: trusted)
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        let verified = try b.run(["verify", "tiny"])
        XCTAssertEqual(verified.status, 0, verified.stderr)
    }

    /// `http://` to a registry that is not on this machine needs --insecure, like no scheme does.
    func testPlainHTTPSchemeToARemoteRegistryNeedsInsecure() throws {
        let a = CLIHarness()
        let r = try a.run(["pull", "http://registry.example.com/team/tiny:v1"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("needs --insecure"), r.stderr)
    }
}
