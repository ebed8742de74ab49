#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IRCheckpoint
import IRImage
import IRTensor
import IRTestSupport
import XCTest

/// One `irzoo serve` process on a free loopback port, with its own store and temp folder,
/// stopped by its PID when the test ends.
final class ServeProcess {
    let dir: URL
    let process: Process
    let port: Int
    var home: String { dir.appendingPathComponent("store").path }
    var tmp: String { dir.appendingPathComponent("tmp").path }
    private let stdoutPath: String, stderrPath: String

    /// Imports the symunet-tiny golden as "tiny" (unless `importTiny` is false) and starts the server.
    init(_ extra: [String] = [], importTiny: Bool = true, env: [String: String] = [:]) throws {
        dir = TestSupport.makeTempDir("irzoo-serve")
        try FileManager.default.createDirectory(atPath: dir.appendingPathComponent("tmp").path, withIntermediateDirectories: true)
        if importTiny {
            let r = try TestSupport.runCLI(["import", TestSupport.fixture("models/symunet-tiny/checkpoint.pth"), "--arch", "symunet", "--name", "tiny"],
                                           env: ["IRZOO_HOME": dir.appendingPathComponent("store").path])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        stdoutPath = dir.appendingPathComponent("serve.out").path
        stderrPath = dir.appendingPathComponent("serve.err").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.irzooBinary)
        p.arguments = ["serve", "--port", "0"] + extra
        p.environment = ProcessInfo.processInfo.environment.merging(
            ["IRZOO_HOME": dir.appendingPathComponent("store").path, "TMPDIR": dir.appendingPathComponent("tmp").path, "TERM": "dumb"]
                .merging(env) { $1 }) { $1 }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try p.run()
        process = p
        // The first line names the URL with the port the system gave.
        let deadline = Date().addingTimeInterval(60)
        var found: Int?
        while Date() < deadline, found == nil, p.isRunning {
            let text = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            if let r = text.range(of: #"http://[^:]+:(\d+)/"#, options: .regularExpression) {
                found = Int(text[r].split(separator: ":").last!.dropLast())
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            p.terminate()
            throw NSError(domain: "serve", code: 1, userInfo: [NSLocalizedDescriptionKey: "irzoo serve did not start: \(err)"])
        }
        port = found
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }

    /// SIGTERM by PID, then wait: the server shuts down gracefully and removes its private folder.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: dir)
    }

    /// Files under the server's temp root (its private folder and job folders), relative.
    func tempFiles() -> [String] {
        (FileManager.default.enumerator(atPath: tmp)?.allObjects as? [String] ?? []).sorted()
    }

    func client() -> RawHTTP { RawHTTP(port: port) }
}

/// A deliberately plain HTTP/1.1 client on a socket: it sends exactly the bytes a test (or an
/// attacker) chooses, Host and Origin included, which polite client libraries would fix up.
struct RawHTTP {
    let port: Int

    struct Reply {
        var status: Int
        var headers: [(String, String)]
        var body: Data
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> [String: Any] {
            try XCTUnwrap(JSONSerialization.jsonObject(with: body) as? [String: Any], "not a JSON object: \(text)")
        }
    }

    var defaultHost: String { "127.0.0.1:\(port)" }

    func request(_ method: String, _ path: String, host: String? = nil, headers: [(String, String)] = [], body: Data = Data(),
                 contentLengthHeader: Bool = true) throws -> Reply {
        let fd = try connect()
        defer { close(fd) }
        try send(fd, head(method, path, host: host, headers: headers, body: body, contentLengthHeader: contentLengthHeader) + body)
        return try readReply(fd)
    }

    func head(_ method: String, _ path: String, host: String?, headers: [(String, String)], body: Data, contentLengthHeader: Bool = true) -> Data {
        var lines = ["\(method) \(path) HTTP/1.1"]
        if let host = host ?? defaultHost as String?, !host.isEmpty { lines.append("Host: \(host)") }
        for (k, v) in headers { lines.append("\(k): \(v)") }
        if contentLengthHeader && (!body.isEmpty || method == "POST") { lines.append("Content-Length: \(body.count)") }
        lines.append("Connection: close")
        return Data((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    func connect() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw posixError("socket") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { close(fd); throw posixError("connect") }
        return fd
    }

    /// Sends everything, or as much as the server takes before it closes (a refused upload).
    @discardableResult
    func send(_ fd: Int32, _ data: Data) throws -> Int {
        var sent = 0
        try data.withUnsafeBytes { (p: UnsafeRawBufferPointer) in
            while sent < data.count {
                let n = Glibc.send(fd, p.baseAddress! + sent, data.count - sent, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EPIPE || errno == ECONNRESET { return }
                    throw posixError("send")
                }
                sent += n
            }
        }
        return sent
    }

    func readReply(_ fd: Int32) throws -> Reply {
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n < 0 { if errno == EINTR { continue }; if errno == ECONNRESET && !data.isEmpty { break }; throw posixError("recv") }
            if n == 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return try Self.parse(data)
    }

    static func parse(_ data: Data) throws -> Reply {
        guard let split = data.range(of: Data("\r\n\r\n".utf8)) else {
            throw NSError(domain: "http", code: 1, userInfo: [NSLocalizedDescriptionKey: "no HTTP head in \(data.count) bytes"])
        }
        let head = String(decoding: data[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(head[0].split(separator: " ")[1]) ?? 0
        let headers = head.dropFirst().compactMap { line -> (String, String)? in
            guard let c = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<c]), line[line.index(after: c)...].trimmingCharacters(in: .whitespaces))
        }
        var body = Data(data[split.upperBound...])
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            body = dechunk(body)
        }
        return Reply(status: status, headers: headers, body: body)
    }

    static func dechunk(_ d: Data) -> Data {
        var out = Data(), i = d.startIndex
        while let lineEnd = d[i...].range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: d[i..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            guard start + size <= d.endIndex else { out.append(d[start...]); break }
            out.append(d[start..<start + size])
            i = min(d.endIndex, start + size + 2)
        }
        return out
    }

    func posixError(_ what: String) -> NSError {
        NSError(domain: "posix", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "\(what): \(String(cString: strerror(errno)))"])
    }

    // MARK: - the API's forms

    struct Part {
        var name: String
        var filename: String?
        var data: Data
    }

    static let boundary = "irzooTestBoundary7MA4YWxk"

    static func multipart(_ parts: [Part]) -> Data {
        var body = Data()
        for p in parts {
            body.append(Data("--\(boundary)\r\n".utf8))
            var disposition = "Content-Disposition: form-data; name=\"\(p.name)\""
            if let f = p.filename { disposition += "; filename=\"\(f)\"" }
            body.append(Data((disposition + "\r\n").utf8))
            if p.filename != nil { body.append(Data("Content-Type: application/octet-stream\r\n".utf8)) }
            body.append(Data("\r\n".utf8))
            body.append(p.data)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return body
    }

    func submit(model: String = "tiny", image: Data, filename: String = "in.png", extra: [Part] = [], headers: [(String, String)] = []) throws -> Reply {
        let body = Self.multipart([Part(name: "model", data: Data(model.utf8)), Part(name: "image", filename: filename, data: image)] + extra)
        return try request("POST", "/api/jobs", headers: [("Content-Type", "multipart/form-data; boundary=\(Self.boundary)")] + headers, body: body)
    }

    /// Polls until the job is final; returns its JSON.
    func waitFinal(_ id: String, timeout: Double = 120) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let j = try request("GET", "/api/jobs/\(id)").json()
            if let s = j["state"] as? String, ["done", "failed", "cancelled"].contains(s) { return j }
            usleep(20_000)
        }
        throw NSError(domain: "serve", code: 2, userInfo: [NSLocalizedDescriptionKey: "job \(id) not finished in \(timeout) s"])
    }
}

enum ServeFixtures {
    /// The symunet-tiny golden input (37×45) as an 8-bit RGB PNG.
    static func inputPNG(in dir: URL, name: String = "input.png") throws -> (path: String, data: Data) {
        let r = try NumpyArray.read(path: TestSupport.fixture("models/symunet-tiny/input.npy"))
        let values = r.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let image = try PNGImage(width: r.shape[3], height: r.shape[2], colorChannels: 3, color: values, bitDepth: 8)
        let path = dir.appendingPathComponent(name).path
        try PNGCodec.write(image, to: path)
        return (path, try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// A valid PNG header claiming `width`×`height` (a pixel bomb: tiny file, huge image).
    static func bombPNG(width: UInt32, height: UInt32) -> Data {
        var ihdr = Data("IHDR".utf8)
        for v in [width, height] { ihdr.append(contentsOf: withUnsafeBytes(of: v.bigEndian, Array.init)) }
        ihdr.append(contentsOf: [8, 2, 0, 0, 0])
        var d = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13])
        d.append(ihdr)
        d.append(contentsOf: withUnsafeBytes(of: crc32(ihdr).bigEndian, Array.init))
        // An empty IDAT: the pixels never come, only the header's promise of them.
        for kind in ["IDAT", "IEND"] {
            d.append(contentsOf: [0, 0, 0, 0] + Array(kind.utf8))
            d.append(contentsOf: withUnsafeBytes(of: crc32(Data(kind.utf8)).bigEndian, Array.init))
        }
        return d
    }

    static func crc32(_ data: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }
}

