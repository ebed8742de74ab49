#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IRTestSupport
import XCTest

/// Requests an attacker would send (docs/SERVE.md, "Safe by default"): another site's Host
/// (DNS rebinding) or Origin (CSRF), uploads over the byte or pixel limits, file names that look
/// like paths, a thousand submissions at once, requests without the token.
final class ServeHostileTests: XCTestCase {
    func testForeignHostIsRefused() throws {
        let server = try ServeProcess()
        let http = server.client()
        for host in ["evil.example:\(server.port)", "evil.example", "127.0.0.1:\(server.port + 1)", "127.0.0.1", "localhost.evil.example:\(server.port)",
                     "[::1]:1"] {
            let r = try http.request("GET", "/api/models", host: host)
            XCTAssertEqual(r.status, 403, "Host \(host): \(r.text)")
            XCTAssertTrue(r.text.contains("not this server"), r.text)
        }
        let page = try http.request("GET", "/", host: "rebound.example:\(server.port)")
        XCTAssertEqual(page.status, 403, "the page too")
        XCTAssertEqual(try http.request("GET", "/api/models", host: "").status, 400, "no Host at all")
        for malformed in ["127.0.0.1:\(server.port)@evil.example", "127.0.0.1:\(server.port)/x", "a:b:c", "127.0.0.1:99999"] {
            XCTAssertEqual(try http.request("GET", "/api/models", host: malformed).status, 400, malformed)
        }
        for host in ["localhost:\(server.port)", "127.0.0.1:\(server.port)", "[::1]:\(server.port)", "LOCALHOST:\(server.port)"] {
            XCTAssertEqual(try http.request("GET", "/api/models", host: host).status, 200, host)
        }
    }

    func testForeignOriginIsRefused() throws {
        let server = try ServeProcess()
        let http = server.client()
        let input = try ServeFixtures.inputPNG(in: server.dir)
        for origin in ["http://evil.example", "http://evil.example:\(server.port)", "null", "https://127.0.0.1:\(server.port)",
                       "http://127.0.0.1:\(server.port + 1)", "file://"] {
            let r = try http.submit(image: input.data, headers: [("Origin", origin)])
            XCTAssertEqual(r.status, 403, "Origin \(origin): \(r.text)")
            let cancel = try http.request("POST", "/api/jobs/00000000-0000-0000-0000-000000000000/cancel", headers: [("Origin", origin)])
            XCTAssertEqual(cancel.status, 403)
        }
        let crossSite = try http.request("GET", "/api/jobs", headers: [("Sec-Fetch-Site", "cross-site")])
        XCTAssertEqual(crossSite.status, 403, crossSite.text)
        XCTAssertEqual(try http.submit(image: input.data, headers: [("Origin", "http://localhost:\(server.port)")]).status, 202)
        XCTAssertEqual(try http.request("GET", "/api/jobs", headers: [("Sec-Fetch-Site", "same-origin")]).status, 200)
        // Nothing refused left a job behind.
        XCTAssertEqual((try http.request("GET", "/api/jobs").json()["jobs"] as? [Any])?.count, 1)
    }

    func testOversizeUploadIsRefused() throws {
        let server = try ServeProcess(["--max-upload-mb", "1"])
        let http = server.client()
        let big = Data(repeating: 0x41, count: 3 << 20)
        // Announced: refused from Content-Length, before the body is read.
        let announced = try http.submit(image: big)
        XCTAssertEqual(announced.status, 413, announced.text)
        XCTAssertTrue(announced.text.contains("limit of 1048576 bytes"), announced.text)
        // Not announced (chunked): refused once the limit is passed.
        let body = RawHTTP.multipart([RawHTTP.Part(name: "model", data: Data("tiny".utf8)), RawHTTP.Part(name: "image", filename: "a.png", data: big)])
        var chunked = Data()
        var i = 0
        while i < body.count {
            let piece = body[i..<min(body.count, i + 65536)]
            chunked.append(Data((String(piece.count, radix: 16) + "\r\n").utf8) + piece + Data("\r\n".utf8))
            i += piece.count
        }
        chunked.append(Data("0\r\n\r\n".utf8))
        let r = try http.request("POST", "/api/jobs", headers: [("Content-Type", "multipart/form-data; boundary=\(RawHTTP.boundary)"),
                                                               ("Transfer-Encoding", "chunked")], body: chunked, contentLengthHeader: false)
        XCTAssertEqual(r.status, 413, r.text)
        XCTAssertTrue(server.tempFiles().allSatisfy { !$0.contains("/") }, "no job folder: \(server.tempFiles())")
        XCTAssertEqual(try http.request("GET", "/api/info").status, 200, "still serving")
    }

    func testPixelBombIsRefusedBeforeDecoding() throws {
        let server = try ServeProcess(["--max-megapixels", "24"])
        let http = server.client()
        for (w, h) in [(100_000, 100_000), (5000, 5000), (999_999, 999_999)] as [(UInt32, UInt32)] {
            let bomb = ServeFixtures.bombPNG(width: w, height: h)
            let r = try http.submit(image: bomb, filename: "bomb.png")
            XCTAssertEqual(r.status, 413, "\(w)x\(h): \(r.text)")
            XCTAssertTrue(r.text.contains("refused before decoding"), r.text)
        }
        // The upload was removed with its job folder.
        XCTAssertTrue(server.tempFiles().allSatisfy { !$0.contains("/") }, "\(server.tempFiles())")
        XCTAssertEqual((try http.request("GET", "/api/jobs").json()["jobs"] as? [Any])?.count, 0)
    }

    /// File names are shown, never used as paths: the upload lands under the server's own name.
    func testPathLikeFileNamesStayNames() throws {
        let server = try ServeProcess()
        let http = server.client()
        let input = try ServeFixtures.inputPNG(in: server.dir)
        let names = ["../../../../tmp/pwned.png": "pwned.png", "/etc/passwd": "passwd", "..\\\\..\\\\win.png": "win.png",
                     "..": "image", "a\u{202E}gnp.exe": "a_gnp.exe", "x\u{1B}[31mred.png": "x_[31mred.png"]
        for (raw, shown) in names {
            let r = try http.submit(image: input.data, filename: raw)
            XCTAssertEqual(r.status, 202, "\(raw): \(r.text)")
            let job = try r.json()
            XCTAssertEqual((job["input"] as? [String: Any])?["name"] as? String, shown, raw)
            let final = try http.waitFinal(try XCTUnwrap(job["id"] as? String))
            XCTAssertEqual(final["state"] as? String, "done")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/pwned.png"))
        // Every file the server wrote is input.png or result.png inside a job folder of its own.
        for f in server.tempFiles() where f.split(separator: "/").count == 3 {
            XCTAssertTrue(f.hasSuffix("/input.png") || f.hasSuffix("/result.png"), f)
        }
    }

    /// A thousand submissions on a thousand connections at once: each gets an answer (202 or 429),
    /// none is lost, and no more than the queue's capacity wait at a time.
    func testThousandConcurrentSubmissions() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = min(limit.rlim_max, 8192)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let server = try ServeProcess(["--queue", "8", "--keep-finished", "2000"])
        let http = server.client()
        let input = try ServeFixtures.inputPNG(in: server.dir)
        let body = RawHTTP.multipart([RawHTTP.Part(name: "model", data: Data("tiny".utf8)), RawHTTP.Part(name: "image", filename: "in.png", data: input.data)])
        let request = http.head("POST", "/api/jobs", host: nil, headers: [("Content-Type", "multipart/form-data; boundary=\(RawHTTP.boundary)")], body: body) + body
        let n = 1000
        // Every connection opened and every request sent before any answer is read.
        var sockets = [Int32]()
        for _ in 0..<n {
            let fd = try http.connect()
            sockets.append(fd)
            try http.send(fd, request)
        }
        var accepted = [String](), busy = 0, other = [String]()
        for fd in sockets {
            defer { close(fd) }
            let r = try http.readReply(fd)
            switch r.status {
            case 202: accepted.append(try XCTUnwrap(r.json()["id"] as? String))
            case 429:
                busy += 1
                XCTAssertEqual(r.header("Retry-After"), "2")
            default: other.append("\(r.status) \(r.text)")
            }
        }
        XCTAssertEqual(other, [], "every submission is answered 202 or 429")
        XCTAssertEqual(accepted.count + busy, n)
        XCTAssertGreaterThanOrEqual(accepted.count, 8)
        XCTAssertGreaterThan(busy, 0, "a queue of 8 cannot take 1000 at once")
        XCTAssertEqual(Set(accepted).count, accepted.count, "ids are unique")
        for id in accepted { XCTAssertEqual(try http.waitFinal(id)["state"] as? String, "done", id) }
        let jobs = try XCTUnwrap(try http.request("GET", "/api/jobs").json()["jobs"] as? [[String: Any]])
        XCTAssertEqual(jobs.count, accepted.count, "none lost, none invented")
        XCTAssertTrue(server.process.isRunning)
    }

    func testTokenIsCheckedOnEveryRequest() throws {
        let token = "s3cret-token-0123456789"
        let server = try ServeProcess(["--token", token])
        let http = server.client()
        for path in ["/", "/app.js", "/api/models", "/api/jobs", "/api/info"] {
            XCTAssertEqual(try http.request("GET", path).status, 401, path)
            XCTAssertEqual(try http.request("GET", path, headers: [("Authorization", "Bearer wrong-token-0123456789")]).status, 401, path)
            XCTAssertEqual(try http.request("GET", path, headers: [("Authorization", "Bearer \(token)")]).status, 200, path)
            XCTAssertEqual(try http.request("GET", path, headers: [("Cookie", "a=b; irzoo_token=\(token)")]).status, 200, path)
        }
        // The page entry sets the cookie and drops the token from the address.
        let entry = try http.request("GET", "/?token=\(token)")
        XCTAssertEqual(entry.status, 303)
        XCTAssertEqual(entry.header("Location"), "/")
        XCTAssertEqual(entry.header("Set-Cookie"), "irzoo_token=\(token); Path=/; HttpOnly; SameSite=Strict")
        XCTAssertEqual(try http.request("GET", "/?token=nope").status, 401)
        XCTAssertTrue(server.stdout.contains("?token=\(token)"), server.stdout)
    }

    func testOpenHostNeedsAToken() throws {
        let refused = try TestSupport.runCLI(["serve", "--host", "0.0.0.0", "--port", "0"], env: ["IRZOO_HOME": NSTemporaryDirectory() + "/irzoo-serve-none"])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("needs --token"), refused.stderr)
        let short = try TestSupport.runCLI(["serve", "--token", "short", "--port", "0"], env: ["IRZOO_HOME": NSTemporaryDirectory() + "/irzoo-serve-none"])
        XCTAssertEqual(short.status, 2, short.stderr)

        let token = "open-token-0123456789abcdef"
        let server = try ServeProcess(["--host", "0.0.0.0", "--token", token], importTiny: false)
        XCTAssertTrue(server.stderr.contains("warning: listening on 0.0.0.0"), server.stderr)
        let http = server.client()
        XCTAssertEqual(try http.request("GET", "/api/models").status, 401)
        XCTAssertEqual(try http.request("GET", "/api/models", host: "192.0.2.7:\(server.port)", headers: [("Authorization", "Bearer \(token)")]).status, 200)
        let cross = try http.request("GET", "/api/models", host: "192.0.2.7:\(server.port)",
                                     headers: [("Authorization", "Bearer \(token)"), ("Origin", "http://other.example:\(server.port)")])
        XCTAssertEqual(cross.status, 403)
    }

    /// SIGTERM: the server stops and its private folder (uploads, results) goes with it.
    func testStopRemovesThePrivateFolder() throws {
        let server = try ServeProcess()
        let input = try ServeFixtures.inputPNG(in: server.dir)
        let r = try server.client().submit(image: input.data)
        _ = try server.client().waitFinal(try XCTUnwrap(r.json()["id"] as? String))
        XCTAssertFalse(server.tempFiles().isEmpty)
        server.stop()
        XCTAssertEqual(server.process.terminationStatus, 0, server.stderr)
        XCTAssertEqual(server.tempFiles(), [])
    }
}
