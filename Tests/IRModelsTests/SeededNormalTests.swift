import Foundation
import XCTest
import IRTestSupport
import IRModels

/// The `seeded-normal` pos_embed default is specified so that anyone can rebuild it: the Swift
/// generator must equal the Python one written from the specification (Tools/gen_seeded_normal_fixture.py).
final class SeededNormalTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable { let seed: String; let stream: String; let fnv1a64: String; let values: [Float] }
        let cases: [Case]
    }

    func testMatchesThePythonReference() throws {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: TestSupport.fixture("irmodels/seeded_normal.json")))
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        XCTAssertEqual(fixture.cases.count, 4)
        for c in fixture.cases {
            let seed = try XCTUnwrap(UInt64(c.seed))
            XCTAssertEqual(SeededNormal.fnv1a64(c.stream), UInt64(c.fnv1a64), c.stream)
            var g = SeededNormal(seed: seed, stream: c.stream)
            let values = (0..<c.values.count).map { _ in g.next() }
            for (i, (a, b)) in zip(values, c.values).enumerated() {
                XCTAssertEqual(a, b, accuracy: 2e-7 * max(1, abs(b)), "\(c.stream) seed \(c.seed) value \(i)")
            }
        }
    }

    func testLooksStandardNormal() {
        var g = SeededNormal(seed: 7, stream: "decoder_guide_attentions.1")
        let n = 200_000
        var sum = 0.0, sq = 0.0
        for _ in 0..<n { let v = Double(g.next()); sum += v; sq += v * v }
        let mean = sum / Double(n), variance = sq / Double(n) - mean * mean
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(variance, 1, accuracy: 0.02)
    }
}
