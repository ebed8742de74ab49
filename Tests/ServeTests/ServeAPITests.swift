import Foundation
import IRTestSupport
import XCTest

/// `irzoo serve` through its API, as a client sees it: a real server process on a free loopback
/// port, the symunet-tiny golden model imported into its store.
final class ServeAPITests: XCTestCase {
    func testPageAndInfo() throws {
        let server = try ServeProcess()
        let http = server.client()
        let page = try http.request("GET", "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.text.contains("<script src=\"/app.js\""), page.text)
        XCTAssertEqual(page.header("X-Frame-Options"), "DENY")
        XCTAssertTrue(page.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)
        XCTAssertEqual(try http.request("GET", "/app.js").status, 200)
        XCTAssertEqual(try http.request("GET", "/app.css").header("Content-Type"), "text/css; charset=utf-8")
        let info = try http.request("GET", "/api/info").json()
        XCTAssertEqual(info["token_required"] as? Bool, false)
        XCTAssertEqual(info["queue_capacity"] as? Int, 64)
        XCTAssertTrue(server.stdout.contains("http://127.0.0.1:\(server.port)/"), server.stdout)
    }

    func testModelsListsTheStore() throws {
        let server = try ServeProcess()
        let reply = try server.client().request("GET", "/api/models")
        XCTAssertEqual(reply.status, 200, reply.text)
        let models = try XCTUnwrap(try reply.json()["models"] as? [[String: Any]])
        XCTAssertEqual(models.count, 1)
        XCTAssertEqual(models[0]["name"] as? String, "tiny")
        XCTAssertEqual(models[0]["family"] as? String, "symunet")
        XCTAssertEqual(models[0]["runnable"] as? Bool, true)
        XCTAssertEqual(models[0]["kind"] as? String, "image")
        XCTAssertGreaterThan(models[0]["bytes"] as? Int ?? 0, 0)
    }

    /// Submit, follow the events to the end, download: the bytes `irzoo run` writes for the same input.
    func testJobResultEqualsIrzooRun() throws {
        let server = try ServeProcess()
        let http = server.client()
        let input = try ServeFixtures.inputPNG(in: server.dir)
        let submitted = try http.submit(image: input.data, filename: "photo.png")
        XCTAssertEqual(submitted.status, 202, submitted.text)
        let job = try submitted.json()
        let id = try XCTUnwrap(job["id"] as? String)
        XCTAssertEqual(submitted.header("Location"), "/api/jobs/\(id)")
        XCTAssertEqual((job["input"] as? [String: Any])?["width"] as? Int, 45)

        // The event stream: the current state first, the final one last, then it ends.
        let events = try http.request("GET", "/api/jobs/\(id)/events")
        XCTAssertEqual(events.status, 200)
        XCTAssertEqual(events.header("Content-Type"), "text/event-stream")
        let states = events.text.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }.compactMap { line -> String? in
            let j = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
            return j?["state"] as? String
        }
        XCTAssertEqual(states.last, "done", events.text)
        XCTAssertTrue(states.allSatisfy { ["queued", "running", "done"].contains($0) }, "\(states)")

        let final = try http.waitFinal(id)
        let result = try XCTUnwrap(final["result"] as? [String: Any])
        XCTAssertEqual(result["width"] as? Int, 45)
        XCTAssertEqual(result["height"] as? Int, 37)
        let download = try http.request("GET", "/api/jobs/\(id)/result")
        XCTAssertEqual(download.status, 200)
        XCTAssertEqual(download.header("Content-Type"), "image/png")
        XCTAssertEqual(download.header("Content-Disposition"), "attachment; filename=\"photo-restored.png\"")

        let cliOut = server.dir.appendingPathComponent("cli.png").path
        let cli = try TestSupport.runCLI(["run", "tiny", "--input", input.path, "--output", cliOut], env: ["IRZOO_HOME": server.home])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        XCTAssertEqual(download.body, try Data(contentsOf: URL(fileURLWithPath: cliOut)), "the served result differs from `irzoo run`'s")
        // The input comes back as it was sent (the page's "before").
        XCTAssertEqual(try http.request("GET", "/api/jobs/\(id)/input").body, input.data)
    }

    /// With a reference: the PSNR numbers are `irzoo run --reference`'s.
    func testReferenceGivesRunsPSNR() throws {
        let server = try ServeProcess()
        let http = server.client()
        let input = try ServeFixtures.inputPNG(in: server.dir)
        let reply = try http.submit(image: input.data, extra: [RawHTTP.Part(name: "reference", filename: "clean.png", data: input.data)])
        XCTAssertEqual(reply.status, 202, reply.text)
        let final = try http.waitFinal(try XCTUnwrap(reply.json()["id"] as? String))
        let metrics = try XCTUnwrap((final["result"] as? [String: Any])?["metrics"] as? [String: Any], "\(final)")
        // Input and reference are the same image: infinite PSNR, written as null.
        XCTAssertTrue(metrics["psnr_input_db"] is NSNull, "\(metrics)")
        let cli = try TestSupport.runCLI(["run", "tiny", "--input", input.path, "--output", server.dir.appendingPathComponent("o.png").path,
                                          "--reference", input.path, "--json"], env: ["IRZOO_HOME": server.home])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any])
        let cliPSNR = try XCTUnwrap((doc["reference"] as? [String: Any])?["psnr_output_db"] as? Double)
        XCTAssertEqual(try XCTUnwrap(metrics["psnr_output_db"] as? Double), cliPSNR, accuracy: 1e-9)
    }

    func testCancelAWaitingJob() throws {
        let server = try ServeProcess()
        let http = server.client()
        let input = try ServeFixtures.inputPNG(in: server.dir)
        var ids = [String]()
        for _ in 0..<6 {
            let r = try http.submit(image: input.data)
            XCTAssertEqual(r.status, 202, r.text)
            ids.append(try XCTUnwrap(r.json()["id"] as? String))
        }
        let cancel = try http.request("POST", "/api/jobs/\(ids.last!)/cancel")
        XCTAssertEqual(cancel.status, 200, cancel.text)
        let state = try cancel.json()["state"] as? String
        // The last of six waits behind the others for the one model, unless they all ran already.
        XCTAssertTrue(state == "cancelled" || state == "done", cancel.text)
        for id in ids.dropLast() { XCTAssertEqual(try http.waitFinal(id)["state"] as? String, "done") }
        let last = try http.waitFinal(ids.last!)
        if state == "cancelled" {
            XCTAssertEqual(last["state"] as? String, "cancelled")
            XCTAssertEqual(try http.request("GET", "/api/jobs/\(ids.last!)/result").status, 409)
        }
        XCTAssertEqual(try http.request("POST", "/api/jobs/00000000-0000-0000-0000-000000000000/cancel").status, 404)
    }

    func testBadSubmissions() throws {
        let server = try ServeProcess()
        let http = server.client()
        let input = try ServeFixtures.inputPNG(in: server.dir)
        func expect(_ status: Int, _ reply: RawHTTP.Reply, _ fragment: String, line: UInt = #line) {
            XCTAssertEqual(reply.status, status, reply.text, line: line)
            XCTAssertTrue(reply.text.contains(fragment), reply.text, line: line)
            XCTAssertFalse(reply.text.contains("\n"), "one line", line: line)
        }
        expect(404, try http.submit(model: "nope", image: input.data), "no installed model")
        expect(404, try http.submit(model: "../../etc", image: input.data), "no installed model")
        expect(422, try http.submit(image: Data("not an image".utf8)), "not a PNG")
        expect(400, try http.submit(image: input.data, extra: [RawHTTP.Part(name: "steps", data: Data("3".utf8))]), "diffusion")
        expect(400, try http.submit(image: input.data, extra: [RawHTTP.Part(name: "evil", data: Data("1".utf8))]), "unknown form field")
        expect(400, try http.submit(image: input.data, extra: [RawHTTP.Part(name: "model", data: Data("tiny".utf8))]), "twice")
        expect(400, try http.request("POST", "/api/jobs", headers: [("Content-Type", "application/json")], body: Data("{}".utf8)), "multipart/form-data")
        expect(400, try http.request("POST", "/api/jobs", headers: [("Content-Type", "multipart/form-data; boundary=")], body: Data("x".utf8)), "multipart/form-data")
        expect(400, try http.request("POST", "/api/jobs", headers: [("Content-Type", "multipart/form-data; boundary=abc")], body: Data("garbage".utf8)), "multipart")
        // A model too small for the network's minimum side fails as a job, with the reason.
        XCTAssertEqual(try http.request("GET", "/api/jobs/not-a-uuid").status, 404)
        XCTAssertEqual(try http.request("GET", "/api/jobs/../../etc/passwd").status, 404)
        XCTAssertTrue(server.tempFiles().allSatisfy { $0.hasPrefix("irzoo-serve-") }, "\(server.tempFiles())")
    }
}
