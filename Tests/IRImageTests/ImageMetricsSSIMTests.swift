import Foundation
import IRImage
import IRTestSupport
import XCTest

/// SSIM against scikit-image's values (Tools/gen_ssim_goldens.py → Tests/Fixtures/metrics/ssim.json).
final class ImageMetricsSSIMTests: XCTestCase {
    func testMatchesScikitImage() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("metrics/ssim.json")))
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try XCTUnwrap(doc["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let shape = try XCTUnwrap(c["shape"] as? [Int])
            let levels = { (key: String) in (c[key] as? [Int] ?? []).map { Float($0) / 255 } }
            let got = try ImageMetrics.ssim(levels("estimate"), levels("reference"), channels: shape[0], height: shape[1], width: shape[2])
            XCTAssertEqual(got, try XCTUnwrap(c["ssim"] as? Double), accuracy: 1e-9, name)
        }
    }

    func testRefusesWhatSSIMCannotMeasure() {
        XCTAssertThrowsError(try ImageMetrics.ssim([0, 1], [0], channels: 1, height: 1, width: 2))
        let small = [Float](repeating: 0.5, count: 10 * 10)
        XCTAssertThrowsError(try ImageMetrics.ssim(small, small, channels: 1, height: 10, width: 10)) { e in
            XCTAssertTrue("\(e)".contains("at least 11x11"), "\(e)")
        }
    }
}
