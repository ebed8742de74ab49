import IRRuntime
import IRRegistry

/// The route one image took: the router's estimate (nil when the expert was forced), the leaf,
/// the level and the expert (pool index, state-dict prefix, family).
public struct UniRestorerRoute: Sendable {
    public let estimate: UniRestorerEstimate?
    public let leaf: Int?
    public let level: Int?
    public let poolIndex: Int
    public let expert: String
    public let family: String
    public var forced: Bool { estimate == nil }
}

/// UniRestorer at inference (upstream `UniRestorer.forward`, `topk=1`, eval): the router picks
/// `path_table[leaf][level]` and that expert's output is returned unchanged (the gate factor is
/// exactly 1). The router is built when the model opens; an expert's Swift model only when an
/// image is first routed to it, so its weights (read in place from the .irw mapping) are touched
/// only then. Each batch item is routed on its own, as upstream's SparseDispatcher does.
public final class UniRestorerModel: Model {
    public static let clipInputName = "daclip_lq"

    public let config: UniRestorerConfig
    public let context: ComputeContext
    public let preprocess: DACLIPPreprocess
    let weights: Weights
    let router: UniRestorerRouter
    /// Pool index to run for every image instead of routing (instruction mode, `--expert`).
    public var forcedExpert: Int?
    /// The routes of the last `run`, one per batch item.
    public private(set) var lastRoutes: [UniRestorerRoute] = []
    private var built: [String: Model] = [:]
    /// An expert's weights by module name (the full model: its own scope; UniRestorer-LoRA: the
    /// shared base with the expert's deltas merged).
    private let expertWeights: (String) throws -> Weights
    public let family: String

    public init(config: UniRestorerConfig, weights: Weights, context: ComputeContext = ComputeContext(),
                family: String = UniRestorerConfig.family, expertWeights: ((String) throws -> Weights)? = nil) throws {
        // A config without experts (the manifest's template) builds the router alone; routing
        // then names an expert it does not have and says so.
        try config.validate()
        self.config = config
        self.context = context
        self.weights = weights
        self.family = family
        self.expertWeights = expertWeights ?? { weights.scoped($0) }
        preprocess = DACLIPPreprocess(size: config.router.imageSize)
        router = try UniRestorerRouter(weights, config: config)
    }

    public var inputChannels: Int { 3 }
    public var minimumSide: Int { 1 }
    public var auxInputNames: [String] { [Self.clipInputName] }
    /// The router always sees the whole image (resized to its input size), so a big image is
    /// routed once, as upstream routes it, and only the chosen expert runs on tiles
    /// (`tileRunner`); the tiles then differ from a whole pass as the expert's own tiles do.
    public var tiling: TilingSupport {
        .approximate("routed once on the whole image (resized to \(config.router.imageSize) px); the chosen expert runs on the tiles and its channel attention sees each tile's statistics")
    }

    /// Names of the experts whose Swift models have been built so far (the lazy part).
    public var builtExperts: [String] { built.keys.sorted() }

    /// The router's estimate for preprocessed CLIP pixels [B, 3, S, S].
    public func estimate(pixels: Tensor) throws -> [UniRestorerEstimate] {
        let s = config.router.imageSize
        guard pixels.rank == 4, pixels.shape[1] == 3, pixels.shape[2] == s, pixels.shape[3] == s else {
            throw ModelError("unirestorer: '\(Self.clipInputName)' must be [B, 3, \(s), \(s)] CLIP-normalised pixels, got \(pixels.shape)")
        }
        return try router.estimate(context, pixels: pixels)
    }

    /// The route for one estimate (or the forced pool index).
    public func route(_ estimate: UniRestorerEstimate?) throws -> UniRestorerRoute {
        let pool: Int, leaf: Int?, level: Int?
        if let forced = forcedExpert {
            guard forced >= 0 && forced < config.pool.count else {
                throw ModelError("unirestorer: expert \(forced) is outside the pool 0...\(config.pool.count - 1)")
            }
            (pool, leaf, level) = (forced, nil, nil)
        } else {
            guard let estimate else { throw ModelError("unirestorer: no router estimate") }
            (leaf, level) = (estimate.leaf, estimate.level)
            pool = config.pathTable[estimate.leaf][estimate.level]
        }
        let name = config.pool[pool]
        guard let expert = config.expert(named: name) else { throw ModelError("unirestorer: pool index \(pool) names '\(name)', which is not an expert") }
        return UniRestorerRoute(estimate: forcedExpert == nil ? estimate : nil, leaf: leaf, level: level, poolIndex: pool,
                                expert: name, family: expert.family)
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        let routes = try routeBatch(input, aux: aux)
        var outputs = [Tensor]()
        for (i, r) in routes.enumerated() {
            let item = routes.count == 1 ? input : try input.rows(i, 1)
            outputs.append(try expertModel(r.expert).run(item, aux: [:], progress: progress))
        }
        return routes.count == 1 ? outputs[0] : try context.concat(outputs, dim: 0)
    }

    /// Routes the whole image once; each tile then runs through the expert that image chose
    /// (the expert's own tile runner, so experts with image-wide context keep it).
    public func tileRunner(whole: Tensor, aux: [String: Tensor]) throws -> (Tensor) throws -> Tensor {
        let routes = try routeBatch(whole, aux: aux)
        guard routes.count == 1 else {
            throw ModelError("unirestorer runs in tiles one image at a time (each image is routed on its own), got a batch of \(routes.count)")
        }
        return try expertModel(routes[0].expert).tileRunner(whole: whole, aux: [:])
    }

    /// The memory probe runs the router, then one expert of each family in the pool (the largest
    /// config of each), since the probe image need not route where a real image will.
    public func memoryProbe(_ x: Tensor) throws {
        let kept = forcedExpert
        defer { forcedExpert = kept }
        forcedExpert = nil
        _ = try routeBatch(x, aux: [:])
        var largest = [String: (name: String, parameters: Int)]()
        for name in config.pool {
            guard let e = config.expert(named: name), let c = try? e.modelConfig() else { continue }
            let n = c.inventory.reduce(0) { $0 + $1.shape.reduce(1, *) }
            if n > largest[e.family]?.parameters ?? -1 { largest[e.family] = (name, n) }
        }
        for (_, e) in largest.sorted(by: { $0.key < $1.key }) {
            _ = try expertModel(e.name).run(x, aux: [:], progress: nil)
        }
    }

    /// The route of each batch item (the router's estimate, or the forced expert); kept in `lastRoutes`.
    func routeBatch(_ input: Tensor, aux: [String: Tensor]) throws -> [UniRestorerRoute] {
        try checkAux(aux)
        try checkImageInput(input)
        let b = input.shape[0]
        var estimates = [UniRestorerEstimate?](repeating: nil, count: b)
        if forcedExpert == nil {
            let pixels = try aux[Self.clipInputName] ?? preprocess(context, input)
            guard pixels.shape.first == b else {
                throw ModelError("unirestorer: '\(Self.clipInputName)' has batch \(pixels.shape.first ?? 0), the image \(b)")
            }
            estimates = try estimate(pixels: pixels)
        }
        let routes = try estimates.map { try route($0) }
        lastRoutes = routes
        return routes
    }

    /// The Swift model of expert `name`, built on first use.
    public func expertModel(_ name: String) throws -> Model {
        if let m = built[name] { return m }
        guard let expert = config.expert(named: name) else { throw ModelError("unirestorer: no expert '\(name)'") }
        let expertConfig = try expert.modelConfig()
        let model = try ModelFactory.make(config: expertConfig, weights: try expertWeights(name), context: context)
        built[name] = model
        return model
    }
}
