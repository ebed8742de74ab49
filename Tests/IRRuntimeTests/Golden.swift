import Foundation
import XCTest
import IRRuntime
import IRTestSupport

/// One fixture file of Tests/Fixtures/ops (written by Tools/gen_op_goldens.py): cases whose
/// tensors are stored as `<case>.<name>` and whose parameters are JSON in the metadata.
struct GoldenFile {
    let family: String
    private let tensors: [String: Tensor]
    private let params: [String: [String: Any]]

    init(_ family: String) throws {
        self.family = family
        let path = TestSupport.fixture("ops/\(family).safetensors")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        let body = 8 + headerLength
        var t: [String: Tensor] = [:]
        var p: [String: [String: Any]] = [:]
        for (key, value) in header {
            if key == "__metadata__" {
                for (name, json) in value as! [String: String] {
                    p[name] = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
                }
                continue
            }
            let entry = value as! [String: Any]
            precondition(entry["dtype"] as? String == "F32", "fixtures are float32")
            let shape = entry["shape"] as! [Int]
            let offsets = entry["data_offsets"] as! [Int]
            let floats: [Float] = data.subdata(in: (body + offsets[0])..<(body + offsets[1])).withUnsafeBytes {
                Array($0.bindMemory(to: Float.self))
            }
            t[key] = try Tensor(shape: shape, values: floats)
        }
        tensors = t
        params = p
    }

    /// Case names, sorted (so failures are reported in a stable order).
    var cases: [String] { params.keys.sorted() }

    func params(_ c: String) -> [String: Any] { params[c]! }
    func tensor(_ c: String, _ name: String) -> Tensor { tensors["\(c).\(name)"]! }
    func optional(_ c: String, _ name: String) -> Tensor? { tensors["\(c).\(name)"] }
    func expectsError(_ c: String) -> Bool { params[c]?["error"] != nil }

    func int(_ c: String, _ key: String) -> Int { params[c]![key] as! Int }
    func double(_ c: String, _ key: String) -> Double { (params[c]![key] as! NSNumber).doubleValue }
    func bool(_ c: String, _ key: String) -> Bool { params[c]![key] as! Bool }
    func string(_ c: String, _ key: String) -> String { params[c]![key] as! String }
    func ints(_ c: String, _ key: String) -> [Int] { params[c]![key] as! [Int] }
    func size2(_ c: String, _ key: String) -> Size2 { let v = ints(c, key); return Size2(v[0], v[1]) }
    func isNull(_ c: String, _ key: String) -> Bool { params[c]![key] == nil || params[c]![key] is NSNull }
}

/// The tolerance of every golden: max|ours − torch| ≤ 1e-5 · max(1, |torch|), element-wise.
let goldenTolerance: Float = 1e-5

/// Worst element-wise violation ratio (|a − b| / (tol · max(1, |b|))); ≤ 1 passes. NaN and ±inf
/// must sit where torch has them (+inf otherwise).
func goldenError(_ got: Tensor, _ want: Tensor) -> Float {
    let d = got.withUnsafeBufferPointer { g in want.withUnsafeBufferPointer { w in FloatDifference(g, w) } }
    return d.maxScaledOrInfinity / goldenTolerance
}

extension XCTestCase {
    /// Runs `body` for every case of each family (the plain one and its `degenerate_` twin) at every
    /// SIMD level this CPU supports, comparing its result with torch's, NaN and inf position for
    /// position (or expecting a RuntimeError where torch refused).
    func checkGoldens(_ families: String..., file: StaticString = #filePath, line: UInt = #line,
                      _ body: (GoldenFile, String, ComputeContext) throws -> [Tensor]) throws {
        for family in families { try checkGoldens(family: family, file: file, line: line, body) }
    }

    private func checkGoldens(family: String, file: StaticString, line: UInt,
                              _ body: (GoldenFile, String, ComputeContext) throws -> [Tensor]) throws {
        let golden = try GoldenFile(family)
        XCTAssertFalse(golden.cases.isEmpty, "no cases in \(family)", file: file, line: line)
        let original = ComputeContext.simdLevel
        var worst: (ratio: Float, label: String) = (0, "")
        var checked = 0
        defer {
            ComputeContext.setSIMDLevel(original)
            // One line per family for the log: how close the worst element came to the tolerance.
            print("golden \(family): \(checked) comparisons, worst error \(worst.ratio)× tolerance (\(worst.label))")
        }
        for level in SIMDLevel.allCases where ComputeContext.setSIMDLevel(level) {
            for threads in [1, 2] {
                let ctx = ComputeContext(threads: threads)
                for c in golden.cases {
                    let label = "\(family)/\(c) [\(level), \(threads) threads]"
                    if golden.expectsError(c) {
                        XCTAssertThrowsError(try body(golden, c, ctx), "\(label): torch refuses this", file: file, line: line) { e in
                            XCTAssertTrue(e is RuntimeError, "\(label): \(e)", file: file, line: line)
                            XCTAssertFalse("\(e)".contains("\n"), "\(label): multi-line error", file: file, line: line)
                        }
                        continue
                    }
                    let outs: [Tensor]
                    do { outs = try body(golden, c, ctx) } catch {
                        XCTFail("\(label): \(error)", file: file, line: line)
                        continue
                    }
                    let wants = golden.optional(c, "out").map { [$0] }
                        ?? (0..<outs.count).map { golden.tensor(c, "out\($0)") }
                    XCTAssertEqual(outs.count, wants.count, "\(label): output count", file: file, line: line)
                    for (got, want) in zip(outs, wants) {
                        XCTAssertEqual(got.shape, want.shape, "\(label): shape", file: file, line: line)
                        guard got.shape == want.shape else { continue }
                        let e = goldenError(got, want)
                        checked += 1
                        if e > worst.ratio { worst = (e, label) }
                        XCTAssertLessThanOrEqual(e, 1, "\(label): error \(e)× the tolerance", file: file, line: line)
                    }
                }
            }
        }
    }
}
