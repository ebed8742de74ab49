import Foundation

/// A job as the API reports it (`GET /api/jobs/{id}`, and each server-sent event).
public struct JobSnapshot: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case queued, running, done, failed, cancelled

        var isFinal: Bool { self == .done || self == .failed || self == .cancelled }
    }

    public struct Upload: Codable, Sendable, Equatable {
        /// The client's file name, for display only (never a path: see `UploadName`).
        public var name: String
        public var format: String
        public var width: Int
        public var height: Int
        public var bytes: Int
    }

    public var id: String
    public var model: String
    public var state: State
    /// Jobs ahead of this one for the same model (queued jobs only).
    public var queuePosition: Int?
    public var cancelRequested: Bool
    public var progress: JobProgress?
    public var input: Upload
    public var reference: Upload?
    public var prompt: String?
    public var steps: Int?
    public var seed: UInt64?
    public var result: JobResult?
    public var error: String?
    /// Seconds since 1970.
    public var created: Double
    public var started: Double?
    public var finished: Double?

    enum CodingKeys: String, CodingKey {
        case id, model, state, queuePosition = "queue_position", cancelRequested = "cancel_requested", progress, input, reference,
             prompt, steps, seed, result, error, created, started, finished
    }
}

/// The bounded queue between the API and the engine: at most `capacity` jobs waiting or running
/// (one more is refused, which the API answers 429), one job at a time per model, in order of
/// arrival; jobs for different models may run side by side. Each job runs on a thread of its own,
/// so a long restoration never holds up the threads that answer requests.
public actor JobQueue {
    public enum SubmitError: Error, Equatable { case full(capacity: Int) }

    public struct Submission: Sendable {
        public var model: String
        public var input: JobSnapshot.Upload
        public var reference: JobSnapshot.Upload?
        public var prompt: String?
        public var steps: Int?
        public var seed: UInt64?
    }

    private final class Job {
        var snapshot: JobSnapshot
        let folder: String
        let request: JobRequest
        let cancellation = JobCancellation()
        init(snapshot: JobSnapshot, folder: String, request: JobRequest) {
            self.snapshot = snapshot
            self.folder = folder
            self.request = request
        }
    }

    private let engine: any JobEngine
    public nonisolated let capacity: Int
    private let keepFinished: Int
    private var jobs = [String: Job]()
    /// Arrival order of every job still held, for listing and eviction.
    private var order = [String]()
    private var waiting = [String: [String]]()
    private var busyModels = Set<String>()
    private var watchers = [String: [UUID: AsyncStream<JobSnapshot>.Continuation]]()
    private var activeCount = 0

    public init(engine: any JobEngine, capacity: Int, keepFinished: Int) {
        self.engine = engine
        self.capacity = capacity
        self.keepFinished = keepFinished
    }

    /// Takes a job whose files are already in `folder` (input, reference, made by the server).
    /// Throws `.full` when `capacity` jobs are waiting or running; the caller then removes `folder`.
    public func submit(_ s: Submission, id: String, folder: String, inputPath: String, referencePath: String?) throws -> JobSnapshot {
        guard activeCount < capacity else { throw SubmitError.full(capacity: capacity) }
        let snapshot = JobSnapshot(id: id, model: s.model, state: .queued, queuePosition: nil, cancelRequested: false, progress: nil,
                                   input: s.input, reference: s.reference, prompt: s.prompt, steps: s.steps, seed: s.seed,
                                   result: nil, error: nil, created: Date().timeIntervalSince1970, started: nil, finished: nil)
        let request = JobRequest(model: s.model, input: inputPath, reference: referencePath, output: folder + "/result.png",
                                 prompt: s.prompt, steps: s.steps, seed: s.seed)
        jobs[id] = Job(snapshot: snapshot, folder: folder, request: request)
        order.append(id)
        waiting[s.model, default: []].append(id)
        activeCount += 1
        startNext(for: s.model)
        return self.snapshot(id)!
    }

    public func snapshot(_ id: String) -> JobSnapshot? {
        guard var s = jobs[id]?.snapshot else { return nil }
        if s.state == .queued { s.queuePosition = waiting[s.model]?.firstIndex(of: id) }
        return s
    }

    public func list() -> [JobSnapshot] { order.compactMap { snapshot($0) } }

    /// Jobs waiting or running.
    public var active: Int { activeCount }

    /// The result file of a finished job, or nil.
    public func resultPath(_ id: String) -> String? {
        guard let job = jobs[id], job.snapshot.state == .done else { return nil }
        return job.request.output
    }

    public func inputPath(_ id: String) -> String? { jobs[id]?.request.input }

    /// A waiting job is dropped at once; a running one is asked to stop and ends as `cancelled`
    /// when the engine next looks. Finished jobs are left as they are.
    public func cancel(_ id: String) -> JobSnapshot? {
        guard let job = jobs[id] else { return nil }
        switch job.snapshot.state {
        case .queued:
            waiting[job.snapshot.model]?.removeAll { $0 == id }
            finish(job, state: .cancelled, result: nil, error: "cancelled before it started")
        case .running:
            job.cancellation.cancel()
            job.snapshot.cancelRequested = true
            publish(job)
        case .done, .failed, .cancelled:
            break
        }
        return snapshot(id)
    }

    /// The job's snapshots from now on, starting with the current one, ending after the final state.
    public func events(_ id: String) -> AsyncStream<JobSnapshot>? {
        guard let current = snapshot(id) else { return nil }
        let (stream, continuation) = AsyncStream<JobSnapshot>.makeStream(bufferingPolicy: .bufferingNewest(64))
        continuation.yield(current)
        if current.state.isFinal {
            continuation.finish()
        } else {
            let key = UUID()
            watchers[id, default: [:]][key] = continuation
            continuation.onTermination = { [weak self] _ in
                Task { await self?.unwatch(id, key) }
            }
        }
        return stream
    }

    private func unwatch(_ id: String, _ key: UUID) {
        watchers[id]?[key] = nil
        if watchers[id]?.isEmpty == true { watchers[id] = nil }
    }

    private func publish(_ job: Job) {
        guard let s = snapshot(job.snapshot.id), let list = watchers[s.id] else { return }
        for c in list.values {
            c.yield(s)
            if s.state.isFinal { c.finish() }
        }
        if s.state.isFinal { watchers[s.id] = nil }
    }

    private func startNext(for model: String) {
        guard !busyModels.contains(model), var queue = waiting[model], !queue.isEmpty else { return }
        let id = queue.removeFirst()
        waiting[model] = queue
        guard let job = jobs[id] else { return }
        busyModels.insert(model)
        job.snapshot.state = .running
        job.snapshot.started = Date().timeIntervalSince1970
        publish(job)
        // The others waiting for this model moved up one place.
        for other in queue { if let j = jobs[other] { publish(j) } }

        let engine = self.engine, request = job.request, cancellation = job.cancellation
        let progress: @Sendable (JobProgress) -> Void = { [weak self] p in
            Task { await self?.progressed(id, p) }
        }
        let thread = Thread { [weak self] in
            let outcome: Result<JobResult, Error>
            if cancellation.isCancelled {
                outcome = .failure(JobFailure.cancelled)
            } else {
                outcome = Result { try engine.run(request, progress: progress, cancellation: cancellation) }
            }
            Task { await self?.completed(id, outcome) }
        }
        // Deep networks recurse through their blocks; the default secondary-thread stack is small.
        thread.stackSize = 64 << 20
        thread.name = "irzoo-job"
        thread.start()
    }

    private func progressed(_ id: String, _ p: JobProgress) {
        guard let job = jobs[id], job.snapshot.state == .running else { return }
        // Updates hop here as separate tasks; a late one must not move the bar back.
        if let old = job.snapshot.progress, old.unit == p.unit, old.total == p.total, old.done > p.done { return }
        job.snapshot.progress = p
        publish(job)
    }

    private func completed(_ id: String, _ outcome: Result<JobResult, Error>) {
        guard let job = jobs[id] else { return }
        busyModels.remove(job.snapshot.model)
        switch outcome {
        case .success(let r):
            finish(job, state: .done, result: r, error: nil)
        case .failure(let e as JobFailure) where e == .cancelled:
            finish(job, state: .cancelled, result: nil, error: "cancelled")
        case .failure(let e):
            finish(job, state: .failed, result: nil, error: "\(e)")
        }
        startNext(for: job.snapshot.model)
    }

    private func finish(_ job: Job, state: JobSnapshot.State, result: JobResult?, error: String?) {
        job.snapshot.state = state
        job.snapshot.result = result
        job.snapshot.error = error
        job.snapshot.finished = Date().timeIntervalSince1970
        if state != .done { try? FileManager.default.removeItem(atPath: job.request.output) }
        activeCount -= 1
        publish(job)
        evictFinished()
    }

    /// Keeps the newest `keepFinished` finished jobs; older ones go, with their files.
    private func evictFinished() {
        var finished = order.filter { jobs[$0]?.snapshot.state.isFinal == true }
        while finished.count > keepFinished {
            let id = finished.removeFirst()
            if let job = jobs.removeValue(forKey: id) { try? FileManager.default.removeItem(atPath: job.folder) }
            order.removeAll { $0 == id }
        }
    }
}
