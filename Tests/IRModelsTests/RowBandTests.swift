import XCTest
import IRTestSupport
import IRRuntime
import IRModels

/// Restormer blocks run large maps in row bands (each band with one halo row per side for the
/// depthwise convs). Forcing small bands on the tiny golden must give the whole-map result: the
/// same per-pixel sums, so equal up to the GEMM's tile choice for other widths (none at these
/// sizes), and PyTorch's output within the golden's tolerance.
final class RowBandTests: XCTestCase {
    let golden = ModelCase("symunet-tiny")

    func testBandedRunEqualsWholeMap() throws {
        let x = try golden.tensor("input.npy")
        let whole = try golden.model("checkpoint.pth", manifest: "symunet", layout: "basicsr", family: "symunet").run(x)
        // 5-row bands: many bands at 64 px, a band shorter than the halo reach at the bottom, two at 8 px.
        for rows in [1, 5, 16] {
            let model = try golden.model("checkpoint.pth", manifest: "symunet", layout: "basicsr", family: "symunet")
            model.context.bandRows = rows
            let y = try model.run(x)
            XCTAssertLessThanOrEqual(maxAbsDifference(y, whole), 1e-6, "bands of \(rows) rows against the whole map")
            assertClose(y, try golden.tensor("output.npy"), tolerance: 1e-4, "SymUNet tiny in bands of \(rows) rows")
        }
    }

    /// AnyIR's GDFN (`GatedDconvFeedForward`, also UniLDiff's) runs in bands the same way.
    func testBandedAnyIREqualsWholeMap() throws {
        let anyir = ModelCase("anyir-t")
        let x = try anyir.tensor("input.npy")
        let whole = try LightningImport(anyir, manifest: "anyir-t").model().run(x)
        for rows in [1, 5] {
            let model = try LightningImport(anyir, manifest: "anyir-t").model()
            model.context.bandRows = rows
            let y = try model.run(x)
            XCTAssertLessThanOrEqual(maxAbsDifference(y, whole), 1e-6, "AnyIR in bands of \(rows) rows against the whole map")
            assertGolden(y, try anyir.tensor("output.npy"), "AnyIR tiny T in bands of \(rows) rows")
        }
    }
}
