#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import IRImage
import IRModels
import IRRuntime
import IRTensor

/// The one restoration job engine: a loaded model, then images through it. Decodes (orientation
/// applied, ICC kept), checks the image against the model and the limits, decides whole or tiled
/// from a measured memory estimate, runs, encodes and writes atomically, reporting progress as
/// `JobEvent`s. Front ends (`irzoo run`, a server) render the events and never restore by
/// themselves. One engine runs one image at a time (its model's context is not reentrant).
public final class RestorationEngine {
    public struct Settings: Sendable {
        /// `--tile`: this tile size instead of the planner's choice (with `overlap`, default 32 or tile/4).
        public var tile: Int?
        public var overlap: Int?
        /// `--max-memory`: the bytes a forward pass and its image buffers may take.
        public var maxMemory: Int = SystemMemory.defaultBudget
        /// `--max-pixels`: images whose header claims more are refused before decoding.
        public var maxPixels: Int = ImageLimits.defaultMaxPixels
        public var encode = EncodeOptions()
        /// `--format`: the output format whatever the output's extension.
        public var format: ImageFormat?
        /// `--skip-existing`: an output that exists is taken as done (a resumed batch).
        public var skipExisting = false
        /// Let the memory planner tile big images (off for exact work such as `.npy` comparisons).
        public var automaticTiling = true
        public var aux: [String: Tensor] = [:]
        public init() {}
    }

    public let model: Model
    public var settings: Settings
    /// The memory planner (calibrated on the first image big enough to need it).
    public private(set) var planner: MemoryPlanner
    private var lastSize: (Int, Int)?

    public init(model: Model, settings: Settings) {
        self.model = model
        self.settings = settings
        planner = MemoryPlanner(budget: settings.maxMemory)
    }

    // MARK: - the forward pass, whole or tiled

    public struct Forward {
        public var result: Tensor
        public var seconds: Double
        public var tiles: Int
        public var tiling: String
        public var estimatedBytes: Int?
    }

    /// The tiling for an image of this size: `--tile` when given, else the memory planner's choice
    /// (whole when it fits). Models that cannot run in tiles always run whole.
    public func plan(height: Int, width: Int) throws -> (plan: TilePlan?, tiles: Int, tiling: String, estimatedBytes: Int?) {
        if let tile = settings.tile {
            let p = try TilePlan(tile: tile, overlap: settings.overlap ?? min(MemoryPlanner.defaultOverlap, tile / 4))
            let tiles = p.starts(height).count * p.starts(width).count
            return tiles == 1 ? (nil, 1, "whole image (fits one \(tile)-pixel tile)", nil)
                              : (p, tiles, "\(tiles) tiles of \(tile) px, overlap \(p.overlap) px", nil)
        }
        guard settings.automaticTiling else { return (nil, 1, "whole image", nil) }
        // No bigger than a probe: running it costs what measuring would.
        guard model.outputKind == .image, height * width > MemoryPlanner.probeSides.last! * MemoryPlanner.probeSides.last! else {
            return (nil, 1, "whole image", nil)
        }
        return try planned(height: height, width: width)
    }

    /// What the memory planner needs to know of the engine's model.
    var plannerTraits: MemoryPlanner.ModelTraits {
        var t = MemoryPlanner.ModelTraits()
        let m = model
        t.minimumSide = m.minimumSide
        t.wholeImageBytesPerPixel = m.wholeImageBytesPerPixel
        t.activePixels = { [m] h, w in m.activePixels(height: h, width: w) }
        if case .unsupported(let why) = m.tiling { t.untileable = why }
        t.family = m.family
        t.scale = m.scale
        return t
    }

    private func planned(height: Int, width: Int) throws -> (plan: TilePlan?, tiles: Int, tiling: String, estimatedBytes: Int?) {
        do {
            // Probes run without aux inputs (their shapes follow the real image); models take their defaults.
            _ = try planner.calibrate(model, aux: [:])
        } catch let e where !(e is CancellationError) {
            return (nil, 1, "whole image (memory not estimated: \(e))", nil)
        }
        switch try planner.decide(height: height, width: width, model: plannerTraits, overlap: settings.overlap ?? MemoryPlanner.defaultOverlap) {
        case .whole(let bytes):
            return (nil, 1, "whole image (about \(SystemMemory.describe(bytes)) of --max-memory \(SystemMemory.describe(planner.budget)))", bytes)
        case .tiles(let p, let bytes):
            let tiles = p.starts(height).count * p.starts(width).count
            return (p, tiles, "\(tiles) tiles of \(p.tile) px, overlap \(p.overlap) px (automatic: about \(SystemMemory.describe(bytes)) "
                    + "of --max-memory \(SystemMemory.describe(planner.budget)))", bytes)
        }
    }

    /// One forward pass on `x` [B, C, H, W], whole or tiled as planned; progress in tiles or steps.
    /// Cancellation lands at the next op.
    public func forward(_ x: Tensor, cancel: CancellationToken? = nil, progress: ((Int, Int, ProgressUnit) -> Void)? = nil) throws -> Forward {
        let (h, w) = (x.shape[2], x.shape[3])
        if let last = lastSize, last != (h, w) { model.context.pool.trim() }  // buffers of another size would only pile up
        lastSize = (h, w)
        let choice = try plan(height: h, width: w)
        model.context.cancellation = cancel
        defer { model.context.cancellation = nil }
        try cancel?.check()
        let start = Date()
        let result: Tensor
        if let p = choice.plan {
            result = try TiledInference.run(model, image: x, aux: settings.aux, plan: p) { progress?($0, $1, .tiles) }
        } else {
            result = try model.run(x, aux: settings.aux) { progress?($0, $1, .steps) }
        }
        return Forward(result: result, seconds: Date().timeIntervalSince(start), tiles: choice.tiles, tiling: choice.tiling,
                       estimatedBytes: choice.estimatedBytes)
    }

    // MARK: - files

    /// Restores one file into `item.output`. Throws one-line errors naming the file at fault.
    public func restore(_ item: BatchItem, index: Int = 0, total: Int = 1, cancel: CancellationToken? = nil,
                        events: @escaping (JobEvent) -> Void = { _ in }) throws -> ImageResult {
        let start = Date()
        let probe: ImageProbe
        let decoded: DecodedImage
        do {
            probe = try ImageCodecs.probe(path: item.input)
            guard probe.pixelCount <= settings.maxPixels else {
                throw ImageIOError(file: item.input, reason: "the header says \(probe.width)x\(probe.height) pixels, more than --max-pixels \(settings.maxPixels) (refused before decoding)")
            }
            decoded = try ImageCodecs.read(path: item.input, maxPixels: settings.maxPixels)
        }
        let image = decoded.image
        guard image.width >= model.minimumSide && image.height >= model.minimumSide else {
            throw ImageIOError(file: item.input, reason: "the image is \(image.width)x\(image.height) pixels; \(model.family) needs at least \(model.minimumSide)x\(model.minimumSide)")
        }
        let x: Tensor
        do { x = try ImageTensors.input(image, channels: model.inputChannels) } catch let e as ModelError {
            throw ImageIOError(file: item.input, reason: e.reason)
        }
        let pass: Forward
        do {
            pass = try forward(x, cancel: cancel) { done, total, unit in events(.progress(index: index, done: done, total: total, unit: unit)) }
        } catch let e as ModelError {
            throw ImageIOError(file: item.input, reason: e.reason)
        }
        let format = settings.format ?? ImageFormat(extensionOf: item.output) ?? decoded.format
        var notes = [String]()
        if image.alpha != nil && !format.holdsAlpha { notes.append("alpha dropped: \(format.rawValue) has none") }
        let depth = format.bitDepths.contains(settings.encode.bitDepth ?? image.bitDepth) ? (settings.encode.bitDepth ?? image.bitDepth) : 8
        if depth < image.bitDepth { notes.append("written at \(depth) bit (\(format.rawValue) holds no \(image.bitDepth)-bit samples)") }
        var options = settings.encode
        options.bitDepth = depth
        options.iccProfile = decoded.iccProfile
        let restored = try ImageTensors.restored(pass.result, like: image, bitDepth: depth)
        try cancel?.check()
        try Self.makeParent(of: item.output)
        try ImageCodecs.write(restored, to: item.output, format: format, options: options)
        var tilingNote: String?
        if case .approximate(let why) = model.tiling, pass.tiles > 1 { tilingNote = why }
        return ImageResult(index: index, input: item.input, output: item.output, format: format, inputFormat: decoded.format,
                           width: image.width, height: image.height, scale: model.scale, seconds: Date().timeIntervalSince(start), forwardSeconds: pass.seconds,
                           tiles: pass.tiles, tiling: pass.tiling, tilingNote: tilingNote, estimatedBytes: pass.estimatedBytes,
                           iccBytes: decoded.iccProfile?.count, orientation: decoded.orientation,
                           routes: RouteReport.lines(model), routeJSON: RouteReport.json(model), notes: notes)
    }

    /// Every item in turn, the model loaded once. A file that cannot be read, restored or written
    /// is reported (`imageFailed`) and the rest go on; a cancel stops before the next image.
    public func run(_ items: [BatchItem], cancel: CancellationToken? = nil, events: @escaping (JobEvent) -> Void) -> BatchSummary {
        var summary = BatchSummary()
        let start = Date()
        defer { summary.seconds = Date().timeIntervalSince(start) }
        for (i, item) in items.enumerated() {
            if cancel?.isCancelled == true { summary.cancelled = true; break }
            if settings.skipExisting && FileManager.default.fileExists(atPath: item.output) {
                summary.skipped += 1
                events(.imageSkipped(index: i, input: item.input, output: item.output))
                continue
            }
            events(.imageStarted(index: i, total: items.count, input: item.input))
            do {
                let result = try restore(item, index: i, total: items.count, cancel: cancel, events: events)
                summary.restored += 1
                events(.imageFinished(result))
            } catch is CancellationError {
                summary.cancelled = true
                events(.imageFailed(index: i, input: item.input, output: item.output, error: "cancelled"))
                break
            } catch {
                let message = Self.message(error, input: item.input)
                summary.failed.append((item.input, message))
                events(.imageFailed(index: i, input: item.input, output: item.output, error: message))
            }
        }
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }

    /// One line naming the file at fault.
    public static func message(_ error: Error, input: String) -> String {
        switch error {
        case let e as ImageIOError: return e.description
        case let e as ModelError: return "\(input): \(e.reason)"
        case let e as MemoryBudgetError: return "\(input): \(e.reason)"
        case let e as RuntimeError: return "\(input): \(e.description)"
        default: return "\(input): \(error)"
        }
    }

    static func makeParent(of path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        guard !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) else { return }
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw ImageIOError(file: path, reason: "cannot create the folder \(dir): \(error.localizedDescription)")
        }
    }
}
