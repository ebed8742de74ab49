import Foundation
import IRCheckpoint
import IRImage
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
        // A known path under another method: 405 and what it takes.
        let trace = try http.request("TRACE", "/api/info")
        XCTAssertEqual(trace.status, 405)
        XCTAssertEqual(trace.header("Allow"), "GET")
        XCTAssertEqual(try http.request("DELETE", "/api/jobs").header("Allow"), "GET, POST")
        XCTAssertEqual(try http.request("GET", "/api/nothing").status, 404)
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

    /// JPEG (EXIF orientation 6: stored 23x17, shown 17x23), WebP and TIFF uploads go through the
    /// job engine's codecs; each result is what `irzoo run` writes for the same file.
    func testOtherFormatsAndOrientation() throws {
        let server = try ServeProcess()
        let http = server.client()
        for (name, format, size) in [("orient-6.jpg", "jpeg", [17, 23]), ("lossy.webp", "webp", [23, 17]), ("rgb8.tif", "tiff", [23, 17])] {
            let path = TestSupport.fixture("images/" + name)
            let reply = try http.submit(image: try Data(contentsOf: URL(fileURLWithPath: path)), filename: name)
            XCTAssertEqual(reply.status, 202, "\(name): \(reply.text)")
            let job = try reply.json()
            XCTAssertEqual((job["input"] as? [String: Any])?["format"] as? String, format)
            let id = try XCTUnwrap(job["id"] as? String)
            let final = try http.waitFinal(id)
            XCTAssertEqual(final["state"] as? String, "done", "\(final)")
            let result = try XCTUnwrap(final["result"] as? [String: Any])
            XCTAssertEqual([result["width"] as? Int, result["height"] as? Int], size.map { $0 }, name)
            let cliOut = server.dir.appendingPathComponent(name + ".png").path
            let cli = try TestSupport.runCLI(["run", "tiny", "--input", path, "--output", cliOut], env: ["IRZOO_HOME": server.home])
            XCTAssertEqual(cli.status, 0, cli.stderr)
            XCTAssertEqual(try http.request("GET", "/api/jobs/\(id)/result").body, try Data(contentsOf: URL(fileURLWithPath: cliOut)), name)
            XCTAssertEqual(try http.request("GET", "/api/jobs/\(id)/input").header("Content-Type"), "image/" + format)
        }
    }

    /// A routed model (the tiny UniRestorer golden): the job reports the route `irzoo run` prints,
    /// and writes the same file.
    func testRoutedModelReportsItsRoute() throws {
        let server = try ServeProcess()
        let imported = try TestSupport.runCLI(["import", TestSupport.fixture("models/unirestorer-tiny/model.pth"), "--name", "uni", "--arch", "unirestorer"],
                                              env: ["IRZOO_HOME": server.home])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let http = server.client()
        let models = try XCTUnwrap(try http.request("GET", "/api/models").json()["models"] as? [[String: Any]])
        XCTAssertEqual(models.first { $0["name"] as? String == "uni" }?["kind"] as? String, "routed")
        // The first image of the golden batch as a PNG.
        let r = try NumpyArray.read(path: TestSupport.fixture("models/unirestorer-tiny/input.npy"))
        let (h, w) = (r.shape[2], r.shape[3])
        let values = r.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self).prefix(3 * h * w)) }
        let png = server.dir.appendingPathComponent("uni.png").path
        try PNGCodec.write(try PNGImage(width: w, height: h, colorChannels: 3, color: values, bitDepth: 8), to: png)
        let reply = try http.submit(model: "uni", image: try Data(contentsOf: URL(fileURLWithPath: png)))
        XCTAssertEqual(reply.status, 202, reply.text)
        let id = try XCTUnwrap(reply.json()["id"] as? String)
        let final = try http.waitFinal(id)
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        let route = try XCTUnwrap((final["result"] as? [String: Any])?["route"] as? [String], "\(final)")
        let cliOut = server.dir.appendingPathComponent("uni-cli.png").path
        let cli = try TestSupport.runCLI(["run", "uni", "--input", png, "--output", cliOut], env: ["IRZOO_HOME": server.home])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        let cliRoute = cli.stdout.split(separator: "\n").filter { $0.hasPrefix("route: ") }.map { String($0.dropFirst(7)) }
        XCTAssertFalse(cliRoute.isEmpty, cli.stdout)
        XCTAssertEqual(route, cliRoute)
        XCTAssertEqual(try http.request("GET", "/api/jobs/\(id)/result").body, try Data(contentsOf: URL(fileURLWithPath: cliOut)))
    }

    /// A diffusion model (the tiny one-file UniLDiff golden with its BPE vocabulary): prompt, steps
    /// and seed reach the run, the job reports them, and the result is the
    /// file `irzoo run` writes with the same prompt, steps and seed.
    func testDiffusionJobTakesPromptStepsAndSeed() throws {
        let server = try ServeProcess()
        let golden = { (file: String) in TestSupport.fixture("models/unildiff-e2e/\(file)") }
        let config = try String(contentsOfFile: golden("config.json"), encoding: .utf8)
        let imported = try TestSupport.runCLI(["import", golden("unildiff.safetensors"), "--arch", "unildiff", "--name", "uld",
                                               "--config", config, "--vocab", TestSupport.fixture("tokenizer/bpe_simple_vocab_16e6.txt.gz")],
                                              env: ["IRZOO_HOME": server.home])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let http = server.client()
        let models = try XCTUnwrap(try http.request("GET", "/api/models").json()["models"] as? [[String: Any]])
        XCTAssertEqual(models.first { $0["name"] as? String == "uld" }?["kind"] as? String, "diffusion")

        let input = try Data(contentsOf: URL(fileURLWithPath: golden("lq.png")))
        let options = [RawHTTP.Part(name: "prompt", data: Data("a clean photo".utf8)), RawHTTP.Part(name: "steps", data: Data("2".utf8)),
                       RawHTTP.Part(name: "seed", data: Data("5".utf8))]
        let reply = try http.submit(model: "uld", image: input, filename: "lq.png", extra: options)
        XCTAssertEqual(reply.status, 202, reply.text)
        let id = try XCTUnwrap(reply.json()["id"] as? String)
        let final = try http.waitFinal(id)
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertEqual(final["prompt"] as? String, "a clean photo")
        XCTAssertEqual(final["steps"] as? Int, 2)
        XCTAssertEqual((final["seed"] as? NSNumber)?.intValue, 5)

        let cliOut = server.dir.appendingPathComponent("uld-cli.png").path
        let cli = try TestSupport.runCLI(["run", "uld", "--input", golden("lq.png"), "--prompt", "a clean photo", "--steps", "2", "--seed", "5",
                                          "--output", cliOut], env: ["IRZOO_HOME": server.home])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        XCTAssertEqual(try http.request("GET", "/api/jobs/\(id)/result").body, try Data(contentsOf: URL(fileURLWithPath: cliOut)),
                       "the served diffusion result differs from `irzoo run`'s")

        // The same seed gives the same image; the diffusion fields are refused for an image model.
        let again = try XCTUnwrap(try http.submit(model: "uld", image: input, filename: "lq.png", extra: options).json()["id"] as? String)
        XCTAssertEqual(try http.waitFinal(again)["state"] as? String, "done")
        XCTAssertEqual(try http.request("GET", "/api/jobs/\(again)/result").body, try http.request("GET", "/api/jobs/\(id)/result").body)
        let refused = try http.submit(model: "tiny", image: input, extra: [RawHTTP.Part(name: "steps", data: Data("2".utf8))])
        XCTAssertEqual(refused.status, 400, refused.text)
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
        let cliSSIM = try XCTUnwrap((doc["reference"] as? [String: Any])?["ssim_output"] as? Double)
        XCTAssertEqual(try XCTUnwrap(metrics["ssim_output"] as? Double), cliSSIM, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(metrics["ssim_input"] as? Double), 1, accuracy: 1e-12)
    }

    /// A running job stops at the engine's next op; a waiting one never starts.
    func testCancelRunningAndWaitingJobs() throws {
        let server = try ServeProcess()
        let http = server.client()
        let side = 2400
        let color = (0..<(3 * side * side)).map { Float(($0 * 7919) % 256) / 255 }
        let big = server.dir.appendingPathComponent("big.png").path
        try PNGCodec.write(try PNGImage(width: side, height: side, colorChannels: 3, color: color, bitDepth: 8), to: big)
        let data = try Data(contentsOf: URL(fileURLWithPath: big))
        let first = try XCTUnwrap(try http.submit(image: data).json()["id"] as? String)
        let second = try XCTUnwrap(try http.submit(image: data).json()["id"] as? String)
        // The second waits for the first (one job at a time per model).
        XCTAssertEqual(try http.request("GET", "/api/jobs/\(second)").json()["queue_position"] as? Int, 0)
        let cancelled = try http.request("POST", "/api/jobs/\(second)/cancel").json()
        XCTAssertEqual(cancelled["state"] as? String, "cancelled")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, try http.request("GET", "/api/jobs/\(first)").json()["state"] as? String == "queued" { usleep(10_000) }
        let asked = try http.request("POST", "/api/jobs/\(first)/cancel").json()
        XCTAssertEqual(asked["state"] as? String, "running", "\(asked)")
        XCTAssertEqual(asked["cancel_requested"] as? Bool, true)
        let final = try http.waitFinal(first)
        XCTAssertEqual(final["state"] as? String, "cancelled", "\(final)")
        XCTAssertEqual(try http.request("GET", "/api/jobs/\(first)/result").status, 409)
        // The model is free again: the next job runs.
        let input = try ServeFixtures.inputPNG(in: server.dir)
        let next = try XCTUnwrap(try http.submit(image: input.data).json()["id"] as? String)
        XCTAssertEqual(try http.waitFinal(next)["state"] as? String, "done")
        // Nothing of the cancelled jobs' results is left.
        XCTAssertFalse(server.tempFiles().contains { $0.hasPrefix("irzoo-serve-") && $0.contains(first) && $0.hasSuffix("result.png") })
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
        expect(422, try http.submit(image: Data("not an image".utf8)), "not an image irzoo reads")
        expect(400, try http.submit(image: input.data, extra: [RawHTTP.Part(name: "steps", data: Data("3".utf8))]), "diffusion")
        expect(400, try http.submit(image: input.data, extra: [RawHTTP.Part(name: "evil", data: Data("1".utf8))]), "unknown form field")
        expect(400, try http.submit(image: input.data, extra: [RawHTTP.Part(name: "model", data: Data("tiny".utf8))]), "twice")
        expect(400, try http.request("POST", "/api/jobs", headers: [("Content-Type", "application/json")], body: Data("{}".utf8)), "multipart/form-data")
        expect(400, try http.request("POST", "/api/jobs", headers: [("Content-Type", "multipart/form-data; boundary=")], body: Data("x".utf8)), "multipart/form-data")
        expect(400, try http.request("POST", "/api/jobs", headers: [("Content-Type", "multipart/form-data; boundary=abc")], body: Data("garbage".utf8)), "multipart")
        // A non-ASCII byte in a part's header name trapped MultipartKit 4.7.1 (schemathesis found it): refused, still serving.
        let crash = Data("--\(RawHTTP.boundary)\r\n".utf8) + Data([0xF1, 0xBC, 0x82, 0x9A, 0x40]) + Data("--\(RawHTTP.boundary)--\r\n".utf8)
        expect(400, try http.request("POST", "/api/jobs", headers: [("Content-Type", "multipart/form-data; boundary=\(RawHTTP.boundary)")], body: crash), "not ASCII")
        let named = Data("--\(RawHTTP.boundary)\r\nCont\u{e9}nt-Disposition: form-data; name=\"model\"\r\n\r\ntiny\r\n--\(RawHTTP.boundary)--\r\n".utf8)
        expect(400, try http.request("POST", "/api/jobs", headers: [("Content-Type", "multipart/form-data; boundary=\(RawHTTP.boundary)")], body: named), "not ASCII")
        // A UTF-8 file name (a header value) is fine.
        XCTAssertEqual(try http.submit(image: input.data, filename: "na\u{ef}ve caf\u{e9}.png").status, 202)
        XCTAssertEqual(try http.request("GET", "/api/info").status, 200, "still serving")
        XCTAssertEqual(try http.request("GET", "/api/jobs/not-a-uuid").status, 404)
        XCTAssertEqual(try http.request("GET", "/api/jobs/../../etc/passwd").status, 404)
        XCTAssertTrue(server.tempFiles().allSatisfy { $0.hasPrefix("irzoo-serve-") }, "\(server.tempFiles())")
    }
}
