import Dispatch

/// CRC checks a reader was asked to leave for later (`ReadOptions.deferLargeCRC`): the checks of
/// large stored zip members, to be run while their bytes are copied, so checking and copying
/// overlap on two cores instead of one after the other. Whoever asked MUST `run()` them, and
/// keep nothing built from those bytes when it throws (convert: before the output's rename).
public struct DeferredChecks: @unchecked Sendable {
    let checks: [() throws -> Void]

    public static let none = DeferredChecks(checks: [])

    public var isEmpty: Bool { checks.isEmpty }

    /// Runs every check; the first failure throws (a CheckpointError naming the member).
    public func run() throws {
        for c in checks { try c() }
    }

    /// Starts `run()` on another thread; `wait()` on the result returns or throws its outcome.
    public func start() -> Running {
        let running = Running()
        guard !isEmpty else { running.finish(.success(())); return running }
        DispatchQueue.global().async { running.finish(Result { try self.run() }) }
        return running
    }

    public final class Running: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var outcome: Result<Void, Error> = .success(())

        fileprivate func finish(_ r: Result<Void, Error>) {
            outcome = r
            done.signal()
        }

        /// Blocks until the checks are done; throws what they threw. May be called again (a
        /// caller's `defer` waits on error paths too, so no check outlives the process's exit).
        public func wait() throws {
            done.wait()
            done.signal()
            try outcome.get()
        }
    }
}
