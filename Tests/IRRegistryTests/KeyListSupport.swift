import Foundation
import IRModels
import IRRegistry
import IRTensor
import IRTestSupport
import XCTest

/// Published key lists (copies of shared/architectures/*keys* in Tests/Fixtures/keys):
/// `name<TAB>[d0, d1, ...][<TAB>torch.dtype]`, `#` comments.
enum KeyList {
    static func load(_ file: String, prefix: String = "", file callerFile: StaticString = #filePath, line: UInt = #line) throws -> [TensorShape] {
        let path = TestSupport.fixture("keys/" + file)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var out = [TensorShape]()
        for raw in text.split(separator: "\n") where !raw.hasPrefix("#") && !raw.trimmingCharacters(in: .whitespaces).isEmpty {
            let cols = raw.split(separator: "\t", omittingEmptySubsequences: false)
            guard cols.count >= 2 else { throw ZooError(file: path, reason: "bad line '\(raw)'") }
            let dims = cols[1].trimmingCharacters(in: CharacterSet(charactersIn: "[] ")).split(separator: ",")
                .map { Int($0.trimmingCharacters(in: .whitespaces))! }
            var dtype = DType.f32
            if cols.count >= 3, cols[2].contains("int64") { dtype = .i64 }
            let name = String(cols[0])
            if name.hasSuffix("num_batches_tracked") { dtype = .i64 }  // BatchNorm's counter is int64
            out.append(TensorShape(name: prefix + name, shape: dims, dtype: dtype))
        }
        return out
    }

    static func zoo() throws -> Zoo { try Zoo.load(directory: TestSupport.repoRoot.appendingPathComponent("Zoo").path, families: Families.catalog) }
}

extension XCTestCase {
    /// Maps `tensors` with the manifest's layout and checks them against the manifest config's inventory.
    func assertExactFit(_ tensors: [TensorShape], manifest: ZooManifest, layout: String, checkOrder: Bool = true,
                        file: StaticString = #filePath, line: UInt = #line) throws -> MappedTensors<TensorShape> {
        let l = try XCTUnwrap(manifest.layout(named: layout), "no layout \(layout) in \(manifest.id)", file: file, line: line)
        let mapped = try KeyMapper.apply(l, to: tensors)
        let config = try XCTUnwrap(manifest.modelConfig, file: file, line: line)
        let report = InventoryCheck.check(expected: config.inventory, tensors: mapped.tensors)
        XCTAssertTrue(report.isExact, "\(manifest.id) / \(layout):\n\(report)", file: file, line: line)
        // Same order as upstream's state_dict, not just the same set.
        if report.isExact && checkOrder {
            XCTAssertEqual(config.inventory.map(\.name), mapped.tensors.map(\.name), "\(manifest.id): inventory order differs", file: file, line: line)
        }
        return mapped
    }
}
