import IRRegistry
import IRTensor

/// UniRestorer (Lin et al., ICLR 2026, github.com/mrluin/UniRestorer): a DA-CLIP ViT controller
/// estimates degradation (`mu`) and granularity (`sigma`), two gates pick a leaf and a level, and
/// a fixed path table names the one expert that restores the image (hard top-1).
///
/// The config holds the router (its CLIP tower, the two heads, the gate sizes), the path table,
/// the expert pool (pool index → state-dict prefix) and the experts. Each expert is a network of
/// another registered family (Restormer, DehazeFormer, RetinexFormer, NAFNetLocal, ...), read off
/// its own keys at import (`UniRestorerExpertDetection`): never a fixed list, because the released
/// tree builds 23 level-2 modules for 22 leaves, so the family behind a pool index shifts.
/// The manifest's config has no experts: it is the router and table every import fills in.
public struct UniRestorerConfig: ArchitectureConfig {
    public static let family = "unirestorer"

    /// One expert module: where its keys live, its family and that family's config. LoRA
    /// experts arrive merged (the layout's `loraMerge`), so they are plain networks here.
    public struct Expert: Codable, Equatable, Sendable {
        public var name: String
        public var family: String
        public var config: JSON

        enum CodingKeys: String, CodingKey, CaseIterable { case name, family, config }

        public init(name: String, family: String, config: JSON) {
            self.name = name
            self.family = family
            self.config = config
        }

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self, in: "unirestorer expert")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            family = try c.decode(String.self, forKey: .family)
            config = try c.decode(JSON.self, forKey: .config)
        }

        /// The typed config of the expert's own family.
        public func modelConfig() throws -> ModelConfig {
            guard let f = Families.catalog.named(family), family != UniRestorerConfig.family else {
                throw ConfigError(UniRestorerConfig.family, "experts[\(name)].family", "'\(family)' is not a registered expert family")
            }
            return try f.decode(config)
        }
    }

    /// The DA-CLIP controller (`visual_control`): a CLIP ViT whose pooled, projected CLS token is e.
    public var router: CLIPVisionConfig
    /// Linear layers in each of the `mu` and `sigma` heads (LeakyReLU between, BatchNorm1d after).
    public var headLayers: Int
    /// Finest-level leaves (`lf_gate` rows 0..<leaves) and levels (`layer_gate` rows 0..<levels).
    public var leaves: Int
    public var levels: Int
    /// `path_table[leaf][level]` is a pool index (upstream `expert_indices_dict`).
    public var pathTable: [[Int]]
    /// `pool[i]` is the state-dict prefix of pool index i (upstream `expert_pool`).
    public var pool: [String]
    public var experts: [Expert]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case router
        case headLayers = "head_layers"
        case leaves, levels
        case pathTable = "path_table"
        case pool, experts
    }

    public init(router: CLIPVisionConfig, headLayers: Int = 5, leaves: Int, levels: Int, pathTable: [[Int]],
                pool: [String], experts: [Expert]) {
        self.router = router
        self.headLayers = headLayers
        self.leaves = leaves
        self.levels = levels
        self.pathTable = pathTable
        self.pool = pool
        self.experts = experts
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "unirestorer config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        router = try c.decode(CLIPVisionConfig.self, forKey: .router)
        headLayers = try c.decodeIfPresent(Int.self, forKey: .headLayers) ?? 5
        leaves = try c.decode(Int.self, forKey: .leaves)
        levels = try c.decode(Int.self, forKey: .levels)
        pathTable = try c.decode([[Int]].self, forKey: .pathTable)
        pool = try c.decode([String].self, forKey: .pool)
        experts = try c.decodeIfPresent([Expert].self, forKey: .experts) ?? []
    }

    /// Upstream constants no checkpoint stores.
    public static let leakySlope: Float = 0.1
    public static let batchNormEps: Float = 1e-5

    /// The released `expert_indices_dict`: row `leaf` is `[0, parent(leaf), 8 + leaf]`.
    public static let releasedPathTable: [[Int]] = {
        let parents = [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 6, 6, 7, 7]
        return parents.enumerated().map { [0, $0.element, 8 + $0.offset] }
    }()

    /// The released `expert_pool`: `[l0.0, l1.0-6, l2.0-21]` (`l2_experts.22` is built but never routed).
    public static let releasedPool: [String] =
        ["l0_experts.0"] + (0..<7).map { "l1_experts.\($0)" } + (0..<22).map { "l2_experts.\($0)" }

    /// Leaf labels from the pre-release `inference.py` (30906df), for reports.
    public static let releasedLeafLabels = [
        "light noise", "medium noise", "heavy noise",
        "light compression", "medium compression", "heavy compression",
        "Snow-S", "Snow-M", "Snow-L",
        "DDN-light rain", "DDN-large rain", "DID-light rain", "DID-medium rain", "DID-heavy rain", "Rain200H", "Rain200L",
        "light haze", "heavy haze", "light dark", "heavy dark", "light blur", "heavy blur",
    ]

    /// DA-CLIP's ViT-B/32 controller: exact GELU (open_clip without quick_gelu), 512-d projection.
    public static let daclipViTB32 = CLIPVisionConfig(hiddenSize: 768, intermediateSize: 3072, layers: 12, heads: 12,
                                                      patchSize: 32, imageSize: 224, projectionDim: 512, hiddenAct: "gelu")

    /// Width of e, mu and sigma (the projection's output).
    public var embedDim: Int { router.projectionDim ?? router.hiddenSize }

    public func expert(named name: String) -> Expert? { experts.first { $0.name == name } }

    public func validate() throws {
        let f = Self.family
        try router.validate()
        guard router.projectionDim != nil else { throw ConfigError(f, "router.projection_dim", "the controller needs its projection (e = CLS · proj)") }
        try ConfigLimits.check(f, "head_layers", headLayers, max: 64)
        try ConfigLimits.check(f, "leaves", leaves, max: 4096)
        try ConfigLimits.check(f, "levels", levels, max: 64)
        guard pathTable.count == leaves else { throw ConfigError(f, "path_table", "has \(pathTable.count) rows for \(leaves) leaves") }
        for (i, row) in pathTable.enumerated() {
            guard row.count == levels else { throw ConfigError(f, "path_table[\(i)]", "has \(row.count) entries for \(levels) levels") }
            for p in row where p < 0 || p >= pool.count {
                throw ConfigError(f, "path_table[\(i)]", "pool index \(p) is outside 0..<\(pool.count)")
            }
        }
        var names = Set<String>()
        for e in experts {
            guard names.insert(e.name).inserted else { throw ConfigError(f, "experts", "'\(e.name)' appears twice") }
            guard e.name.hasSuffix(".") == false, !e.name.isEmpty else { throw ConfigError(f, "experts", "bad expert name '\(e.name)'") }
            _ = try e.modelConfig()
        }
        // A template (the manifest's) has no experts; a model's pool must name every one it routes to.
        if !experts.isEmpty {
            for p in pool where !names.contains(p) { throw ConfigError(f, "pool", "'\(p)' is not among the experts") }
        }
    }

    /// Router tensors, then every expert's (state_dict order: daclip_model, experts, mu, sigma, gates).
    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        b.scope("daclip_model.visual_control") { b in
            b.append(contentsOf: router.towerInventory, under: "vision_model")
            b.linear("visual_projection", out: embedDim, in: router.hiddenSize, bias: false)
        }
        for e in experts {
            b.append(contentsOf: (try? e.modelConfig().inventory) ?? [], under: e.name)
        }
        let d = embedDim
        for head in ["mu", "sigma"] {
            b.scope(head) { b in
                for i in 0..<headLayers { b.linear("\(2 * i)", out: d, in: d, bias: false) }
                b.scope("\(2 * headLayers - 1)") { b in
                    b.add("weight", [d])
                    b.add("bias", [d])
                    b.add("running_mean", [d], kind: .buffer)
                    b.add("running_var", [d], kind: .buffer)
                }
            }
        }
        // The layout keeps the clean halves only (rows 0..<n); the noise halves train the gates.
        b.add("lf_gate.0.clean.weight", [leaves, d])
        b.add("layer_gate.0.clean.weight", [levels, d])
        return b.specs
    }

    public var summary: String {
        let families = Dictionary(grouping: experts, by: \.family)
            .map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
        return "router: \(router.summary); heads \(headLayers)x\(embedDim); \(leaves) leaves x \(levels) levels; "
            + "pool \(pool.count) of \(experts.count) experts" + (families.isEmpty ? "" : " (\(families))")
    }

    public static func detect(_ t: ShapeTable) -> Detection<UniRestorerConfig> {
        UniRestorerExpertDetection.detect(t)
    }
}
