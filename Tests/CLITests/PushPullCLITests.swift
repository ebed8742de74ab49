#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IRTensor
import IRTestSupport
import XCTest

/// Issue 16: `irzoo push` and `irzoo pull` against a real CNCF Distribution registry (Debian's
/// docker-registry, started here on a free loopback port and stopped by PID), with a token
/// service, a fault-injecting proxy and a second "blob storage" host of the test's own.
final class PushPullCLITests: XCTestCase {
    /// Store A (the pusher) and store B (a fresh machine).
    var a: CLIHarness!
    var b: CLIHarness!

    override func setUpWithError() throws {
        try RegistryServer.requireInstalled()
        a = CLIHarness()
        b = CLIHarness()
    }

    override func tearDown() {
        a = nil
        b = nil
    }

    /// A registry that lives as long as the test (stopped by PID in teardown, also on failure).
    func startRegistry(_ auth: RegistryServer.Auth = .anonymous) throws -> RegistryServer {
        let r = try RegistryServer(auth: auth)
        addTeardownBlock { r.stop() }
        return r
    }

    func importTiny(_ h: CLIHarness, name: String = "tiny") throws {
        let r = try h.run(["import", golden("symunet-tiny", "checkpoint.pth"), "--arch", "symunet", "--name", name])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// A raw model of `tensors` x `elements` f32 values (32 MiB for 8 x 1M), imported as `name`.
    func importBig(_ h: CLIHarness, name: String, tensors: Int = 8, elements: Int = 1 << 20, seed: Int = 7) throws {
        let source = try h.makeSource("\(name).irw", tensors: tensors, elements: elements, seed: seed)
        XCTAssertEqual(try h.run(["import", source, "--name", name]).status, 0)
    }

    /// A registry holding model `name` (raw, `tensors` x `elements` f32), pushed from store A to
    /// team/NAME:v1; returns the registry and that reference.
    func registryWithPushed(_ name: String, tensors: Int = 8, elements: Int = 1 << 20) throws -> (RegistryServer, String) {
        let registry = try startRegistry()
        try importBig(a, name: name, tensors: tensors, elements: elements)
        let ref = "\(registry.address)/team/\(name):v1"
        let r = try a.run(["push", name, ref])
        XCTAssertEqual(r.status, 0, r.stderr)
        return (registry, ref)
    }

    /// The store is exactly as an empty one: no model, no blob, no temp, no partial download.
    func assertEmptyStore(_ h: CLIHarness, _ what: String, line: UInt = #line) throws {
        XCTAssertEqual(try h.installed(), [], what, line: line)
        XCTAssertEqual(h.entries("blobs"), [], what, line: line)
        XCTAssertEqual(h.entries("tmp"), [], what, line: line)
        XCTAssertEqual(h.entries("partial"), [], what, line: line)
    }

    func oneLine(_ stderr: String, line: UInt = #line) {
        let lines = stderr.split(separator: "\n").filter { !$0.hasPrefix("irzoo: note:") }
        XCTAssertEqual(lines.count, 1, stderr, line: line)
        XCTAssertTrue(lines.first?.hasPrefix("irzoo: error: ") == true, stderr, line: line)
    }

    // MARK: - the whole round trip

    func testPushPullVerifyRunPullAgainAndMount() throws {
        let registry = try startRegistry()
        let ref = "\(registry.address)/team/tiny:v1"
        try importTiny(a)

        let pushed = try a.json(["push", "tiny", ref])
        XCTAssertEqual(pushed["status"], .string("pushed"))
        XCTAssertEqual(pushed["artifact_type"], .string("application/vnd.irzoo.model.v1+json"))
        let blobs = try XCTUnwrap(pushed["blobs"]?.arrayValue)
        XCTAssertEqual(blobs.map { $0["action"] }, [.string("uploaded"), .string("uploaded")])
        let manifestDigest = try XCTUnwrap(pushed["manifest_digest"]?.stringValue)
        let layerDigest = try XCTUnwrap(blobs[1]["digest"]?.stringValue)
        let treeDigest = try XCTUnwrap(a.json(["show", "tiny"])["blob"]?["digest"]?.stringValue)
        XCTAssertEqual(blobs[1]["irw_digest"], .string(treeDigest))
        // The layer's OCI digest is the SHA-256 of the .irw file's bytes, not the tree digest.
        let blobBytes = Array(try Data(contentsOf: URL(fileURLWithPath: "\(a.home)/blobs/sha256-\(treeDigest).irw")))
        XCTAssertEqual(layerDigest, RegistryHTTP.sha256(blobBytes))
        XCTAssertNotEqual(layerDigest, "sha256:" + treeDigest)
        XCTAssertEqual(try a.json(["show", "tiny"])["blob"]?["oci_digest"], .string(layerDigest), "show --json reports both digests")

        // What the registry holds: an image-spec 1.1 artifact with the standard annotations.
        let m = try RegistryHTTP.manifest(registry.address, "team/tiny", "v1")
        XCTAssertEqual(m.status, 200)
        XCTAssertEqual(m.digest, manifestDigest)
        let manifest = try XCTUnwrap(m.json)
        XCTAssertEqual(manifest["artifactType"], .string("application/vnd.irzoo.model.v1+json"))
        XCTAssertEqual(manifest["config"]?["mediaType"], .string("application/vnd.irzoo.model.config.v1+json"))
        XCTAssertEqual(manifest["layers"]?.arrayValue?.count, 1)
        XCTAssertEqual(manifest["layers"]?.arrayValue?[0]["mediaType"], .string("application/vnd.irzoo.irw.v1"))
        XCTAssertEqual(manifest["layers"]?.arrayValue?[0]["size"], .int(blobBytes.count))
        XCTAssertEqual(manifest["annotations"]?["org.opencontainers.image.title"], .string("tiny"))
        XCTAssertEqual(manifest["annotations"]?["org.opencontainers.image.source"], .string("https://github.com/WenlongJiao/SymUNet"))
        XCTAssertNotNil(manifest["annotations"]?["org.opencontainers.image.created"]?.stringValue)

        // Pushing again sends nothing: the registry has both blobs (HEAD).
        let again = try a.json(["push", "tiny", ref])
        XCTAssertEqual(again["blobs"]?.arrayValue?.map { $0["action"] }, [.string("exists"), .string("exists")])
        XCTAssertEqual(again["bytes_sent"], .int(0))
        XCTAssertEqual(again["manifest_digest"], .string(manifestDigest), "the same model gives the same manifest")

        // A fresh store pulls it, verifies it, and runs it exactly as the original does.
        let pulled = try b.json(["pull", ref])
        XCTAssertEqual(pulled["status"], .string("installed"))
        XCTAssertEqual(pulled["manifest_digest"], .string(manifestDigest))
        XCTAssertEqual(pulled["blobs"]?.arrayValue?[0]["action"], .string("downloaded"))
        XCTAssertEqual(pulled["bytes_received"], .int(blobBytes.count))
        XCTAssertEqual(pulled["manifest"]?["name"], .string("tiny"), "named as it was pushed")
        XCTAssertEqual(pulled["manifest"]?["blob"]?["digest"], .string(treeDigest))
        XCTAssertEqual(pulled["manifest"]?["blob"]?["oci_digest"], .string(layerDigest))
        XCTAssertEqual(pulled["manifest"]?["remotes"], .array([.string("\(registry.address)/team/tiny")]))
        XCTAssertEqual(try b.json(["verify"])["intact"], .bool(true))
        let input = golden("symunet-tiny", "input.npy")
        XCTAssertEqual(try a.run(["run", "tiny", "--input", input, "--output", a.path("a.npy")]).status, 0)
        XCTAssertEqual(try b.run(["run", "tiny", "--input", input, "--output", b.path("b.npy")]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a.path("a.npy"))), try Data(contentsOf: URL(fileURLWithPath: b.path("b.npy"))))
        XCTAssertLessThanOrEqual(maxAbs(try npy(b.path("b.npy")).values, try npy(golden("symunet-tiny", "output.npy")).values), 1e-4)

        // Pulling again transfers nothing; under another name it shares the blob.
        let twice = try b.json(["pull", ref])
        XCTAssertEqual(twice["status"], .string("already-installed"))
        XCTAssertEqual(twice["bytes_received"], .int(0))
        XCTAssertEqual(twice["blobs"]?.arrayValue?[0]["action"], .string("present"))
        let other = try b.json(["pull", "\(registry.address)/team/tiny@\(manifestDigest)", "--name", "tiny-copy"])
        XCTAssertEqual(other["status"], .string("installed-shared"))
        XCTAssertEqual(other["bytes_received"], .int(0))
        XCTAssertEqual(b.entries("blobs").count, 1)
        XCTAssertEqual(b.entries("partial"), [])

        // B knows the model lives in team/tiny: a push to another repository mounts the layer.
        let mounted = try b.json(["push", "tiny", "\(registry.address)/other/tiny:latest"])
        XCTAssertEqual(mounted["blobs"]?.arrayValue?[1]["action"], .string("mounted"))
        XCTAssertEqual(mounted["blobs"]?.arrayValue?[1]["mounted_from"], .string("team/tiny"))
        XCTAssertEqual(try RegistryHTTP.manifest(registry.address, "other/tiny", "latest").status, 200)

        // A tag that does not exist: one line, status 5, nothing installed.
        let c = CLIHarness()
        let missing = try c.run(["pull", "\(registry.address)/team/tiny:nope"])
        XCTAssertEqual(missing.status, 5, missing.stderr)
        oneLine(missing.stderr)
        XCTAssertTrue(missing.stderr.contains("no such tag"), missing.stderr)
        XCTAssertEqual(try c.run(["pull", "\(registry.address)/nobody/here"]).status, 5)
        XCTAssertEqual(try c.installed(), [])
        // Text output names what happened.
        let text = try c.run(["pull", ref])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("installed tiny (symunet") && text.stdout.contains("downloaded"), text.stdout)
    }

    // MARK: - authentication

    /// A pipeline (issue 14) travels as one artifact with a layer per blob, each annotated with
    /// its role; the pulled record names the same blobs, verifies, runs, and a second pull
    /// transfers nothing.
    func testPipelinePushPullVerifyRunAndPullAgain() throws {
        let registry = try startRegistry()
        let ref = "\(registry.address)/team/sdxl:v1"
        XCTAssertEqual(try a.run(["import", TestSupport.fixture("hub/sdxl-pipeline"), "--name", "sdxl"]).status, 0)
        let pushed = try a.json(["push", "sdxl", ref])
        XCTAssertEqual(pushed["status"], .string("pushed"))
        let roles = ["pipeline", "unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"]
        XCTAssertEqual(pushed["blobs"]?.arrayValue?.compactMap { $0["role"]?.stringValue }, ["config"] + roles)
        let manifest = try XCTUnwrap(try RegistryHTTP.manifest(registry.address, "team/sdxl", "v1").json)
        XCTAssertEqual(manifest["layers"]?.arrayValue?.compactMap { $0["annotations"]?["dev.irzoo.component"]?.stringValue }, roles)

        let pulled = try b.json(["pull", ref])
        XCTAssertEqual(pulled["status"], .string("installed"))
        let shownA = try a.json(["show", "sdxl"]), shownB = try b.json(["show", "sdxl"])
        func digests(_ j: JSON) -> [String?] { [j["blob"]?["digest"]?.stringValue] + (j["components"]?.arrayValue ?? []).map { $0["blob"]?["digest"]?.stringValue } }
        XCTAssertEqual(digests(shownB), digests(shownA))
        XCTAssertEqual(shownB["components"]?.arrayValue?.compactMap { $0["role"]?.stringValue }, Array(roles.dropFirst()))
        XCTAssertEqual(try b.json(["verify", "sdxl"])["intact"], .bool(true))
        for h in [a!, b!] {
            XCTAssertEqual(try h.run(["run", "sdxl", "--prompt", "a cat", "--component", "text_encoder_2", "--output", h.path("te2.npy")]).status, 0)
        }
        XCTAssertEqual(try npyValues(a.path("te2.npy")), try npyValues(b.path("te2.npy")))

        let again = try b.json(["pull", ref])
        XCTAssertEqual(again["status"], .string("already-installed"))
        XCTAssertEqual(again["bytes_received"], .int(0))
        XCTAssertTrue(again["blobs"]?.arrayValue?.allSatisfy { $0["action"] == .string("present") } == true)
    }

    func testBasicAuthFromTheEnvironmentAndDockerConfig() throws {
        let registry = try startRegistry(.basic(user: "alice", password: "s3cret"))
        let ref = "\(registry.address)/team/tiny:v1"
        try importTiny(a)

        let anonymous = try a.run(["push", "tiny", ref])
        XCTAssertEqual(anonymous.status, 1, anonymous.stderr)
        oneLine(anonymous.stderr)
        XCTAssertTrue(anonymous.stderr.contains("requires credentials"), anonymous.stderr)

        let wrong = try a.run(["push", "tiny", ref], env: ["IRZOO_REGISTRY_USER": "alice", "IRZOO_REGISTRY_PASSWORD": "nope"])
        XCTAssertEqual(wrong.status, 1, wrong.stderr)
        oneLine(wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("401") && wrong.stderr.contains("IRZOO_REGISTRY_USER"), wrong.stderr)

        let ok = try a.run(["push", "tiny", ref], env: ["IRZOO_REGISTRY_USER": "alice", "IRZOO_REGISTRY_PASSWORD": "s3cret"])
        XCTAssertEqual(ok.status, 0, ok.stderr)

        // docker login's file: ~/.docker/config.json, auths[host].auth = base64(user:password).
        let home = b.path("home")
        try FileManager.default.createDirectory(atPath: home + "/.docker", withIntermediateDirectories: true)
        let auth = Data("alice:s3cret".utf8).base64EncodedString()
        try #"{"auths": {"\#(registry.address)": {"auth": "\#(auth)"}}}"#.write(toFile: home + "/.docker/config.json", atomically: true, encoding: .utf8)
        let pulled = try b.run(["pull", ref, "--json"], env: ["HOME": home])
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        XCTAssertEqual(try b.json(["verify"])["intact"], .bool(true))
        XCTAssertEqual(try CLIHarness().run(["pull", ref]).status, 1, "no credentials, no pull")
    }

    func testBearerTokenChallengeFlow() throws {
        let tokens = try TokenServer(user: "bob", password: "hunter2", dir: a.dir)
        let registry = try startRegistry(.token(realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, certPath: tokens.certPath))
        let ref = "\(registry.address)/team/tiny:v1"
        try importTiny(a)
        let creds = ["IRZOO_REGISTRY_USER": "bob", "IRZOO_REGISTRY_PASSWORD": "hunter2"]

        let pushed = try a.run(["push", "tiny", ref, "--json"], env: creds)
        XCTAssertEqual(pushed.status, 0, pushed.stderr + registry.log)
        // irzoo asked the realm the registry named, for this repository, with its credentials.
        let asked = tokens.requests
        XCTAssertFalse(asked.isEmpty)
        XCTAssertTrue(asked.allSatisfy { $0.headers.first(name: "Authorization")?.hasPrefix("Basic ") == true })
        XCTAssertTrue(asked.contains { $0.query.contains { $0 == ("scope", "repository:team/tiny:pull,push") } }, "\(asked.map { $0.uri })")
        XCTAssertTrue(asked.allSatisfy { $0.query.contains { $0 == ("service", tokens.service) } })

        // Anonymous tokens grant pull only: pulling works, pushing is refused.
        let pulled = try b.run(["pull", ref])
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        XCTAssertEqual(try b.json(["verify"])["intact"], .bool(true))
        let refused = try b.run(["push", "tiny", "\(registry.address)/team/other:v1"])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        oneLine(refused.stderr)
        let wrong = try CLIHarness().run(["pull", ref], env: ["IRZOO_REGISTRY_USER": "bob", "IRZOO_REGISTRY_PASSWORD": "wrong"])
        XCTAssertEqual(wrong.status, 1, wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("token service") && wrong.stderr.contains("refused the credentials"), wrong.stderr)
    }

    func testRedirectToBlobStorageDoesNotLeakAuthorization() throws {
        let registry = try startRegistry(.basic(user: "alice", password: "s3cret"))
        let basic = "Basic " + Data("alice:s3cret".utf8).base64EncodedString()
        let proxy = try FaultProxy(upstream: registry.address, upstreamAuthorization: basic)
        try importTiny(a)
        let creds = ["IRZOO_REGISTRY_USER": "alice", "IRZOO_REGISTRY_PASSWORD": "s3cret"]
        XCTAssertEqual(try a.run(["push", "tiny", "\(proxy.address)/team/tiny:v1"], env: creds).status, 0)
        try proxy.redirectBlobs()
        let pulled = try b.run(["pull", "\(proxy.address)/team/tiny:v1"], env: creds)
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        XCTAssertEqual(try b.json(["verify"])["intact"], .bool(true))
        let redirected = proxy.log.filter { $0.status == 307 }
        XCTAssertFalse(redirected.isEmpty, "blob GETs were redirected")
        XCTAssertTrue(redirected.allSatisfy { $0.authorized }, "the registry got the credentials")
        XCTAssertFalse(proxy.blobHostLog.isEmpty, "the blobs came from the other host")
        XCTAssertTrue(proxy.blobHostLog.allSatisfy { !$0.authorized }, "the other host never saw an Authorization header")
    }

    // MARK: - faults

    func testRegistryKilledMidPullIsResumedWithRange() throws {
        let (registry, ref) = try registryWithPushed("big")
        let marker = b.path("paused")
        let out = b.path("pull.json")
        let p = try b.start(["pull", ref, "--json"], env: ["IRZOO_TEST_PAUSE_AT": "downloading", "IRZOO_TEST_PAUSE_MARKER": marker,
                                                           "IRZOO_TEST_PAUSE_SECONDS": "2"],
                            shell: "exec >\(out)")
        XCTAssertTrue(b.waitFor(marker), "never paused")
        registry.kill9()
        sleep(3) // the pull wakes up to a dead registry and backs off
        try registry.start()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let doc = try JSON.parse(String(contentsOfFile: out, encoding: .utf8))
        let blob = try XCTUnwrap(doc["blobs"]?.arrayValue?.first)
        XCTAssertEqual(blob["action"], .string("resumed"))
        XCTAssertGreaterThan(try XCTUnwrap(blob["resumed_at"]?.intValue), 0)
        XCTAssertEqual(doc["manifest"]?["blob"]?["digest"], try a.json(["show", "big"])["blob"]?["digest"], "resumed to the same digest")
        XCTAssertEqual(try b.json(["verify"])["intact"], .bool(true))
        XCTAssertEqual(b.entries("partial"), [])
    }

    func testKilledPullResumesFromItsPartialDownload() throws {
        let (_, ref) = try registryWithPushed("big")
        let marker = b.path("paused")
        let p = try b.start(["pull", ref], env: ["IRZOO_TEST_PAUSE_AT": "downloading", "IRZOO_TEST_PAUSE_MARKER": marker])
        XCTAssertTrue(b.waitFor(marker), "never paused")
        b.kill9(p)
        XCTAssertEqual(try b.installed(), [], "killed mid-download: nothing installed")
        XCTAssertEqual(b.entries("blobs"), [])
        XCTAssertEqual(b.entries("partial").count, 1, "the bytes received are kept for the next pull")
        let again = try b.json(["pull", ref])
        let blob = try XCTUnwrap(again["blobs"]?.arrayValue?.first)
        XCTAssertEqual(blob["action"], .string("resumed"))
        let at = try XCTUnwrap(blob["resumed_at"]?.intValue)
        XCTAssertGreaterThanOrEqual(at * 2, try XCTUnwrap(blob["size"]?.intValue), "resumed at least half way")
        XCTAssertEqual(again["bytes_received"]?.intValue, try XCTUnwrap(blob["size"]?.intValue) - at)
        XCTAssertEqual(try b.json(["verify"])["intact"], .bool(true))
        XCTAssertEqual(b.entries("partial"), [])
        // gc frees an interrupted download nobody resumes (and a pull in progress keeps its own).
        let c = CLIHarness()
        let p2 = try c.start(["pull", ref], env: ["IRZOO_TEST_PAUSE_AT": "downloading", "IRZOO_TEST_PAUSE_MARKER": c.path("paused")])
        XCTAssertTrue(c.waitFor(c.path("paused")), "never paused")
        XCTAssertEqual(try c.json(["gc"])["partials"]?.arrayValue?.count, 0, "a pull is writing it: kept")
        c.kill9(p2)
        let gc = try c.json(["gc"])
        XCTAssertEqual(gc["partials"]?.arrayValue?.count, 1)
        XCTAssertGreaterThan(try XCTUnwrap(gc["freed_bytes"]?.intValue), 0)
        XCTAssertEqual(c.entries("partial"), [])
    }

    func testKill9AtEveryPullStepLeavesTheStoreBeforeOrAfter() throws {
        let (_, ref) = try registryWithPushed("victim", tensors: 4, elements: 1 << 18)
        for (step, after) in [("downloading", false), ("downloaded", false), ("verified", false), ("locked", false),
                              ("intent", false), ("blob", false), ("manifest", true)] {
            let h = CLIHarness()
            XCTAssertEqual(try h.run(["import", h.makeSource("base.irw", seed: 1), "--name", "base"]).status, 0)
            let baseBlobs = h.entries("blobs")
            let marker = h.path("paused-\(step)")
            let p = try h.start(["pull", ref], env: ["IRZOO_TEST_PAUSE_AT": step, "IRZOO_TEST_PAUSE_MARKER": marker])
            XCTAssertTrue(h.waitFor(marker), "\(step): never paused")
            h.kill9(p)
            let names = try h.installed() // the next command sweeps what the crash left
            XCTAssertEqual(h.entries("tmp"), [], step)
            if after {
                XCTAssertEqual(names, ["base", "victim"], step)
                XCTAssertEqual(try h.run(["verify"]).status, 0, step)
            } else {
                XCTAssertEqual(names, ["base"], step)
                XCTAssertEqual(h.entries("blobs"), baseBlobs, "\(step): no orphan blob")
            }
            let again = try h.run(["pull", ref])
            XCTAssertEqual(again.status, 0, "\(step): \(again.stderr)")
            XCTAssertEqual(try h.installed(), ["base", "victim"], step)
            XCTAssertEqual(h.entries("partial"), [], step)
        }
    }

    func testTamperedOrOversizedContentIsRefusedAndTheStoreUnchanged() throws {
        let registry = try startRegistry()
        try importTiny(a)
        let ref = "\(registry.address)/team/tiny:v1"
        let pushed = try a.json(["push", "tiny", ref])
        let layer = try XCTUnwrap(pushed["blobs"]?.arrayValue?[1]["digest"]?.stringValue)
        let config = try XCTUnwrap(pushed["blobs"]?.arrayValue?[0]["digest"]?.stringValue)
        let manifestDigest = try XCTUnwrap(pushed["manifest_digest"]?.stringValue)

        func tampering(_ path: String, _ change: (inout [UInt8]) -> Void, expect: String, line: UInt = #line) throws {
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            var bytes = Array(original)
            change(&bytes)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            defer { try? original.write(to: URL(fileURLWithPath: path)) }
            let h = CLIHarness()
            XCTAssertEqual(try h.run(["list"]).status, 0)
            let r = try h.run(["pull", ref])
            XCTAssertEqual(r.status, 3, r.stderr, line: line)
            oneLine(r.stderr, line: line)
            XCTAssertTrue(r.stderr.contains(expect), r.stderr, line: line)
            try assertEmptyStore(h, expect, line: line)
        }
        let layerPath = registry.blobDataPath(layer)
        try tampering(layerPath, { $0[$0.count / 2] ^= 0x01 }, expect: "hashes to")
        try tampering(layerPath, { $0 += [0, 0, 0, 0] }, expect: "the manifest says")
        try tampering(registry.blobDataPath(config), { $0[$0.count / 2] ^= 0x01 }, expect: "config blob")
        try tampering(registry.blobDataPath(manifestDigest), { bytes in
            let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"tiny\"", with: "\"evil\"")
            bytes = Array(text.utf8)
        }, expect: "hash")
        // Intact again: the pull works.
        XCTAssertEqual(try b.run(["pull", ref]).status, 0)
    }

    func testContainerImagesAndOtherArtifactsAreRefused() throws {
        let registry = try startRegistry()
        let layer = try RegistryHTTP.uploadBlob(registry.address, "library/app", Array(repeating: 7, count: 100))
        let imageConfig = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        let configDigest = try RegistryHTTP.uploadBlob(registry.address, "library/app", imageConfig)
        let oci = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(configDigest)","size":\#(imageConfig.count)},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\#(layer)","size":100}]}"#
        XCTAssertEqual(try RegistryHTTP.putManifest(registry.address, "library/app", "oci", Array(oci.utf8), mediaType: "application/vnd.oci.image.manifest.v1+json"), 201)
        let docker = oci.replacingOccurrences(of: "application/vnd.oci.image.manifest.v1+json", with: "application/vnd.docker.distribution.manifest.v2+json")
            .replacingOccurrences(of: "application/vnd.oci.image.config.v1+json", with: "application/vnd.docker.container.image.v1+json")
            .replacingOccurrences(of: "application/vnd.oci.image.layer.v1.tar+gzip", with: "application/vnd.docker.image.rootfs.diff.tar.gzip")
        XCTAssertEqual(try RegistryHTTP.putManifest(registry.address, "library/app", "docker", Array(docker.utf8), mediaType: "application/vnd.docker.distribution.manifest.v2+json"), 201)
        for (tag, expect) in [("oci", "container image"), ("docker", "Docker container image")] {
            let r = try b.run(["pull", "\(registry.address)/library/app:\(tag)"])
            XCTAssertEqual(r.status, 3, r.stderr)
            oneLine(r.stderr)
            XCTAssertTrue(r.stderr.contains(expect), r.stderr)
        }
        try assertEmptyStore(b, "refused images")
    }

    func testTransientFailuresAreRetriedWithBackOffAndUploadsResume() throws {
        let registry = try startRegistry()
        let proxy = try FaultProxy(upstream: registry.address)
        try importBig(a, name: "mid", tensors: 4, elements: 1 << 18) // 4 MiB
        let ref = "\(proxy.address)/team/mid:v1"
        proxy.inject(.init(method: .HEAD, pathContains: "/blobs/", kind: .status(500, retryAfter: nil), times: 1))
        proxy.inject(.init(method: .PATCH, pathContains: "/blobs/uploads/", kind: .status(503, retryAfter: nil), times: 2))
        proxy.inject(.init(method: .PUT, pathContains: "/manifests/", kind: .status(429, retryAfter: 1), times: 1))
        let pushed = try a.run(["push", "mid", ref, "--chunk-mib", "0.5", "--json"])
        XCTAssertEqual(pushed.status, 0, pushed.stderr)
        let doc = try JSON.parse(pushed.stdout)
        XCTAssertEqual(doc["blobs"]?.arrayValue?[1]["resumes"], .int(2), "each failed chunk resumed from the registry's offset")
        XCTAssertNil(doc["blobs"]?.arrayValue?[1]["restarts"])
        XCTAssertTrue(pushed.stderr.contains("retrying") && pushed.stderr.contains("resuming at byte"), pushed.stderr)
        XCTAssertGreaterThanOrEqual(proxy.log.filter { $0.method == .PATCH && $0.status == 202 }.count, 8, "0.5 MiB chunks")

        // A chunk cut off mid-body: distribution 2.8 keeps the part it got and then cancels the
        // session (its stored size is not the offset in the upload's state); the upload starts again.
        try importBig(a, name: "cut", tensors: 4, elements: 1 << 18, seed: 9)
        proxy.inject(.init(method: .PATCH, pathContains: "/blobs/uploads/", kind: .truncateRequest, times: 1))
        let cut = try a.run(["push", "cut", "\(proxy.address)/team/cut:v1", "--chunk-mib", "1", "--json"])
        XCTAssertEqual(cut.status, 0, cut.stderr)
        XCTAssertEqual(try JSON.parse(cut.stdout)["blobs"]?.arrayValue?[1]["restarts"], .int(1), cut.stderr)
        XCTAssertTrue(cut.stderr.contains("lost the upload session"), cut.stderr)
        XCTAssertEqual(try b.json(["pull", "\(registry.address)/team/cut:v1"])["status"], .string("installed"))

        proxy.inject(.init(method: .GET, pathContains: "/manifests/", kind: .status(503, retryAfter: nil), times: 2))
        proxy.inject(.init(method: .GET, pathContains: "/blobs/sha256:", kind: .status(429, retryAfter: 1), times: 1))
        proxy.inject(.init(method: .GET, pathContains: "/blobs/sha256:", kind: .dropAfter(300_000), times: 2))
        let started = Date()
        let pulled = try b.json(["pull", ref])
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 1, "Retry-After: 1 was honoured")
        XCTAssertEqual(pulled["status"], .string("installed"))
        XCTAssertEqual(pulled["blobs"]?.arrayValue?[0]["action"], .string("resumed"))
        XCTAssertEqual(try b.json(["verify"])["intact"], .bool(true))
        let ranged = proxy.log.filter { $0.method == .GET && $0.uri.contains("/blobs/") && $0.status == 206 }
        XCTAssertGreaterThanOrEqual(ranged.count, 1, "dropped transfers continued with Range")

        // A registry that keeps failing: a clear line after the tries, nothing installed.
        proxy.inject(.init(method: .GET, pathContains: "/manifests/", kind: .status(503, retryAfter: nil), times: 3))
        let c = CLIHarness()
        let failed = try c.run(["pull", ref], env: ["IRZOO_REGISTRY_ATTEMPTS": "3"])
        XCTAssertEqual(failed.status, 1, failed.stderr)
        oneLine(failed.stderr)
        XCTAssertTrue(failed.stderr.contains("503") && failed.stderr.contains("after 3 tries"), failed.stderr)
        try assertEmptyStore(c, "503 forever")
        // 403 is not retried: one request, one line.
        proxy.inject(.init(method: .GET, pathContains: "/manifests/", kind: .status(403, retryAfter: nil), times: 1))
        let before = proxy.log.count
        let denied = try c.run(["pull", ref])
        XCTAssertEqual(denied.status, 1, denied.stderr)
        oneLine(denied.stderr)
        XCTAssertTrue(denied.stderr.contains("HTTP 403"), denied.stderr)
        XCTAssertEqual(proxy.log.count - before, 1)
        try assertEmptyStore(c, "403")
    }

    func testRegistryRestartedMidPushKeepsTheUploadSession() throws {
        let registry = try startRegistry()
        try importBig(a, name: "big")
        let ref = "\(registry.address)/team/big:v1"
        let marker = a.path("paused")
        let out = a.path("push.json")
        let p = try a.start(["push", "big", ref, "--chunk-mib", "1", "--json"],
                            env: ["IRZOO_TEST_PAUSE_AT": "uploading", "IRZOO_TEST_PAUSE_MARKER": marker, "IRZOO_TEST_PAUSE_SECONDS": "2"],
                            shell: "exec >\(out)")
        XCTAssertTrue(a.waitFor(marker), "never paused")
        registry.kill9()
        sleep(3) // the next chunk waits for the registry (the client retries the connection)
        try registry.start()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let doc = try JSON.parse(String(contentsOfFile: out, encoding: .utf8))
        // The upload session outlived the registry (its state is in the storage, its token signed
        // with the configured http.secret): every byte was sent once, nothing started again.
        let layer = try XCTUnwrap(doc["blobs"]?.arrayValue?[1])
        XCTAssertEqual(layer["action"], .string("uploaded"))
        XCTAssertEqual(layer["bytes"], layer["size"])
        XCTAssertNil(layer["restarts"])
        let pulled = try b.json(["pull", ref])
        XCTAssertEqual(pulled["manifest"]?["blob"]?["digest"], try a.json(["show", "big"])["blob"]?["digest"])
        XCTAssertEqual(try b.json(["verify"])["intact"], .bool(true))
    }

    func testRegistryRefusingArtifactTypeGetsTheFallbackManifest() throws {
        let registry = try startRegistry()
        let proxy = try FaultProxy(upstream: registry.address)
        proxy.inject(.init(method: .PUT, pathContains: "/manifests/", kind: .rejectArtifactType, times: 100))
        try importTiny(a)
        let pushed = try a.json(["push", "tiny", "\(proxy.address)/team/tiny:v1"])
        XCTAssertEqual(pushed["artifact_type"], .null)
        let m = try XCTUnwrap(RegistryHTTP.manifest(registry.address, "team/tiny", "v1").json)
        XCTAssertNil(m["artifactType"])
        XCTAssertEqual(m["config"]?["mediaType"], .string("application/vnd.irzoo.model.config.v1+json"))
        XCTAssertEqual(try b.json(["pull", "\(registry.address)/team/tiny:v1"])["status"], .string("installed"))
    }

    func testFullDiskDuringPullLeavesTheStoreUnchanged() throws {
        let (_, ref) = try registryWithPushed("big", tensors: 4, elements: 1 << 18) // 4 MiB
        XCTAssertEqual(try b.run(["list"]).status, 0)
        let r = try b.runInShell("ulimit -f 2048", ["pull", ref]) // 1 MiB
        XCTAssertEqual(r.status, 6, r.stderr)
        oneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains("ulimit -f"), r.stderr)
        try assertEmptyStore(b, "disk full")
        XCTAssertEqual(try b.run(["pull", ref]).status, 0, "and with room it works")
    }
}
