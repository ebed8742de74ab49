import IRModels
import IRRuntime

/// Decides whether an image runs whole or in tiles, from an estimate of a forward pass's peak
/// memory.
///
/// The estimate is measured, not guessed: the model runs on two small probe images (64² and 128²)
/// and the buffer pool's high-water mark (what `BufferPool.bytesHeld` grows by over a pass: every
/// activation and scratch buffer the ops draw, and the idle buffers a pass leaves in size classes
/// it no longer asks for) is fitted as `fixed + perPixel · pixels`. Every op in the runtime
/// keeps its memory linear in pixels (attention runs in query blocks), so the line extrapolates;
/// a margin covers allocations outside the pool. On top come the image-sized buffers of the job
/// itself (decoded planes, the input and output tensors, the tile blend) and what the process
/// already holds (the mapped weights once touched), measured after the probes.
public struct MemoryPlanner {
    /// Bytes a forward pass draws from the pool: fixed + perPixel · pixels (of the padded input).
    public struct Estimate: Sendable, Equatable {
        public var fixed: Double
        public var perPixel: Double
        public init(fixed: Double, perPixel: Double) {
            self.fixed = fixed
            self.perPixel = perPixel
        }
        public func bytes(pixels: Int) -> Int { Int((fixed + perPixel * Double(pixels)) * MemoryPlanner.margin) }
    }

    /// The probe images' sides.
    public static let probeSides = [64, 128]
    /// Allocations outside the pool (weights widened per op, small heap tensors) and size-class rounding.
    static let margin = 1.25
    /// Bytes the job holds around the forward per input pixel: the decoded planes with alpha (16)
    /// and the input tensor (12).
    public static let bytesPerInputPixel = 28
    /// And per output pixel (scale² per input pixel for an upscaler): the output (12), the blend
    /// weights (4), the restored planes (16), the encoder's samples (8); rounded up.
    public static let bytesPerOutputPixel = 44
    /// Both, for a model that keeps the size (the figure before upscalers: 72).
    public static var bytesPerImagePixel: Int { imageBytes(pixels: 1, scale: 1) }

    /// The job's own image buffers for an input of `pixels` through a model of `scale`.
    public static func imageBytes(pixels: Int, scale: Int) -> Int {
        pixels * (bytesPerInputPixel + bytesPerOutputPixel * scale * scale)
    }
    /// Tiles are multiples of this (every network here pads to at most 32 or 64; 64 keeps both exact).
    public static let tileQuantum = 64
    /// Overlap between tiles: no network here has a bounded receptive field (channel attention,
    /// global pooling), so this is the measured seam-hiding width (docs/CLI.md), not an exact halo.
    public static let defaultOverlap = 32

    public enum Decision: Sendable, Equatable {
        case whole(estimatedBytes: Int)
        case tiles(TilePlan, estimatedBytes: Int)
    }

    public let budget: Int
    public private(set) var estimate: Estimate?
    /// Resident bytes outside the pool after the probes (mapped weights, code, heap).
    public private(set) var baseline = 0
    public var isCalibrated: Bool { estimate != nil }

    public init(budget: Int) { self.budget = budget }

    /// A planner with a known fit (tests, and callers that measured elsewhere).
    public init(budget: Int, estimate: Estimate, baseline: Int) {
        self.budget = budget
        self.estimate = estimate
        self.baseline = baseline
    }

    /// Runs the probes once per model; later calls reuse the fit.
    public mutating func calibrate(_ model: Model, aux: [String: Tensor]) throws -> Estimate {
        if let estimate { return estimate }
        let pool = model.context.pool
        var peaks = [(pixels: Double, bytes: Double)]()
        for side in MemoryPlanner.probeSides {
            let s = max(side, model.minimumSide)
            let x = try MemoryPlanner.probeImage(channels: model.inputChannels, side: s)
            // After a trim the pool holds only live buffers; during a pass it only grows (freed
            // buffers stay idle in their size class), so what it holds afterwards is the pass's
            // high-water mark as the process's RSS sees it, idle buffers of other sizes included.
            pool.trim()
            let before = pool.bytesHeld
            if aux.isEmpty { try model.memoryProbe(x) } else { _ = try model.run(x, aux: aux, progress: nil) }
            peaks.append((Double(s * s), Double(pool.bytesHeld - before)))
        }
        pool.trim()
        let perPixel = max(0, (peaks[1].bytes - peaks[0].bytes) / (peaks[1].pixels - peaks[0].pixels))
        let fixed = max(0, peaks[0].bytes - perPixel * peaks[0].pixels)
        let e = Estimate(fixed: fixed, perPixel: perPixel)
        estimate = e
        baseline = max(0, (SystemMemory.resident ?? 0) - pool.bytesHeld)
        return e
    }

    /// What the planner needs to know of the model beyond the probes.
    public struct ModelTraits {
        public var minimumSide = 1
        /// `Model.activePixels`: the pixels one pass's activations span for a (padded) image size.
        public var activePixels: (Int, Int) -> Int = { $0 * $1 }
        /// `Model.wholeImageBytesPerPixel`.
        public var wholeImageBytesPerPixel = 0
        /// Why the model cannot run in image tiles (nil: it can).
        public var untileable: String?
        public var family = "the model"
        /// `Model.scale`: output sides over input sides.
        public var scale = 1
        public init() {}
    }

    /// Whole when the whole image's forward fits the budget; else the largest square tile that does.
    public func decide(height: Int, width: Int, minimumSide: Int, overlap: Int = MemoryPlanner.defaultOverlap,
                       scale: Int = 1) throws -> Decision {
        var traits = ModelTraits()
        traits.minimumSide = minimumSide
        traits.scale = scale
        return try decide(height: height, width: width, model: traits, overlap: overlap)
    }

    /// Whole when the whole image's forward fits the budget; else, for a model that can run in
    /// tiles, the largest square tile that does; a model that cannot is refused with the numbers.
    /// An upscaler's `scale` sizes the output-side buffers; the forward's own growth with the
    /// scale is in the probes' fit, which is per input pixel.
    public func decide(height: Int, width: Int, model: ModelTraits, overlap: Int = MemoryPlanner.defaultOverlap) throws -> Decision {
        guard let estimate else { throw ModelError("the memory planner was not calibrated") }
        let minimumSide = model.minimumSide
        let imageBytes = MemoryPlanner.imageBytes(pixels: height * width, scale: model.scale) + height * width * model.wholeImageBytesPerPixel
        let available = budget - baseline - imageBytes
        let q = MemoryPlanner.tileQuantum
        func padded(_ n: Int) -> Int { (n + q - 1) / q * q }
        let whole = estimate.bytes(pixels: model.activePixels(padded(height), padded(width)))
        if whole <= available { return .whole(estimatedBytes: whole + imageBytes + baseline) }
        if let why = model.untileable {
            throw MemoryBudgetError(reason: "\(model.family) cannot run in tiles (\(why)), and a \(width)x\(height) image needs about "
                + "\(SystemMemory.describe(whole + imageBytes + baseline)) (\(SystemMemory.describe(imageBytes)) of it for the image itself, "
                + "\(SystemMemory.describe(baseline)) for the weights and the process), more than --max-memory \(SystemMemory.describe(budget))")
        }
        let smallest = max(padded(minimumSide), padded(2 * overlap + 1), q)
        var tile = smallest
        while tile + q <= max(height, width) && estimate.bytes(pixels: (tile + q) * (tile + q)) <= available { tile += q }
        let need = estimate.bytes(pixels: tile * tile)
        guard need <= available else {
            throw MemoryBudgetError(reason: "even \(smallest)-pixel tiles need about \(SystemMemory.describe(need + imageBytes + baseline)) "
                + "(\(SystemMemory.describe(imageBytes)) of it for the \(width)x\(height) image itself, \(SystemMemory.describe(baseline)) "
                + "for the weights and the process), more than --max-memory \(SystemMemory.describe(budget))")
        }
        let plan = try TilePlan(tile: tile, overlap: min(overlap, tile / 4))
        return .tiles(plan, estimatedBytes: need + imageBytes + baseline)
    }

    /// A deterministic textured probe (gradients and a checkerboard), values in [0, 1].
    static func probeImage(channels: Int, side: Int) throws -> Tensor {
        var values = [Float](repeating: 0, count: channels * side * side)
        for c in 0..<channels {
            for y in 0..<side {
                for x in 0..<side {
                    let check: Float = ((x / 4 + y / 4) % 2 == 0) ? 0.1 : 0
                    values[(c * side + y) * side + x] = 0.2 + 0.5 * Float(x + y + 7 * c) / Float(2 * side + 14) + check
                }
            }
        }
        return try Tensor(shape: [1, channels, side, side], values: values)
    }
}

/// `--max-memory` is too small for the image even in the smallest tiles.
public struct MemoryBudgetError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public var description: String { reason }
}
