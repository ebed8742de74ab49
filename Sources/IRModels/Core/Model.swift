import IRRuntime

/// What a model's `run` returns.
public enum ModelOutputKind: String, Sendable {
    /// An image of the input's size and channels (a restoration network).
    case image
    /// A token sequence `[B, N, D]` (an encoder such as the CLIP vision tower).
    case tokens
}

/// Whether the network may run on tiles of a big image, and what that costs in exactness.
public enum TilingSupport: Sendable, Equatable {
    /// Tiles give the same answer as the whole image, up to float rounding.
    case exact
    /// Tiles run, but each sees other global statistics than the whole image (why, for the docs and `--json`).
    case approximate(String)
    /// The network cannot run on tiles (why).
    case unsupported(String)

    /// Why a plain stack of 3x3 convs (the upscalers) tiles only approximately.
    public static let convStackNote = "3x3 convs only, but their receptive field is wider than the overlap: near a tile border a pixel sees zero padding where the whole image has neighbours (blended over the overlap)"
}

/// Reports progress of a long forward pass: `done` of `total` steps (blocks, layers or tiles).
public typealias ProgressHandler = (_ done: Int, _ total: Int) -> Void

/// A network built from a registered config and its weights, ready to run on the CPU.
///
/// Every model takes a float32 NCHW batch `[B, C, H, W]` with the values its upstream code feeds
/// the network (RGB in [0, 1] for every model here) and computes exactly what upstream computes,
/// including its padding and cropping. Weights are used in place from the mapping they came from.
public protocol Model: AnyObject {
    /// The registry family ("symunet", "se-symunet", "clip-vision").
    var family: String { get }
    /// Channels the input must have.
    var inputChannels: Int { get }
    /// Output sides over input sides: 1 for restorers, 2, 4 or 8 for upscalers (default 1).
    var scale: Int { get }
    /// What `run` returns (default: an image).
    var outputKind: ModelOutputKind { get }
    /// The smallest height and width the network accepts.
    var minimumSide: Int { get }
    var tiling: TilingSupport { get }
    /// The names `run` accepts in `aux` (e.g. `middle_guide_attention.pos_embed`); default: none.
    var auxInputNames: [String] { get }
    /// Where the ops run; its thread count may be changed between runs.
    var context: ComputeContext { get }

    /// One forward pass. `aux` holds optional named extra inputs (see `auxInputNames`).
    func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor

    /// A function running the network on tiles of `whole`. Models with image-wide context that is
    /// cheap to compute once (SE-SymUNet's CLIP features) take it from the whole image here, so
    /// every tile is guided by the same features. The default runs `run` on each tile.
    func tileRunner(whole: Tensor, aux: [String: Tensor]) throws -> (Tensor) throws -> Tensor

    /// For the memory planner: the pixels whose activations one pass holds at once for an image
    /// of this size. The whole image (the default), or a tile's for a model that tiles itself.
    func activePixels(height: Int, width: Int) -> Int
    /// For the memory planner: bytes per image pixel a pass keeps for the whole image besides
    /// the activations it measures on small probes (a self-tiling model's whole latents). Default 0.
    var wholeImageBytesPerPixel: Int { get }
    /// One pass on a small probe image for the memory planner. The default is `run`; a model
    /// whose pass repeats identical work (diffusion steps) may probe one repetition.
    func memoryProbe(_ x: Tensor) throws
}

extension Model {
    public var outputKind: ModelOutputKind { .image }
    public var scale: Int { 1 }
    public var auxInputNames: [String] { [] }

    public func run(_ input: Tensor) throws -> Tensor { try run(input, aux: [:], progress: nil) }

    public func activePixels(height: Int, width: Int) -> Int { height * width }
    public var wholeImageBytesPerPixel: Int { 0 }
    public func memoryProbe(_ x: Tensor) throws { _ = try run(x, aux: [:], progress: nil) }

    public func tileRunner(whole: Tensor, aux: [String: Tensor]) throws -> (Tensor) throws -> Tensor {
        try checkAux(aux)
        return { [self] tile in try self.run(tile, aux: aux, progress: nil) }
    }

    /// Refuses aux names the model does not take (a typo would otherwise be silently ignored).
    func checkAux(_ aux: [String: Tensor]) throws {
        let known = Set(auxInputNames)
        let unknown = aux.keys.filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else {
            let accepted = auxInputNames.isEmpty ? "it takes none" : "it takes " + auxInputNames.joined(separator: ", ")
            throw ModelError("aux input \(unknown.map { "'\($0)'" }.joined(separator: ", ")) is not an input of \(family): \(accepted)")
        }
    }

    /// Checks the input batch against the model's contract: one clear line on failure.
    func checkImageInput(_ x: Tensor) throws {
        guard x.rank == 4 else {
            throw ModelError("\(family) expects an image batch [B, C, H, W], got shape \(x.shape)")
        }
        guard x.shape[1] == inputChannels else {
            throw ModelError("\(family) expects \(inputChannels) input channels, got \(x.shape[1]) (input shape \(x.shape))")
        }
        guard x.shape[0] >= 1 else { throw ModelError("\(family): the input batch is empty") }
        guard x.shape[2] >= minimumSide && x.shape[3] >= minimumSide else {
            throw ModelError("\(family) needs an image of at least \(minimumSide)x\(minimumSide) pixels, got \(x.shape[3])x\(x.shape[2]) (width x height)")
        }
    }
}

/// A model refused its input, its aux inputs or its weights. `description` is one line.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
