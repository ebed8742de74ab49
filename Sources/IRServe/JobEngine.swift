import Foundation

/// What the server needs from the job engine, and no more: the models it can offer, a header-only
/// look at an upload (size and format, before anything is decoded), and one job run to its end
/// with progress and cancellation. `irzoo` gives the server its engine; tests may give another.
public protocol JobEngine: Sendable {
    /// The installed models, runnable or not (the page lists both, greys out the second).
    func models() throws -> [ServeModel]
    /// Reads only the image's header. Throws `JobFailure.unreadable` for what the engine cannot decode.
    func header(ofImageAt path: String) throws -> ImageHeader
    /// Runs one job to its end on the calling thread (the queue gives it its own), writing the
    /// result to `job.output`. Calls `progress` as the work advances and stops early, throwing
    /// `JobFailure.cancelled`, once `cancellation` is cancelled.
    func run(_ job: JobRequest, progress: @escaping @Sendable (JobProgress) -> Void, cancellation: JobCancellation) throws -> JobResult
}

/// A job's cancel request, from the API to whatever runs the job: polled (`isCancelled`) or
/// passed on (`onCancel`, e.g. to the engine's own token, which stops the pass at its next op).
public final class JobCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var handlers = [@Sendable () -> Void]()

    public init() {}

    public var isCancelled: Bool { lock.withLock { cancelled } }

    /// Runs `handler` once when the job is cancelled (at once if it already is).
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        let now = lock.withLock { () -> Bool in
            if !cancelled { handlers.append(handler) }
            return cancelled
        }
        if now { handler() }
    }

    public func cancel() {
        let run = lock.withLock { () -> [@Sendable () -> Void] in
            guard !cancelled else { return [] }
            cancelled = true
            defer { handlers = [] }
            return handlers
        }
        for h in run { h() }
    }
}

/// One installed model as the page and the API show it.
public struct ServeModel: Codable, Sendable, Equatable {
    public var name: String
    public var architecture: String
    public var family: String
    public var title: String
    /// What it restores ("denoise", "derain", ...), from the zoo manifest.
    public var tasks: [String]
    /// Size of the weights in the store.
    public var bytes: Int
    public var runnable: Bool
    /// Why not, when it cannot run (raw tensors, a text encoder, ...).
    public var reason: String?
    /// "image" (image in, image out), "routed" (reports a route), "diffusion" (takes prompt, steps, seed).
    public var kind: String

    public init(name: String, architecture: String, family: String, title: String, tasks: [String], bytes: Int,
                runnable: Bool, reason: String?, kind: String) {
        self.name = name
        self.architecture = architecture
        self.family = family
        self.title = title
        self.tasks = tasks
        self.bytes = bytes
        self.runnable = runnable
        self.reason = reason
        self.kind = kind
    }
}

public struct ImageHeader: Sendable, Codable, Equatable {
    /// "png", "jpeg", ... as the engine names it; also the stored upload's file extension.
    public var format: String
    public var width: Int
    public var height: Int

    public init(format: String, width: Int, height: Int) {
        self.format = format
        self.width = width
        self.height = height
    }
}

/// A job as the engine sees it: every path is one the server made in its private folder.
public struct JobRequest: Sendable {
    public var model: String
    public var input: String
    public var reference: String?
    public var output: String
    public var prompt: String?
    public var steps: Int?
    public var seed: UInt64?
}

public struct JobProgress: Sendable, Codable, Equatable {
    public var done: Int
    public var total: Int
    /// "tiles", "steps", ...
    public var unit: String

    public init(done: Int, total: Int, unit: String) {
        self.done = done
        self.total = total
        self.unit = unit
    }
}

/// What a finished job reports.
public struct JobResult: Sendable, Codable, Equatable {
    public var width: Int
    public var height: Int
    /// "png-8bit", ...
    public var format: String
    public var seconds: Double
    public var tiling: String
    /// UniRestorer: the experts the router chose, one line each.
    public var route: [String]?
    /// With a reference image: quality of the input and of the result against it.
    public var metrics: QualityMetrics?
    public var notes: [String]

    public init(width: Int, height: Int, format: String, seconds: Double, tiling: String, route: [String]? = nil,
                metrics: QualityMetrics? = nil, notes: [String] = []) {
        self.width = width
        self.height = height
        self.format = format
        self.seconds = seconds
        self.tiling = tiling
        self.route = route
        self.metrics = metrics
        self.notes = notes
    }
}

public struct QualityMetrics: Sendable, Codable, Equatable {
    public var psnrInput: Double
    public var psnrOutput: Double
    public var ssimInput: Double?
    public var ssimOutput: Double?

    public init(psnrInput: Double, psnrOutput: Double, ssimInput: Double?, ssimOutput: Double?) {
        self.psnrInput = psnrInput
        self.psnrOutput = psnrOutput
        self.ssimInput = ssimInput
        self.ssimOutput = ssimOutput
    }

    enum CodingKeys: String, CodingKey {
        case psnrInput = "psnr_input_db", psnrOutput = "psnr_output_db", ssimInput = "ssim_input", ssimOutput = "ssim_output"
    }

    // Identical images give +inf dB, which JSON cannot hold: written as null.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(psnrInput.isFinite ? psnrInput : nil, forKey: .psnrInput)
        try c.encode(psnrOutput.isFinite ? psnrOutput : nil, forKey: .psnrOutput)
        try c.encode(ssimInput, forKey: .ssimInput)
        try c.encode(ssimOutput, forKey: .ssimOutput)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        psnrInput = try c.decodeIfPresent(Double.self, forKey: .psnrInput) ?? .infinity
        psnrOutput = try c.decodeIfPresent(Double.self, forKey: .psnrOutput) ?? .infinity
        ssimInput = try c.decodeIfPresent(Double.self, forKey: .ssimInput)
        ssimOutput = try c.decodeIfPresent(Double.self, forKey: .ssimOutput)
    }
}

/// Why a job (or an upload) failed, as the API reports it.
public enum JobFailure: Error, CustomStringConvertible, Equatable {
    /// The upload is not an image the engine reads, or does not suit the model (422).
    case unreadable(String)
    /// The user's request cannot be served (a bad option) (400).
    case badRequest(String)
    /// No such model (404).
    case notFound(String)
    /// More pixels than the server takes, seen in the header (413).
    case tooManyPixels(String)
    case cancelled
    /// Anything else (500); the message still names what failed.
    case failed(String)

    public var description: String {
        switch self {
        case .unreadable(let s), .badRequest(let s), .notFound(let s), .tooManyPixels(let s), .failed(let s): return s
        case .cancelled: return "cancelled"
        }
    }
}
