import Foundation
import IRCheckpoint
import IRTestSupport
import XCTest

/// Tests/Fixtures/hostile/: files modelled on the public attack repertoire against pickle
/// loaders and scanners (Tools/gen_hostile_corpus.py, which proved each exec payload live
/// against Python's own loader). Each must be refused with its expected message, by default
/// and (unless it is an unknown global, which becomes an inert placeholder) in permissive
/// mode, and no payload may leave its canary file behind.
final class HostileCorpusTests: XCTestCase {
    struct Case: Decodable {
        var file: String
        var fragment: String
        var permissive: String
        var permissive_fragment: String?
        var canary: String?
        var payload_verified_live: Bool?
    }

    private static let cases: [Case] = {
        let url = URL(fileURLWithPath: TestSupport.fixture("hostile/expected.json"))
        struct Table: Decodable { var cases: [Case] }
        return try! JSONDecoder().decode(Table.self, from: Data(contentsOf: url)).cases
    }()

    func testCorpusIsLargeAndCovered() {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 25)
        let live = Self.cases.filter { $0.payload_verified_live == true }.count
        XCTAssertGreaterThanOrEqual(live, 10, "the generator should have proven the exec payloads live")
        for c in Self.cases {
            XCTAssertTrue(FileManager.default.fileExists(atPath: TestSupport.fixture("hostile/\(c.file)")), c.file)
        }
    }

    func testEveryFileIsRefusedWithItsMessageAndLeavesNoCanary() {
        let fm = FileManager.default
        for c in Self.cases {
            if let canary = c.canary { try? fm.removeItem(atPath: canary) }
        }
        for c in Self.cases {
            let path = TestSupport.fixture("hostile/\(c.file)")
            assertRefused(c.fragment) { _ = try CheckpointReader.read(path: path) }
            do {
                let got = try CheckpointReader.read(path: path, options: ReadOptions(permissive: true))
                XCTAssertEqual(c.permissive, "loads", "\(c.file) must stay refused in permissive mode")
                // What loads is inert: the placeholders are listed, never part of the weights.
                XCTAssertTrue(got.ignored.contains { $0.contains("placeholder") }, "\(c.file): \(got.ignored)")
            } catch let e as CheckpointError {
                XCTAssertEqual(c.permissive, "refused", "\(c.file) should load as placeholders in permissive mode: \(e)")
                if let f = c.permissive_fragment { XCTAssertTrue(e.description.contains(f), "\(c.file): \(e)") }
                XCTAssertFalse(e.description.contains("\n"), c.file)
            } catch {
                XCTFail("\(c.file): unexpected \(error)")
            }
        }
        for c in Self.cases {
            if let canary = c.canary {
                XCTAssertFalse(fm.fileExists(atPath: canary), "\(c.file) left its canary: a payload ran")
            }
        }
    }

    func testErrorsNameFileEntryAndOffset() {
        let path = TestSupport.fixture("hostile/os_system.pt")
        do {
            _ = try CheckpointReader.read(path: path)
            XCTFail("os_system.pt must be refused")
        } catch let e as CheckpointError {
            XCTAssertEqual(e.file, path)
            XCTAssertEqual(e.entry, "archive/data.pkl")
            XCTAssertNotNil(e.offset)
            XCTAssertTrue(e.description.hasPrefix("\(path): archive/data.pkl: refused global os.system"), e.description)
            XCTAssertTrue(e.description.hasSuffix("(at byte \(e.offset!))"), e.description)
        } catch {
            XCTFail("\(error)")
        }
    }
}
