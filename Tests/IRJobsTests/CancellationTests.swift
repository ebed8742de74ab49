import IRJobs
import IRRuntime
import XCTest

/// The runtime hook job cancellation stands on: a cancelled token stops the next op.
final class CancellationTests: XCTestCase {
    func testACancelledTokenStopsTheNextOp() throws {
        let ctx = ComputeContext(threads: 1)
        let token = CancellationToken()
        ctx.cancellation = token
        let x = try ctx.zeros([1, 2, 4, 4])
        XCTAssertNoThrow(try ctx.copy(x))
        token.cancel()
        XCTAssertThrowsError(try ctx.copy(x)) { XCTAssertTrue($0 is CancellationError, "\($0)") }
        XCTAssertThrowsError(try token.check()) { XCTAssertTrue($0 is CancellationError) }
        ctx.cancellation = nil
        XCTAssertNoThrow(try ctx.copy(x))
    }
}
