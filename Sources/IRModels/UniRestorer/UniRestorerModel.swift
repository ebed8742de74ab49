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
    public var tiling: TilingSupport {
        .unsupported("the router sees the whole image (resized to \(config.router.imageSize) px) and picks one expert for it")
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
        var routes = [UniRestorerRoute](), outputs = [Tensor]()
        for i in 0..<b {
            let r = try route(estimates[i])
            routes.append(r)
            let item = b == 1 ? input : try input.rows(i, 1)
            outputs.append(try expertModel(r.expert).run(item, aux: [:], progress: progress))
        }
        lastRoutes = routes
        return b == 1 ? outputs[0] : try context.concat(outputs, dim: 0)
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
