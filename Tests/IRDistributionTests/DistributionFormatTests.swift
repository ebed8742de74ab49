import Foundation
import IRStore
import IRTensor
import IRTestSupport
import XCTest
import IRDistribution

/// The parts of push and pull that need no registry: references, challenges, credentials, and
/// the artifact layout (docs/OCI.md), including every manifest a pull must refuse.
final class DistributionFormatTests: XCTestCase {
    let digest = "sha256:" + String(repeating: "ab", count: 32)

    func testReferencesParseAsDockerAndORASWriteThem() throws {
        let a = try OCIReference.parse("127.0.0.1:5000/team/symunet:w48")
        XCTAssertEqual(a.registry, "127.0.0.1:5000")
        XCTAssertEqual(a.repository, "team/symunet")
        XCTAssertEqual(a.tag, "w48")
        XCTAssertNil(a.digest)
        XCTAssertTrue(a.plainHTTP, "loopback registries speak plain HTTP")
        XCTAssertEqual(a.baseURL, "http://127.0.0.1:5000")
        XCTAssertEqual(a.manifestReference, "w48")

        let b = try OCIReference.parse("ghcr.io/owner/model@\(digest)")
        XCTAssertEqual(b.digest, digest)
        XCTAssertFalse(b.plainHTTP)
        XCTAssertEqual(b.baseURL, "https://ghcr.io")
        XCTAssertEqual(b.manifestReference, digest)
        XCTAssertEqual(b.description, "ghcr.io/owner/model@\(digest)")

        let c = try OCIReference.parse("localhost/m")
        XCTAssertEqual(c.manifestReference, "latest")
        XCTAssertTrue(c.plainHTTP)
        XCTAssertEqual(try OCIReference.parse("docker.io/ubuntu").repository, "library/ubuntu")
        XCTAssertEqual(try OCIReference.parse("docker.io/ubuntu").apiHost, "registry-1.docker.io")
        XCTAssertTrue(try OCIReference.parse("registry.example:443/a/b", insecure: true).plainHTTP)
        XCTAssertEqual(try OCIReference.parse("r.example/a__b.c-d/e---f:1.0_x").repository, "a__b.c-d/e---f")

        for bad in ["symunet:v1", "team/model", "ghcr.io/Upper/x", "ghcr.io/a//b", "ghcr.io/a/", "ghcr.io/-a", "ghcr.io/a_-b",
                    "ghcr.io/a:.tag", "ghcr.io/a@sha256:short", "ghcr.io/a@md5:" + String(repeating: "0", count: 32), "host:99999/a"] {
            XCTAssertThrowsError(try OCIReference.parse(bad), bad) { e in
                XCTAssertEqual((e as? DistributionError)?.kind, .usage, bad)
            }
        }
    }

    func testChallengesParseQuotedCommasAndSchemes() {
        let c = AuthChallenge.parse(#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#)
        XCTAssertEqual(c?.scheme, "bearer")
        XCTAssertEqual(c?.parameters["realm"], "https://auth.example/token")
        XCTAssertEqual(c?.parameters["service"], "registry.example")
        XCTAssertEqual(c?.parameters["scope"], "repository:a/b:pull,push")
        let basic = AuthChallenge.parse(#"Basic realm="irzoo \"test\"""#)
        XCTAssertEqual(basic?.scheme, "basic")
        XCTAssertEqual(basic?.parameters["realm"], #"irzoo "test""#)
        XCTAssertEqual(AuthChallenge.parse("Bearer realm=https://a.example/t , service=s")?.parameters["service"], "s")
        XCTAssertNil(AuthChallenge.parse(#"Bearer realm="unterminated"#))
        XCTAssertNil(AuthChallenge.parse(""))
    }

    func testCredentialsComeFromTheEnvironmentThenDockersConfig() throws {
        let dir = TestSupport.makeTempDir("irzoo-creds")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertNil(try RegistryCredentials.lookup(registry: "ghcr.io", environment: ["HOME": dir.path]))

        let env = try RegistryCredentials.lookup(registry: "ghcr.io", environment: ["IRZOO_REGISTRY_USER": "u", "IRZOO_REGISTRY_PASSWORD": "p:w"])
        XCTAssertEqual(env?.user, "u")
        XCTAssertEqual(env?.password, "p:w")
        XCTAssertEqual(env?.basicAuthorization, "Basic " + Data("u:p:w".utf8).base64EncodedString())
        XCTAssertThrowsError(try RegistryCredentials.lookup(registry: "ghcr.io", environment: ["IRZOO_REGISTRY_USER": "u"]))

        try FileManager.default.createDirectory(at: dir.appendingPathComponent(".docker"), withIntermediateDirectories: true)
        let config = """
            {"auths": {"https://index.docker.io/v1/": {"auth": "\(Data("hub:secret".utf8).base64EncodedString())"},
                       "127.0.0.1:5000": {"auth": "\(Data("alice:pa:ss".utf8).base64EncodedString())"},
                       "https://reg.example/v2/": {"username": "bob", "password": "pw"},
                       "broken.example": {"auth": "not base64!"}},
             "credsStore": "desktop"}
            """
        try config.write(to: dir.appendingPathComponent(".docker/config.json"), atomically: true, encoding: .utf8)
        let home = ["HOME": dir.path]
        XCTAssertEqual(try RegistryCredentials.lookup(registry: "127.0.0.1:5000", environment: home)?.password, "pa:ss")
        XCTAssertEqual(try RegistryCredentials.lookup(registry: "docker.io", environment: home)?.user, "hub")
        XCTAssertEqual(try RegistryCredentials.lookup(registry: "reg.example", environment: home)?.user, "bob")
        XCTAssertNil(try RegistryCredentials.lookup(registry: "other.example", environment: home))
        XCTAssertThrowsError(try RegistryCredentials.lookup(registry: "broken.example", environment: home))
        // DOCKER_CONFIG names the folder instead of ~/.docker.
        XCTAssertEqual(try RegistryCredentials.lookup(registry: "127.0.0.1:5000", environment: ["DOCKER_CONFIG": dir.appendingPathComponent(".docker").path])?.user, "alice")
    }

    func testRetriesBackOffExponentiallyAndHonourRetryAfter() {
        let p = RetryPolicy(attempts: 5, baseDelay: 0.25, maxDelay: 2, maxRetryAfter: 10)
        XCTAssertEqual((1...5).map { p.delay(after: $0, retryAfter: nil) }, [0.25, 0.5, 1, 2, 2])
        XCTAssertEqual(p.delay(after: 1, retryAfter: 3), 3)
        XCTAssertEqual(p.delay(after: 1, retryAfter: 600), 10, "a registry asking for ten minutes gets the cap")
        XCTAssertTrue(RetryPolicy.isTransient(429) && RetryPolicy.isTransient(503) && RetryPolicy.isTransient(408))
        XCTAssertFalse(RetryPolicy.isTransient(404) || RetryPolicy.isTransient(401) || RetryPolicy.isTransient(400))
        XCTAssertEqual(RegistryClient.rangeEnd("0-1023"), 1024)
        XCTAssertEqual(RegistryClient.rangeEnd("0-0"), 0)
        XCTAssertEqual(RegistryClient.appending(digest: digest, to: "http://r/v2/a/blobs/uploads/u?_state=x"), "http://r/v2/a/blobs/uploads/u?_state=x&digest=\(digest)")
    }

    // MARK: the artifact layout

    func sampleArtifact(withArtifactType: Bool = true) -> ModelArtifact {
        ModelArtifact(config: Descriptor(mediaType: MediaType.modelConfig, digest: digest, size: 321),
                      layers: [Descriptor(mediaType: MediaType.irw, digest: digest, size: 4096,
                                          annotations: [(Annotation.title, "m.irw"), (Annotation.irwDigest, String(repeating: "cd", count: 32))])],
                      annotations: [(Annotation.title, "m"), (Annotation.created, "2026-11-24T06:00:00Z")],
                      withArtifactType: withArtifactType)
    }

    func testManifestIsImageSpec11ArtifactWithConfigAndRoundTrips() throws {
        let bytes = sampleArtifact().manifestBytes
        let json = try JSON.parse(bytes)
        XCTAssertEqual(json["schemaVersion"], .int(2))
        XCTAssertEqual(json["mediaType"], .string("application/vnd.oci.image.manifest.v1+json"))
        XCTAssertEqual(json["artifactType"], .string("application/vnd.irzoo.model.v1+json"))
        XCTAssertEqual(json["config"]?["mediaType"], .string("application/vnd.irzoo.model.config.v1+json"))
        XCTAssertEqual(json["layers"]?.arrayValue?.first?["mediaType"], .string("application/vnd.irzoo.irw.v1"))
        XCTAssertEqual(json["layers"]?.arrayValue?.first?["annotations"]?["org.opencontainers.image.title"], .string("m.irw"))
        XCTAssertEqual(bytes, sampleArtifact().manifestBytes, "the same model gives the same manifest digest")
        let back = try ModelArtifact.parse(bytes, contentType: nil, what: "m")
        XCTAssertEqual(back.layers, sampleArtifact().layers)
        XCTAssertEqual(back.config, sampleArtifact().config)
        XCTAssertTrue(back.withArtifactType)
        // The fallback form (no artifactType) is recognised by its config media type.
        let plain = sampleArtifact(withArtifactType: false).manifestBytes
        XCTAssertNil(try JSON.parse(plain)["artifactType"])
        XCTAssertFalse(try ModelArtifact.parse(plain, contentType: MediaType.ociManifest, what: "m").withArtifactType)
    }

    func testPullRefusesWhatIsNotAnIrzooModel() throws {
        func refusal(_ text: String, contentType: String? = nil) -> String {
            do {
                _ = try ModelArtifact.parse(Array(text.utf8), contentType: contentType, what: "ref")
                return "accepted"
            } catch let e as DistributionError {
                XCTAssertEqual(e.kind, .refused)
                return e.message
            } catch { return "\(error)" }
        }
        let d = "\"digest\":\"\(digest)\""
        XCTAssertTrue(refusal(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#).contains("image index"))
        XCTAssertTrue(refusal(#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json",\#(d),"size":1},"layers":[]}"#).contains("Docker container image"))
        XCTAssertTrue(refusal(#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json",\#(d),"size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",\#(d),"size":1}]}"#,
                              contentType: MediaType.ociManifest).contains("container image"))
        XCTAssertTrue(refusal(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cncf.helm.chart","config":{"mediaType":"application/vnd.oci.empty.v1+json",\#(d),"size":2},"layers":[]}"#).contains("application/vnd.cncf.helm.chart"))
        XCTAssertTrue(refusal(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.irzoo.model.v1+json","config":{"mediaType":"application/vnd.irzoo.model.config.v1+json",\#(d),"size":2},"layers":[]}"#).contains("no layers"))
        XCTAssertTrue(refusal(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.irzoo.model.config.v1+json","digest":"sha512:00","size":2},"layers":[]}"#).contains("sha256"))
        XCTAssertTrue(refusal(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.irzoo.model.config.v1+json",\#(d),"size":-1},"layers":[]}"#).contains("size"))
        XCTAssertTrue(refusal(#"{"schemaVersion":2,"schemaVersion":2}"#).contains("not valid JSON"), "duplicate keys are refused (parser differentials)")
        XCTAssertTrue(refusal("[]").contains("not a JSON object"))
    }

    func testConfigIsTheStoreManifestWithBothDigestsAndParsesStrictly() throws {
        let stored = """
            {"schema_version": 1, "name": "m", "architecture": "symunet", "variant": null, "config": {"width": 8},
             "blob": {"digest": "\(String(repeating: "cd", count: 32))", "size": 4096, "content_id": "\(String(repeating: "ef", count: 32))", "format_version": "1.0"},
             "source": {"file_name": "m.pth", "sha256": "\(String(repeating: "12", count: 32))", "container": "torch-zip", "size": 5000, "wrapper": "params"},
             "tensors": {"count": 2, "parameters": 100, "bytes": 400, "dtypes": {"f32": 2}},
             "imported": "2026-11-24T06:00:00Z", "verified": {"time": "2026-11-24T06:00:00Z", "intact": true, "problems": []},
             "remotes": ["127.0.0.1:5000/team/m"]}
            """
        let m = try StoreManifest(json: try JSON.parse(stored), path: "m.json")
        let json = ModelArtifact.configJSON(for: m, ociDigests: [digest])
        XCTAssertNil(json["verified"], "what only this machine knows stays here")
        XCTAssertNil(json["remotes"])
        XCTAssertEqual(json["blob"]?["digest"], JSON.string(String(repeating: "cd", count: 32)), "the tree digest the store names blobs by")
        XCTAssertEqual(json["blob"]?["oci_digest"], JSON.string(digest), "the SHA-256 of the file's bytes")
        let back = try ModelArtifact.parseConfig(json.serializedBytes(), what: "cfg")
        XCTAssertEqual(back.blob.ociDigest, digest)
        XCTAssertEqual(back.architecture, "symunet")
        XCTAssertEqual(back.config, m.config)
        var broken = json.objectValue!
        broken["blob"] = .object([("digest", .string("nothex"))])
        XCTAssertThrowsError(try ModelArtifact.parseConfig(JSON.object(broken).serializedBytes(), what: "cfg")) { e in
            XCTAssertEqual((e as? DistributionError)?.kind, .refused)
        }
    }
}
