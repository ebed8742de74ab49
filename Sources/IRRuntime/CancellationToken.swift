#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks a running job to stop. Any thread may cancel; the forward pass notices at its next op
/// (every op draws its output through `ComputeContext.empty`, which throws `CancellationError`),
/// so a cancel lands between layers, tiles and diffusion steps alike, without models checking.
public final class CancellationToken: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var cancelled = false

    public init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }

    public func cancel() {
        pthread_mutex_lock(&lock)
        cancelled = true
        pthread_mutex_unlock(&lock)
    }

    public var isCancelled: Bool {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return cancelled
    }

    /// Throws `CancellationError` once cancelled: for loops between units of work.
    public func check() throws {
        if isCancelled { throw CancellationError() }
    }
}
