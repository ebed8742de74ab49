import Foundation
import XCTest
import IRTensor
import IRTestSupport

/// File-supplied strings (tensor names, metadata, pickle globals, paths) carrying terminal
/// control sequences (Tools/gen_terminal_fixtures.py) are shown escaped, never raw; `--json`
/// stays valid JSON and keeps the exact names (issue 2).
final class TerminalEscapingTests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    func fixture(_ name: String) -> String { TestSupport.fixture("terminal/\(name)") }

    var names: [String] {
        get throws {
            let doc = try JSON.parse(String(decoding: try Data(contentsOf: URL(fileURLWithPath: fixture("names.json"))), as: UTF8.self))
            return doc["names"]?.arrayValue?.compactMap { $0.stringValue } ?? []
        }
    }

    /// Fails on anything a terminal would act on or hide: C0 controls but newline, DEL, C1,
    /// format characters (bidi overrides, zero-width marks), line and paragraph separators.
    func assertInert(_ text: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for u in text.unicodeScalars where u != "\n" {
            let bad: Bool
            switch u.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator: bad = true
            default: bad = false
            }
            XCTAssertFalse(bad, "\(what) prints U+\(String(u.value, radix: 16, uppercase: true)) raw:\n\(text)", file: file, line: line)
            if bad { return }
        }
    }

    func testInspectTableShowsNamesEscaped() throws {
        XCTAssertEqual(try names.count, 11)
        for file in ["control_names.pth", "control_names.safetensors"] {
            let r = try cli.run(["inspect", fixture(file)])
            XCTAssertEqual(r.status, 0, r.stderr)
            assertInert(r.stdout, "inspect \(file)")
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            // One table row per tensor: the name with a newline in it did not start a new line.
            let rows = lines.drop { !$0.hasPrefix("NAME ") }.dropFirst().filter { !$0.isEmpty }
            XCTAssertEqual(rows.count, 11, r.stdout)
            for expected in [#"red\x1B[31m.weight"#, #"clear\x1B[2J\x1B[H.weight"#, #"title\x1B]0;pwned\x07.weight"#,
                             #"line\nbreak.weight"#, #"carriage\rreturn.weight"#, #"del\x7F.bias"#, #"c1\u{9B}31m.bias"#,
                             #"bidi\u{202E}gnp.exe.bias"#, #"sep\u{2028}arator.bias"#, #"zero\u{200B}width.bias"#, "plain.weight"] {
                XCTAssertTrue(rows.contains { $0.hasPrefix(expected + " ") }, "\(file): no row for \(expected):\n\(r.stdout)")
            }
        }
        let st = try cli.run(["inspect", fixture("control_names.safetensors")])
        XCTAssertTrue(st.stdout.contains(#"metadata:    note\x1B[5m = blink\x1B[5m\x07"#), st.stdout)
    }

    /// `--json` is valid JSON holding the exact names, and itself inert on a terminal (control
    /// and format characters as \u escapes).
    func testJSONKeepsExactNames() throws {
        for file in ["control_names.pth", "control_names.safetensors"] {
            let r = try cli.run(["inspect", fixture(file), "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            assertInert(r.stdout, "inspect --json \(file)")
            let doc = try JSON.parse(r.stdout)
            let got = doc["tensors"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            XCTAssertEqual(Set(got), Set(try names), file)
            let py = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            XCTAssertNotNil(py, "Foundation's parser accepts it too")
        }
    }

    /// Errors naming a hostile global or a hostile path are one escaped line.
    func testErrorsAreEscaped() throws {
        let r = try cli.run(["inspect", fixture("control_global.pt")])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        assertInert(r.stderr, "the refused-global error")
        XCTAssertTrue(r.stderr.contains("refused global os"), r.stderr)

        let evil = cli.path("evil\u{1B}[2J\u{7}\nname.pth")
        let m = try cli.run(["inspect", evil])
        XCTAssertEqual(m.status, 3, m.stderr)
        XCTAssertEqual(m.stderr.split(separator: "\n").count, 1, m.stderr)
        assertInert(m.stderr, "the missing-file error")
        XCTAssertTrue(m.stderr.contains(#"evil\x1B[2J\x07 name.pth"#) || m.stderr.contains(#"evil\x1B[2J\x07\nname.pth"#), m.stderr)
    }

    /// Installed as raw tensors, the names stay exact in the store and inert in import's output.
    func testImportKeepsNamesAndPrintsThemInert() throws {
        let r = try cli.run(["import", fixture("control_names.safetensors"), "--name", "hostile"])
        XCTAssertEqual(r.status, 0, r.stderr)
        assertInert(r.stdout + r.stderr, "import")
        for args in [["show", "hostile"], ["list"], ["verify"]] {
            let s = try cli.run(args)
            XCTAssertEqual(s.status, 0, s.stderr)
            assertInert(s.stdout + s.stderr, args.joined(separator: " "))
        }
        let out = cli.path("back.safetensors")
        XCTAssertEqual(try cli.run(["convert", fixture("control_names.pth"), "-o", out]).status, 0)
        let doc = try cli.json(["inspect", out])
        XCTAssertEqual(Set(doc["tensors"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []), Set(try names))
    }
}
