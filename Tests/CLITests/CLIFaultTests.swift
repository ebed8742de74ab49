#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IRFormat
import IRTensor
import IRTestSupport
import XCTest

/// Issue 3, "Faults, tested": kills, full disks, bit flips, truncation, concurrency.
final class CLIFaultTests: XCTestCase {
    /// The store as the next command sees it after a crash: `before` (only `base`) or `after`
    /// (`victim` installed and intact), never anything between.
    private func assertBeforeOrAfter(_ h: CLIHarness, baseBlobs: [String], step: String, expectAfter: Bool?, line: UInt = #line) throws {
        let names = try h.installed() // the next command: it sweeps what the crash left
        XCTAssertEqual(h.entries("tmp"), [], "\(step): temp files were swept", line: line)
        if names == ["base"] {
            XCTAssertEqual(h.entries("blobs"), baseBlobs, "\(step): before, without an orphan blob", line: line)
            if expectAfter == true { XCTFail("\(step): expected the import to have committed", line: line) }
        } else {
            XCTAssertEqual(names, ["base", "victim"], "\(step): after", line: line)
            let v = try h.run(["verify"])
            XCTAssertEqual(v.status, 0, "\(step): \(v.stdout)\(v.stderr)", line: line)
            XCTAssertEqual(h.entries("blobs").count, baseBlobs.count + 1, line: line)
            if expectAfter == false { XCTFail("\(step): the import committed before its commit point", line: line) }
        }
    }

    func testKill9AtEveryImportStepLeavesTheStoreBeforeOrAfter() throws {
        let steps: [(String, Bool)] = [("loaded", false), ("staged", false), ("writing", false), ("written", false),
                                       ("locked", false), ("intent", false), ("blob", false), ("manifest", true)]
        for (step, after) in steps {
            let h = CLIHarness()
            XCTAssertEqual(try h.run(["import", h.makeSource("base.irw", seed: 1), "--name", "base"]).status, 0)
            let baseBlobs = h.entries("blobs")
            let source = try h.makeSource("victim.irw", tensors: 8, elements: 100_000, seed: 2)
            let marker = h.path("paused")
            let p = try h.start(["import", source, "--name", "victim"],
                                env: ["IRZOO_TEST_PAUSE_AT": step, "IRZOO_TEST_PAUSE_MARKER": marker])
            XCTAssertTrue(h.waitFor(marker), "\(step): never paused")
            h.kill9(p)
            XCTAssertEqual(p.terminationReason, .uncaughtSignal)
            try assertBeforeOrAfter(h, baseBlobs: baseBlobs, step: step, expectAfter: after)
            // And the next import works.
            XCTAssertEqual(try h.run(["import", source, "--name", "victim"]).status, 0, step)
        }
    }

    func testKill9AtRandomMomentsLeavesTheStoreBeforeOrAfter() throws {
        let h = CLIHarness()
        XCTAssertEqual(try h.run(["import", h.makeSource("base.irw", seed: 1), "--name", "base"]).status, 0)
        let baseBlobs = h.entries("blobs")
        let source = try h.makeSource("victim.irw", tensors: 8, elements: 1 << 20, seed: 3) // 32 MiB
        var generator = SystemRandomNumberGenerator()
        for round in 0..<6 {
            let p = try h.start(["import", source, "--name", "victim"])
            usleep(UInt32.random(in: 5_000...400_000, using: &generator))
            h.kill9(p)
            try assertBeforeOrAfter(h, baseBlobs: baseBlobs, step: "random kill \(round)", expectAfter: nil)
            if try h.installed().contains("victim") { XCTAssertEqual(try h.run(["rm", "victim"]).status, 0) }
        }
    }

    func testFullDiskGivesAClearErrorAndLeavesNothing() throws {
        let h = CLIHarness()
        let source = try h.makeSource("big.irw", tensors: 4, elements: 1 << 18) // 4 MiB
        XCTAssertEqual(try h.run(["list"]).status, 0) // creates the store
        // ulimit -f counts 512-byte blocks: 1 MiB.
        let r = try h.runInShell("ulimit -f 2048", ["import", source, "--name", "big"])
        XCTAssertEqual(r.status, 6, r.stderr)
        XCTAssertTrue(r.stderr.contains("File too large") && r.stderr.contains("ulimit -f"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertEqual(h.entries("tmp"), [], "no temp file is left")
        XCTAssertEqual(h.entries("blobs"), [], "no partial blob")
        XCTAssertEqual(try h.installed(), [])

        let out = h.path("out/converted.irw")
        try FileManager.default.createDirectory(atPath: h.path("out"), withIntermediateDirectories: true)
        let c = try h.runInShell("ulimit -f 2048", ["convert", source, "-o", out])
        XCTAssertEqual(c.status, 6, c.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: h.path("out")), [], "no output and no temp file")
        let s = try h.runInShell("ulimit -f 2048", ["convert", source, "-o", h.path("out/converted.safetensors")])
        XCTAssertNotEqual(s.status, 0, s.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: h.path("out")), [])
    }

    func testBitFlipsAnywhereInABlobAreFoundAndNamed() throws {
        let h = CLIHarness()
        let source = try h.makeSource("m.irw", tensors: 6, elements: 5000)
        XCTAssertEqual(try h.run(["import", source, "--name", "m"]).status, 0)
        let blob = "\(h.home)/blobs/\(h.entries("blobs")[0])"
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: blob)))
        let layout = try IRWFile.open(path: blob)
        chmod(blob, 0o644)
        // One flip in every tensor, in padding, in the preamble and in the header.
        var positions: [(Int, String)] = layout.tensors.map { (layout.dataOffset + $0.offset + $0.length / 3, "tensor '\($0.name)'") }
        positions.append((layout.dataOffset + layout.tensors[0].length + 2, "padding after tensor 'layers.0.weight'"))
        positions.append((20, "header"))
        positions.append((original.count - 40, "header"))
        for (at, expected) in positions {
            var bytes = original
            bytes[at] ^= 0x04
            try Data(bytes).write(to: URL(fileURLWithPath: blob))
            let r = try h.run(["verify", "m"])
            XCTAssertEqual(r.status, 1, "flip at \(at)")
            XCTAssertTrue(r.stdout.contains("m: DAMAGED"), r.stdout)
            XCTAssertTrue((r.stdout + r.stderr).contains(expected), "flip at \(at): expected '\(expected)' in \(r.stdout)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: blob), "verify never deletes")
            XCTAssertEqual(try h.json(["show", "m"])["verified"]?["intact"], .bool(false))
        }
        // A truncated blob is refused at open and reported.
        try Data(original.prefix(original.count / 2)).write(to: URL(fileURLWithPath: blob))
        let cut = try h.run(["verify", "--json"])
        XCTAssertEqual(cut.status, 1)
        XCTAssertTrue(cut.stdout.contains("truncated"), cut.stdout)
        try Data(original).write(to: URL(fileURLWithPath: blob))
        XCTAssertEqual(try h.run(["verify"]).status, 0)
    }

    func testConcurrentImportsOfOneFileAllSucceedAndShareOneBlob() throws {
        let h = CLIHarness()
        let source = try h.makeSource("shared.irw", tensors: 8, elements: 200_000)
        XCTAssertEqual(try h.run(["list"]).status, 0)
        let names = ["same", "same", "same", "alias1", "alias2"]
        let procs = try names.map { try h.start(["import", source, "--name", $0]) }
        for p in procs { p.waitUntilExit() }
        XCTAssertEqual(procs.map { $0.terminationStatus }, [0, 0, 0, 0, 0])
        XCTAssertEqual(try h.installed(), ["alias1", "alias2", "same"])
        XCTAssertEqual(h.entries("blobs").count, 1)
        XCTAssertEqual(h.entries("tmp"), [])
        XCTAssertEqual(try h.run(["verify"]).status, 0)
    }

    func testImportBesideGCLosesNothing() throws {
        for step in ["staged", "writing", "written"] {
            let h = CLIHarness()
            let source = try h.makeSource("m.irw", tensors: 8, elements: 200_000)
            XCTAssertEqual(try h.run(["list"]).status, 0)
            let marker = h.path("paused")
            let p = try h.start(["import", source, "--name", "m"],
                                env: ["IRZOO_TEST_PAUSE_AT": step, "IRZOO_TEST_PAUSE_MARKER": marker, "IRZOO_TEST_PAUSE_SECONDS": "1"])
            XCTAssertTrue(h.waitFor(marker))
            let gc = try h.json(["gc"])
            XCTAssertEqual(gc["temps"], .array([]), "\(step): the live import's work is not stale")
            XCTAssertEqual(gc["freed_bytes"], .int(0))
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, step)
            XCTAssertEqual(try h.installed(), ["m"])
            XCTAssertEqual(try h.run(["verify"]).status, 0)
            XCTAssertEqual(try h.json(["gc"])["freed_bytes"], .int(0))
        }
    }

    func testRemoveKilledAfterItsCommitLeavesNoOrphan() throws {
        let h = CLIHarness()
        XCTAssertEqual(try h.run(["import", h.makeSource("a.irw"), "--name", "a"]).status, 0)
        let marker = h.path("paused")
        let p = try h.start(["rm", "a"], env: ["IRZOO_TEST_PAUSE_AT": "removed", "IRZOO_TEST_PAUSE_MARKER": marker])
        XCTAssertTrue(h.waitFor(marker))
        h.kill9(p)
        XCTAssertEqual(try h.installed(), [])
        XCTAssertEqual(h.entries("blobs"), [], "the next command finished the removal")
        XCTAssertEqual(h.entries("tmp"), [])
    }

    func testProgressIsPlainLinesWithoutATerminal() throws {
        let h = CLIHarness()
        let source = try h.makeSource("big.irw", tensors: 4, elements: 5 << 20) // 80 MiB
        let r = try h.run(["import", source, "--name", "big"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("import big: 50%"), r.stderr)
        XCTAssertFalse(r.stderr.contains("\r"), "no bar drawn into a pipe")
        XCTAssertTrue(r.stdout.hasPrefix("installed big (raw, 4 tensors, 21.0M parameters, f32, 80.0 MiB)"), r.stdout)
    }
}
