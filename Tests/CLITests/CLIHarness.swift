#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IRFormat
import IRTensor
import IRTestSupport
import XCTest

struct ShellResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the built `irzoo` against a private store in a temp directory.
final class CLIHarness {
    let dir: URL
    var home: String { dir.appendingPathComponent("store").path }

    init() { dir = TestSupport.makeTempDir("irzoo-cli") }
    deinit { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    var env: [String: String] { ["IRZOO_HOME": home, "TERM": "dumb"] }

    @discardableResult
    func run(_ args: [String], env extra: [String: String] = [:]) throws -> TestSupport.ProcessResult {
        try TestSupport.runCLI(args, env: env.merging(extra) { $1 })
    }

    /// Runs and parses stdout as JSON, failing the test on a non-zero exit.
    func json(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> JSON {
        let r = try run(args + ["--json"])
        XCTAssertEqual(r.status, 0, "irzoo \(args.joined(separator: " ")): \(r.stderr)", file: file, line: line)
        return try JSON.parse(r.stdout)
    }

    /// Starts irzoo without waiting; output goes to files beside the store.
    func start(_ args: [String], env extra: [String: String] = [:], shell: String? = nil) throws -> Process {
        let p = Process()
        if let shell {
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", shell + "; exec \"$0\" \"$@\"", TestSupport.irzooBinary] + args
        } else {
            p.executableURL = URL(fileURLWithPath: TestSupport.irzooBinary)
            p.arguments = args
        }
        p.environment = ProcessInfo.processInfo.environment.merging(env.merging(extra) { $1 }) { $1 }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Runs through `/bin/sh -c 'SHELL; exec irzoo ARGS'` (e.g. `ulimit -f 64`), capturing output.
    func runInShell(_ shell: String, _ args: [String]) throws -> ShellResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", shell + "; exec \"$0\" \"$@\"", TestSupport.irzooBinary] + args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = dir.appendingPathComponent("out-\(UUID().uuidString)"), err = dir.appendingPathComponent("err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
        return ShellResult(status: p.terminationStatus,
                                         stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                                         stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Waits for `path` to exist (a pause marker); false after `timeout` seconds.
    func waitFor(_ path: String, timeout: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: path) { return true }
            usleep(10_000)
        }
        return false
    }

    func kill9(_ p: Process) {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// Writes an .irw source of `tensors` f32 tensors of `elements` each, with values from `seed`.
    @discardableResult
    func makeSource(_ name: String, tensors: Int = 4, elements: Int = 1000, seed: Int = 1) throws -> String {
        let out = path(name)
        let inputs = (0..<tensors).map { i in
            IRWTensorInput(name: "layers.\(i).weight", dtype: .f32, shape: [elements]) {
                ByteBuffer.make(count: elements * 4) { p in
                    let f = p.bindMemory(to: Float.self)
                    for j in 0..<elements { f[j] = Float(seed) + Float(i) * 0.5 + Float(j % 1000) * 1e-3 }
                }.whole
            }
        }
        let meta = IRWMetadata(source: IRWSource(fileName: "upstream.pth", sha256: String(repeating: "1", count: 64), container: "torch-zip"))
        try IRWWriter.write(inputs, metadata: { meta }, to: out)
        return out
    }

    func entries(_ sub: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(home)/\(sub)")) ?? []).sorted()
    }

    /// Names of installed models, from `irzoo list --json`.
    func installed() throws -> [String] {
        try json(["list"])["models"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    }
}

extension CLIHarness {
    /// `irzoo import ARGS --name refused` fails with `status` and one stderr line naming `needle`,
    /// and leaves the store empty (no model, no blob, nothing in tmp/).
    func assertImportRefused(_ args: [String], status: Int32, _ needle: String, file: StaticString, line: UInt) throws {
        let r = try run(["import"] + args + ["--name", "refused"])
        XCTAssertEqual(r.status, status, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "expected '\(needle)' in: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
        XCTAssertEqual(try installed(), [], file: file, line: line)
        XCTAssertEqual(entries("blobs"), [], file: file, line: line)
        XCTAssertEqual(entries("tmp"), [], file: file, line: line)
    }
}
