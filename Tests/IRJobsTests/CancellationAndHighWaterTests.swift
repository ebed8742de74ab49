import IRJobs
import IRRuntime
import XCTest

/// The two runtime hooks the job engine stands on: a cancelled token stops the next op, and the
/// buffer pool's high-water mark the memory planner fits.
final class CancellationAndHighWaterTests: XCTestCase {
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

    func testThePoolsHighWaterMarkFollowsTheLiveBuffers() throws {
        let ctx = ComputeContext(threads: 1)
        let pool = ctx.pool
        XCTAssertEqual(pool.peakBytesInUse, 0)
        do {
            let a = try ctx.empty([1024])        // 4 KiB
            let b = try ctx.empty([2048])        // 8 KiB
            XCTAssertEqual(pool.bytesInUse, 12 * 1024)
            withExtendedLifetime((a, b)) {}
        }
        XCTAssertEqual(pool.bytesInUse, 0, "freed tensors give their bytes back")
        XCTAssertEqual(pool.peakBytesInUse, 12 * 1024)
        pool.resetPeaks()
        XCTAssertEqual(pool.peakBytesInUse, 0)
        _ = try ctx.empty([1024])                // reused from the free list: still counted while live
        XCTAssertEqual(pool.peakBytesInUse, 4 * 1024)
    }
}
