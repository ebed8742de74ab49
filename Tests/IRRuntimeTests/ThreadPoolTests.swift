import Foundation
import XCTest
import IRRuntime

/// The kernels' fixed thread pool: every chunk runs exactly once, nested and concurrent callers
/// neither deadlock nor change results.
final class ThreadPoolTests: XCTestCase {
    func testEveryChunkRunsOnce() {
        let ctx = ComputeContext(threads: 2)
        for n in [1, 2, 3, 7, 1000] {
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: n)
            counts.initialize(repeating: 0, count: n)
            defer { counts.deallocate() }
            for _ in 0..<200 {
                ctx.parallelFor(n) { r in for i in r { counts[i] += 1 } }
            }
            XCTAssertTrue((0..<n).allSatisfy { counts[$0] == 200 }, "n = \(n)")
        }
    }

    func testNestedParallelForRunsInline() {
        let ctx = ComputeContext(threads: 2)
        let total = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        total.initialize(repeating: 0, count: 64)
        defer { total.deallocate() }
        ctx.parallelFor(8) { outer in
            for o in outer {
                ctx.parallelFor(8) { inner in for i in inner { total[o * 8 + i] += 1 } }
            }
        }
        XCTAssertTrue((0..<64).allSatisfy { total[$0] == 1 })
    }

    /// Two threads with their own contexts at once: one gets the pool, the other runs serially.
    func testConcurrentContextsAgree() throws {
        let x = try Tensor(shape: [1, 16, 40, 40], values: (0..<(16 * 1600)).map { Float($0 % 29) / 29 - 0.5 })
        let w = try Tensor(shape: [24, 16, 3, 3], values: (0..<(24 * 144)).map { Float($0 % 13) / 13 - 0.5 })
        let reference = try ComputeContext(threads: 1).conv2d(x, weight: w, padding: 1).scalars
        // One flag per thread, written through a raw pointer (distinct elements, no shared array).
        let ok = UnsafeMutablePointer<Bool>.allocate(capacity: 4)
        ok.initialize(repeating: false, count: 4)
        defer { ok.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let ctx = ComputeContext(threads: 2)
            var same = true
            for _ in 0..<10 {
                guard let y = try? ctx.conv2d(x, weight: w, padding: 1) else { same = false; break }
                same = same && y.scalars == reference
            }
            ok[i] = same
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: ok, count: 4)), [true, true, true, true])
    }
}
