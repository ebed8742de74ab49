import Foundation
import IRTensor
import IRKernels

/// Where operators run: the thread count and the buffer pool their outputs come from.
///
/// A model owns one context and calls every op through it (`try ctx.conv2d(...)`). Outputs are
/// drawn from `pool` and return to it when the tensors die, so repeated forward passes at the
/// same size allocate nothing new. Ops are synchronous; one context must not be used by two
/// threads at the same time (it parallelises internally over `threads` workers).
public final class ComputeContext: @unchecked Sendable {
    public let pool: BufferPool
    /// Worker threads per op (default: every active core).
    public var threads: Int
    /// When set and cancelled, the next op fails with `CancellationError` (see `CancellationToken`).
    public var cancellation: CancellationToken?
    /// Forces the height of the row bands models cut large feature maps into (nil: their own
    /// choice); tests use it to check that a banded run equals the whole-map one.
    public var bandRows: Int?

    public init(threads: Int? = nil, pool: BufferPool = BufferPool()) {
        self.pool = pool
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// An uninitialised pooled tensor (every element must be written before use).
    public func empty(_ shape: [Int]) throws -> Tensor {
        if let cancellation, cancellation.isCancelled { throw CancellationError() }
        let n = try checkedElementCount(shape)
        return Tensor(shape: shape, storage: pool.take(count: n))
    }

    /// A zero-filled pooled tensor.
    public func zeros(_ shape: [Int]) throws -> Tensor {
        let t = try empty(shape)
        t.mutablePointer.update(repeating: 0, count: t.count)
        return t
    }

    /// A pooled copy of `x` (useful before writing into a tensor in place).
    public func copy(_ x: Tensor) throws -> Tensor {
        let t = try empty(x.shape)
        t.mutablePointer.update(from: x.pointer, count: x.count)
        return t
    }

    /// Scratch memory for the duration of `body` (returned to the pool afterwards).
    func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let s = pool.take(count: count)
        return try withExtendedLifetime(s) { try body(s.base) }
    }

    /// Runs `body` over `0..<n` split into at most `threads` contiguous chunks, in parallel.
    /// `grain` is the smallest chunk worth a thread.
    public func parallelFor(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelChunks(n, grain: grain) { _, range in body(range) }
    }

    /// Like `parallelFor`, also passing the worker index (0 ..< threads), e.g. to pick per-worker scratch.
    /// Runs on the kernels' fixed thread pool (IRKernels/pool.c), the calling thread taking chunk 0.
    func parallelChunks(_ n: Int, grain: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        guard n > 0 else { return }
        let workers = min(threads, max(1, n / max(grain, 1)))
        if workers <= 1 { body(0, 0..<n); return }
        withoutActuallyEscaping(body) { body in
            var job = ParallelJob(n: n, workers: workers, body: body)
            withUnsafeMutablePointer(to: &job) { ptr in
                irk_parallel(Int32(workers), { raw, chunk in
                    let job = raw!.assumingMemoryBound(to: ParallelJob.self).pointee
                    let w = Int(chunk)
                    let lo = job.n * w / job.workers, hi = job.n * (w + 1) / job.workers
                    if lo < hi { job.body(w, lo..<hi) }
                }, ptr)
            }
        }
    }

    /// Which SIMD code path the kernels use on this CPU.
    public static var simdLevel: SIMDLevel {
        get { SIMDLevel(rawValue: Int(irk_get_level())) ?? .baseline }
    }

    /// Forces a lower SIMD path (for tests and comparisons); levels the CPU lacks are refused.
    @discardableResult
    public static func setSIMDLevel(_ level: SIMDLevel) -> Bool {
        irk_set_level(Int32(level.rawValue)) == 0
    }
}

/// What one `parallelChunks` call hands to the C pool.
private struct ParallelJob {
    let n: Int
    let workers: Int
    let body: (Int, Range<Int>) -> Void
}

/// Elements of `shape`, refusing overflow and tensors larger than this machine's memory (an
/// allocation that cannot succeed would otherwise end the process).
func checkedElementCount(_ shape: [Int]) throws -> Int {
    guard let n = ShapeMath.elementCount(shape), let bytes = ShapeMath.byteCount(shape, .f32) else {
        throw RuntimeError("allocate", "shape \(shape) overflows or has a negative dimension")
    }
    let memory = ProcessInfo.processInfo.physicalMemory
    if UInt64(bytes) > memory {
        throw RuntimeError("allocate", "a tensor of shape \(shape) needs \(bytes >> 20) MiB, more than this machine's \(memory >> 20) MiB")
    }
    return n
}

/// The kernel families compiled into one binary and picked at run time.
public enum SIMDLevel: Int, Sendable, CaseIterable {
    case baseline = 0, avx2 = 1, avx512 = 2, neon = 3
}

/// A (height, width) pair written `3` or `[3, 1]` (torch's int-or-tuple arguments).
public struct Size2: Equatable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, CustomStringConvertible {
    public var h: Int
    public var w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public init(_ both: Int) { self.h = both; self.w = both }
    public init(integerLiteral v: Int) { self.init(v) }
    public init(arrayLiteral e: Int...) {
        precondition(e.count == 2, "Size2 takes [h, w]")
        self.init(e[0], e[1])
    }
    public var description: String { h == w ? "\(h)" : "(\(h), \(w))" }
}
