import IRRegistry

/// UniRestorer-LoRA (paper §3.2, App. C), reconstructed: no builder, code or weights for it are
/// published. The router is the full model's (DA-CLIP controller, mu/sigma heads, gates, path
/// table); the experts are one base Restormer (`base.*`, the level-0 expert) and, per other expert
/// `experts.N`, what UniRestorer's `save_lora_network_w_norm_temp` keeps of a `LoRARestormer`:
/// the ConvLoRA factors of every conv (`<site>.lora_A`, `<site>.lora_B`) plus every key with
/// `norm` or `temperature` in its name. The base tensors are stored once; expert N's Restormer is
/// base + (alpha / r) · view(B @ A) per conv, with its own norms and temperatures (built when first
/// routed to, by the model). Pool index 0 is the base, pool index i > 0 is `experts.(i-1)`.
public struct UniRestorerLoRAConfig: ArchitectureConfig {
    public static let family = "unirestorer-lora"
    public static let baseScope = "base"
    public static let expertScope = "experts"

    public var router: CLIPVisionConfig
    public var headLayers: Int
    public var leaves: Int
    public var levels: Int
    public var pathTable: [[Int]]
    /// The shared base Restormer (WithBias at the paper's size; inferred from `l0_experts.0`).
    public var base: RestormerConfig
    /// LoRA experts beside the base (29 under the released path table: 7 + 22).
    public var experts: Int
    public var loraRank: Int
    /// Not stored in any checkpoint: 16 is what the released `init_experts` passes.
    public var loraAlpha: Double

    enum CodingKeys: String, CodingKey, CaseIterable {
        case router
        case headLayers = "head_layers"
        case leaves, levels
        case pathTable = "path_table"
        case base, experts
        case loraRank = "lora_rank"
        case loraAlpha = "lora_alpha"
    }

    public init(router: CLIPVisionConfig, headLayers: Int = 5, leaves: Int, levels: Int, pathTable: [[Int]],
                base: RestormerConfig, experts: Int, loraRank: Int = 8, loraAlpha: Double = 16) {
        self.router = router
        self.headLayers = headLayers
        self.leaves = leaves
        self.levels = levels
        self.pathTable = pathTable
        self.base = base
        self.experts = experts
        self.loraRank = loraRank
        self.loraAlpha = loraAlpha
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "unirestorer-lora config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        router = try c.decode(CLIPVisionConfig.self, forKey: .router)
        headLayers = try c.decodeIfPresent(Int.self, forKey: .headLayers) ?? 5
        leaves = try c.decode(Int.self, forKey: .leaves)
        levels = try c.decode(Int.self, forKey: .levels)
        pathTable = try c.decode([[Int]].self, forKey: .pathTable)
        base = try c.decode(RestormerConfig.self, forKey: .base)
        experts = try c.decode(Int.self, forKey: .experts)
        loraRank = try c.decodeIfPresent(Int.self, forKey: .loraRank) ?? 8
        loraAlpha = try c.decodeIfPresent(Double.self, forKey: .loraAlpha) ?? 16
    }

    /// The paper's size: base Restormer dim 48 [4,6,6,8], r = 8, 29 experts under the released table.
    public static let published = UniRestorerLoRAConfig(router: UniRestorerConfig.daclipViTB32, leaves: 22, levels: 3,
                                                        pathTable: UniRestorerConfig.releasedPathTable,
                                                        base: RestormerConfig.published, experts: 29)

    /// `base`, then `experts.0` ... in pool order.
    public var pool: [String] { [Self.baseScope] + (0..<experts).map { "\(Self.expertScope).\($0)" } }

    /// The full model's config for the same tree: every pool entry a Restormer of the base's config
    /// (LoRA experts merged), so the full model's router, routing and route report run it.
    public func routingConfig() throws -> UniRestorerConfig {
        let baseJSON = try StrictJSONDecoding.encode(base)
        return UniRestorerConfig(router: router, headLayers: headLayers, leaves: leaves, levels: levels, pathTable: pathTable,
                                 pool: pool, experts: pool.map { .init(name: $0, family: RestormerConfig.family, config: baseJSON) })
    }

    public func validate() throws {
        let f = Self.family
        try base.validate()
        try ConfigLimits.check(f, "experts", experts, min: 0, max: 4096)
        try ConfigLimits.check(f, "lora_rank", loraRank, max: 4096)
        guard loraAlpha.isFinite && loraAlpha > 0 else { throw ConfigError(f, "lora_alpha", "\(loraAlpha) must be positive") }
        guard base.layerNorm == .withBias || base.layerNorm == .biasFree else { throw ConfigError(f, "base", "unknown LayerNorm") }
        try routingConfig().validate()
    }

    /// ConvLoRA factor shapes of a conv weight [O, I/g, k, k] (loralib: A [r·k, I·k], B [O/g·k, r·k]).
    /// Restormer's only grouped convs are depthwise (I/g = 1, g = O = I).
    public static func loraShapes(weight w: [Int], rank r: Int) -> (a: [Int], b: [Int]) {
        let (o, ig, k) = (w[0], w[1], w[2])
        let depthwise = ig == 1 && o > 1
        let inChannels = depthwise ? o : ig, outPerGroup = depthwise ? 1 : o
        return ([r * k, inChannels * k], [outPerGroup * k, r * k])
    }

    /// What one expert stores beside the base: the factors of every conv (in the base's order),
    /// then its own norms and temperatures (`save_lora_network_w_norm_temp`'s filter).
    public var expertInventory: [ParameterSpec] {
        var lora = [ParameterSpec](), own = [ParameterSpec]()
        for s in base.inventory {
            if s.shape.count == 4, s.name.hasSuffix(".weight") {
                let site = String(s.name.dropLast(".weight".count))
                let (a, b) = Self.loraShapes(weight: s.shape, rank: loraRank)
                lora += [ParameterSpec(site + ".lora_A", a), ParameterSpec(site + ".lora_B", b)]
            } else if Self.isExpertOwn(s.name) {
                own.append(s)
            }
        }
        return lora + own
    }

    /// Keys an expert keeps of its own (upstream's filter: the name contains `norm` or `temperature`).
    public static func isExpertOwn(_ name: String) -> Bool { name.contains("norm") || name.contains("temperature") }

    public var inventory: [ParameterSpec] {
        let full = (try? routingConfig())?.inventory ?? []
        let routerSpecs = full.filter { s in !pool.contains { s.name.hasPrefix($0 + ".") } }
        var b = InventoryBuilder()
        b.append(contentsOf: base.inventory, under: Self.baseScope)
        let perExpert = expertInventory
        for e in 0..<experts { b.append(contentsOf: perExpert, under: "\(Self.expertScope).\(e)") }
        return routerSpecs + b.specs
    }

    public var summary: String {
        "router: \(router.summary); \(leaves) leaves x \(levels) levels; base Restormer \(base.summary); "
            + "\(experts) LoRA experts (r \(loraRank), alpha \(loraAlpha), own norms and temperatures)"
    }

    /// The router as the full model reads it; the base from `base.*`; the experts counted under
    /// `experts.`; r from the first expert's `patch_embed.proj.lora_A` (rows / 3). alpha is not stored.
    public static func detect(_ t: ShapeTable) -> Detection<UniRestorerLoRAConfig> {
        let routerDetection = UniRestorerExpertDetection.detect(t)
        guard case .found(let full, var notes) = routerDetection else {
            if case .absent(let missing) = routerDetection { return .absent(missing: missing) }
            return .absent(missing: ["the router"])
        }
        notes.removeAll { $0.hasPrefix("experts read off their keys") }
        var own = [String: [Int]]()
        let prefix = baseScope + "."
        for (name, shape) in t.shapes where name.hasPrefix(prefix) { own[String(name.dropFirst(prefix.count))] = shape }
        guard case .found(let base, _) = RestormerConfig.detect(ShapeTable(shapes: own)) else {
            return .absent(missing: ["base.* (the shared base Restormer)"])
        }
        let experts = t.count(indicesUnder: expertScope + ".")
        var rank = 8
        if let a = t["\(expertScope).0.patch_embed.proj.lora_A"], a.count == 2, a[0] % 3 == 0 { rank = a[0] / 3 }
        notes.append("lora_alpha is not stored: 16, as the released init_experts passes (scale \(16.0 / Double(rank)))")
        notes.append("UniRestorer-LoRA is reconstructed from the paper: \(experts) LoRA experts beside the base")
        return .found(UniRestorerLoRAConfig(router: full.router, headLayers: full.headLayers, leaves: full.leaves, levels: full.levels,
                                            pathTable: full.pathTable, base: base, experts: experts, loraRank: rank),
                      notes: notes)
    }
}
