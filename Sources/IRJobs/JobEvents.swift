import IRImage
import IRTensor

/// One input and where its result goes.
public struct BatchItem: Sendable, Equatable {
    public var input: String
    public var output: String
    public init(input: String, output: String) {
        self.input = input
        self.output = output
    }
}

/// What a job reports while it runs; a front end renders these (a progress bar, JSON lines, a
/// web page's live view). Sent on the job's thread, in order.
public enum JobEvent: Sendable {
    /// Image `index` (0-based) of `total` begins.
    case imageStarted(index: Int, total: Int, input: String)
    /// The memory planner chose how to run it (before the forward pass).
    case planned(index: Int, tiling: String, tiles: Int)
    /// Work within the current image: `done` of `total` tiles, or steps (blocks, diffusion steps).
    case progress(index: Int, done: Int, total: Int, unit: ProgressUnit)
    case imageFinished(ImageResult)
    case imageSkipped(index: Int, input: String, output: String)
    case imageFailed(index: Int, input: String, output: String, error: String)
}

public enum ProgressUnit: String, Sendable {
    case tiles, steps
}

/// The result of one restored image.
public struct ImageResult: Sendable {
    public var index: Int
    public var input: String
    public var output: String
    public var format: ImageFormat
    public var inputFormat: ImageFormat
    public var width: Int
    public var height: Int
    /// Output sides over input sides (an upscaler's 2, 4, 8; 1 for restorers).
    public var scale: Int = 1
    /// The whole image: read, forward, write.
    public var seconds: Double
    public var forwardSeconds: Double
    public var tiles: Int
    public var tiling: String
    /// Set when tiles approximate the whole-image result (why).
    public var tilingNote: String?
    /// The forward pass's estimated peak (the planner's, when it ran), bytes.
    public var estimatedBytes: Int?
    /// The input's ICC profile size when it was carried into the output unchanged.
    public var iccBytes: Int?
    /// The EXIF orientation applied on reading (1 = none).
    public var orientation: Int
    /// Routed models: one line per image, and the same as JSON.
    public var routes: [String]
    public var routeJSON: JSON?
    public var notes: [String]

    /// One JSON object (a line of `irzoo run --json` in batch form, a job's result in an API).
    public var json: JSON {
        var f: [(String, JSON)] = [
            ("status", .string("restored")), ("index", .int(index)), ("input", .string(input)), ("output", .string(output)),
            ("format", .string(format.rawValue)), ("input_format", .string(inputFormat.rawValue)),
            ("size", .array([.int(width), .int(height)])), ("scale", .int(scale)),
            ("output_size", .array([.int(width * scale), .int(height * scale)])), ("seconds", .double(seconds)), ("forward_seconds", .double(forwardSeconds)),
            ("tiles", .int(tiles)), ("tiling", .string(tiling)), ("orientation", .int(orientation)),
            ("icc_profile", iccBytes.map { .object([("carried", .bool(true)), ("bytes", .int($0))]) } ?? .object([("carried", .bool(false))])),
        ]
        if let estimatedBytes { f.append(("estimated_peak_bytes", .int(estimatedBytes))) }
        if let tilingNote { f.append(("tiling_note", .string(tilingNote))) }
        if let routeJSON { f.append(("routing", routeJSON)) }
        if !notes.isEmpty { f.append(("notes", .array(notes.map { .string($0) }))) }
        return .object(f)
    }
}

/// How a batch ended.
public struct BatchSummary: Sendable {
    public var restored = 0
    public var skipped = 0
    public var failed: [(input: String, error: String)] = []
    public var cancelled = false
    public var seconds = 0.0
    public var total: Int { restored + skipped + failed.count }
}
