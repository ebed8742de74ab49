import XCTest
import IRCheckpoint
import IRTestSupport

/// What the CLI tests read back: committed golden files and the `.npy` outputs of `irzoo run`.
extension XCTestCase {
    /// `Tests/Fixtures/models/MODEL/FILE`.
    func golden(_ model: String, _ file: String) -> String { TestSupport.fixture("models/\(model)/\(file)") }

    /// A float32 `.npy` (shape and values).
    func npy(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> (shape: [Int], values: [Float]) {
        let r = try NumpyArray.read(path: path)
        XCTAssertEqual(r.dtype, .f32, path, file: file, line: line)
        return (r.shape, r.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
    }

    /// The values of a float32 `.npy`.
    func npyValues(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
        try npy(path, file: file, line: line).values
    }

    /// The largest element-wise |a − b| (infinity, and a failure, when the counts differ; infinity
    /// where NaN/inf positions differ, see FloatDifference).
    func maxAbs(_ a: [Float], _ b: [Float], file: StaticString = #filePath, line: UInt = #line) -> Float {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        guard a.count == b.count else { return .infinity }
        return FloatDifference(a, b).maxAbsOrInfinity
    }
}
