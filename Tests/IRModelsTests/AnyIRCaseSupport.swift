import Foundation
import XCTest
import IRTestSupport
import IRTensor
import IRCheckpoint
import IRRegistry
import IRRuntime
import IRModels

/// A Lightning checkpoint imported the way `irzoo import --arch ID` does it: the container read,
/// the manifest's layouts tried, the config read off the shapes when the manifest's own does
/// not fit (every golden is a tiny config), the inventory checked.
struct LightningImport {
    let loaded: LoadedCheckpoint
    let resolution: Resolution<TensorRecord>

    init(_ golden: ModelCase, manifest id: String) throws {
        let manifest = try XCTUnwrap(try Zoo.embedded().manifest(id), "manifest \(id)")
        loaded = try CheckpointReader.read(path: golden.path("model.ckpt"))
        resolution = try ModelResolver.resolve(loaded.tensors, manifest: manifest)
    }

    var records: [TensorRecord] { resolution.mapped.tensors }

    func model(threads: Int? = nil) throws -> Model {
        try ModelFactory.make(config: resolution.config, records: records, source: "model.ckpt",
                              context: ComputeContext(threads: threads))
    }
}

/// Zero tensors with the shapes of a published key list (`key<TAB>[d0, d1, ...]` lines), as a
/// checkpoint under the Lightning layout would hold them (`net.` prefix).
func keyListTensors(_ file: String) throws -> [TensorShape] {
    let text = try String(contentsOfFile: TestSupport.fixture("keys/\(file)"), encoding: .utf8)
    return text.split(separator: "\n").compactMap { line -> TensorShape? in
        guard !line.hasPrefix("#"), !line.isEmpty else { return nil }
        let parts = line.split(separator: "\t")
        let dims = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            .split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces))! }
        let name = String(parts[0])
        return TensorShape(name: "net." + name, shape: dims, dtype: name.hasSuffix("num_batches_tracked") ? .i64 : .f32)
    }
}

/// Weights of the given names and shapes, every value `fill` (one shared buffer per size).
func constantWeights(_ shapes: [TensorShape], fill: Float = 0) throws -> Weights {
    var table = [String: Tensor]()
    for s in shapes {
        table[s.name] = try Tensor(shape: s.shape, values: [Float](repeating: fill, count: s.elementCount))
    }
    return Weights(tensors: table)
}

/// The issue's bar for every AnyIR/PromptIR golden: max |ours − torch| ≤ 1e-4 (the measured
/// error is printed, so regressions show before they fail).
func assertGolden(_ ours: Tensor, _ torch: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    let d = maxAbsDifference(ours, torch, file: file, line: line)
    print("\(what): max abs error \(d) over \(torch.count) values")
    XCTAssertLessThanOrEqual(d, 1e-4, "\(what): max abs error \(d)", file: file, line: line)
}
