import Foundation
import XCTest
import IRTestSupport
import IRTensor
import IRCheckpoint
import IRRegistry
import IRRuntime
import IRModels

/// One golden case folder: a checkpoint in the upstream container, config.json, inputs and
/// PyTorch's outputs (Tests/Fixtures/models/<case>/, written by Tools/gen_model_goldens.py and
/// Tools/gen_anyir_goldens.py).
struct ModelCase {
    let directory: String

    init(_ name: String) {
        directory = TestSupport.fixture("models/\(name)")
    }

    func path(_ file: String) -> String { (directory as NSString).appendingPathComponent(file) }

    func exists(_ file: String) -> Bool { FileManager.default.fileExists(atPath: path(file)) }

    /// A float32 .npy as a runtime tensor.
    func tensor(_ file: String) throws -> Tensor {
        try Tensor(record: try NumpyArray.read(path: path(file)))
    }

    /// Every array of an .npz, by name.
    func tensors(npz file: String) throws -> [String: Tensor] {
        var out = [String: Tensor]()
        for r in try NumpyArchive.read(path: path(file)) { out[r.name] = try Tensor(record: r) }
        return out
    }

    func config(family: String) throws -> ModelConfig {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: path("config.json")))
        let json = try JSONDecoder().decode(JSON.self, from: data)
        return try XCTUnwrap(Families.catalog.named(family)).decode(json)
    }

    /// Reads `file` and maps its names with the layout `layout` of the registered manifest `manifestID`,
    /// exactly as `irzoo import` does.
    func records(_ file: String, manifest manifestID: String, layout: String) throws -> [TensorRecord] {
        let manifest = try XCTUnwrap(try Zoo.embedded().manifest(manifestID), "manifest \(manifestID)")
        let rules = try XCTUnwrap(manifest.layout(named: layout), "layout \(layout) of \(manifestID)")
        let loaded = try CheckpointReader.read(path: path(file))
        return try KeyMapper.apply(rules, to: loaded.tensors).tensors
    }

    func model(_ file: String, manifest: String, layout: String, family: String, threads: Int? = nil) throws -> Model {
        try ModelFactory.make(config: try config(family: family), records: try records(file, manifest: manifest, layout: layout),
                              source: path(file), context: ComputeContext(threads: threads))
    }
}

/// max |a − b| over two tensors of one shape: +inf where NaN/inf positions differ (FloatDifference).
func maxAbsDifference(_ a: Tensor, _ b: Tensor, file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(a.shape, b.shape, "shapes differ", file: file, line: line)
    guard a.shape == b.shape else { return .infinity }
    return floatDifference(a, b).maxAbsOrInfinity
}

/// The element-wise comparison of two tensors' values, NaN and inf position for position.
func floatDifference(_ got: Tensor, _ want: Tensor) -> FloatDifference {
    got.withUnsafeBufferPointer { g in want.withUnsafeBufferPointer { w in FloatDifference(g, w) } }
}

func assertClose(_ a: Tensor, _ b: Tensor, tolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    let d = maxAbsDifference(a, b, file: file, line: line)
    print("golden \(what): max abs error \(d) (tolerance \(tolerance))")
    XCTAssertLessThanOrEqual(d, tolerance, "\(what): max abs error \(d)", file: file, line: line)
}

/// A published-size network on constant weights 0.01 against PyTorch's answer
/// (Tests/Fixtures/models/published-degenerate, Tools/gen_published_degenerate_goldens.py): NaN and
/// inf exactly where torch has them; finite values (up to 2e6, after dozens of blocks of float32
/// rounding, where torch's own float32 and float64 differ by up to 1.4e-5 relative) within
/// 1e-4·max(1, |torch|).
func assertMatchesPublishedDegenerate(_ y: Tensor, _ golden: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let want = try ModelCase("published-degenerate").tensor(golden)
    XCTAssertEqual(y.shape, want.shape, golden, file: file, line: line)
    let d = floatDifference(y, want)
    print("published degenerate \(golden) [\(ComputeContext.simdLevel)]: \(d)")
    XCTAssertTrue(d.within(scaled: 1e-4), "\(golden): \(d)", file: file, line: line)
}

