import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

/// Tests/Fixtures/torch/expected.json, written by Tools/gen_torch_fixtures.py.
struct TorchExpectations: Decodable {
    struct Tensor: Decodable, Equatable {
        var name: String
        var dtype: String
        var shape: [Int]
        var sha256: String
    }
    struct Selection: Decodable {
        var wrapper: String
        var names: [String]
        var ignored: [String]?
    }
    struct File: Decodable {
        var format: String
        var wrapper: String?
        var tensors: [Tensor]
        var ignored: [String]
        var notes: [String]?
        var select: [String: Selection]?
        var refused: String?
        var permissive_only: Bool?
    }
    var files: [String: File]
    var pickles: [String: String]

    static let shared: TorchExpectations = {
        let url = URL(fileURLWithPath: TestSupport.fixture("torch/expected.json"))
        let data = try! Data(contentsOf: url)
        return try! JSONDecoder().decode(TorchExpectations.self, from: data)
    }()
}

enum TorchFixture {
    static func path(_ name: String) -> String { TestSupport.fixture("torch/\(name)") }

    /// The table as the expected.json entries spell it.
    static func table(_ records: [TensorRecord]) -> [TorchExpectations.Tensor] {
        records.map {
            TorchExpectations.Tensor(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape,
                                     sha256: SHA256Hasher.hex(of: $0.data))
        }
    }

    /// Reads `name` and compares format, wrapper, every tensor (bytes by sha256) and the ignored lines.
    @discardableResult
    static func check(_ name: String, options: ReadOptions = ReadOptions(), file: StaticString = #filePath, line: UInt = #line) throws -> LoadedCheckpoint {
        let want = try XCTUnwrap(TorchExpectations.shared.files[name], "no expectation for \(name)", file: file, line: line)
        let got = try CheckpointReader.read(path: path(name), options: options)
        XCTAssertEqual(got.format.rawValue, want.format, "\(name): format", file: file, line: line)
        XCTAssertEqual(got.wrapper, want.wrapper, "\(name): wrapper", file: file, line: line)
        let table = table(got.tensors)
        XCTAssertEqual(table.map(\.name), want.tensors.map(\.name), "\(name): tensor names", file: file, line: line)
        for (g, w) in zip(table, want.tensors) {
            XCTAssertEqual(g, w, "\(name): tensor \(w.name)", file: file, line: line)
        }
        XCTAssertEqual(Array(got.ignored.prefix(want.ignored.count)), want.ignored, "\(name): ignored", file: file, line: line)
        if let notes = want.notes {
            for n in notes { XCTAssertTrue(got.notes.contains(n), "\(name): missing note '\(n)' in \(got.notes)", file: file, line: line) }
        }
        return got
    }
}

/// Asserts that `body` throws a CheckpointError whose one-line description contains `fragment`.
func assertRefused(_ fragment: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected a refusal containing '\(fragment)'", file: file, line: line)
    } catch let e as CheckpointError {
        XCTAssertTrue(e.description.contains(fragment), "'\(e.description)' does not contain '\(fragment)'", file: file, line: line)
        XCTAssertFalse(e.description.contains("\n"), "error is not one line: \(e.description)", file: file, line: line)
    } catch {
        XCTFail("unexpected error type \(type(of: error)): \(error)", file: file, line: line)
    }
}
