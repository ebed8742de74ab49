/// Restormer (CVPR 2022) as UniRestorer builds its experts (github.com/mrluin/UniRestorer
/// `restormer_arch.py` @88b933c): the 4-level U-Net of Restormer blocks, WithBias or BiasFree
/// channel LayerNorm. A LoRA-Restormer checkpoint imports as this family once its ConvLoRA
/// factors are merged (`LoRAMerge`, the manifest's `loraMerge` layout).
public struct RestormerConfig: ArchitectureConfig {
    public static let family = "restormer"

    public var inputChannels: Int
    public var outputChannels: Int
    public var dim: Int
    public var blocks: [Int]
    public var refinementBlocks: Int
    public var heads: [Int]
    public var ffnExpansionFactor: Double
    public var bias: Bool
    public var layerNorm: LayerNormKind

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inputChannels = "inp_channels"
        case outputChannels = "out_channels"
        case dim
        case blocks = "num_blocks"
        case refinementBlocks = "num_refinement_blocks"
        case heads
        case ffnExpansionFactor = "ffn_expansion_factor"
        case bias
        case layerNorm = "LayerNorm_type"
    }

    public init(inputChannels: Int = 3, outputChannels: Int = 3, dim: Int = 48, blocks: [Int] = [4, 6, 6, 8],
                refinementBlocks: Int = 4, heads: [Int] = [1, 2, 4, 8], ffnExpansionFactor: Double = 2.66, bias: Bool = false,
                layerNorm: LayerNormKind = .withBias) {
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.dim = dim
        self.blocks = blocks
        self.refinementBlocks = refinementBlocks
        self.heads = heads
        self.ffnExpansionFactor = ffnExpansionFactor
        self.bias = bias
        self.layerNorm = layerNorm
    }

    /// UniRestorer's experts: l0_experts.0 and l2_experts.7..16 (WithBias), l1_experts.0..3 and l2_experts.0..2 (BiasFree).
    public static let published = RestormerConfig()
    public static let publishedBiasFree = RestormerConfig(layerNorm: .biasFree)

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "restormer config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inputChannels = try c.decodeIfPresent(Int.self, forKey: .inputChannels) ?? 3
        outputChannels = try c.decodeIfPresent(Int.self, forKey: .outputChannels) ?? 3
        dim = try c.decode(Int.self, forKey: .dim)
        blocks = try c.decode([Int].self, forKey: .blocks)
        refinementBlocks = try c.decode(Int.self, forKey: .refinementBlocks)
        heads = try c.decode([Int].self, forKey: .heads)
        ffnExpansionFactor = try c.decode(Double.self, forKey: .ffnExpansionFactor)
        bias = try c.decode(Bool.self, forKey: .bias)
        layerNorm = try c.decode(LayerNormKind.self, forKey: .layerNorm)
    }

    public func channels(level i: Int) -> Int { dim << i }

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "inp_channels", inputChannels, max: 64)
        try ConfigLimits.check(f, "out_channels", outputChannels, max: 64)
        try ConfigLimits.check(f, "dim", dim)
        try ConfigLimits.check(f, "num_blocks", blocks, count: 4, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "num_refinement_blocks", refinementBlocks, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "heads", heads, count: 4)
        try ConfigLimits.checkFactor(f, "ffn_expansion_factor", ffnExpansionFactor)
        guard dim % 2 == 0 else { throw ConfigError(f, "dim", "\(dim) is odd: downsampling halves it before PixelUnshuffle") }
        // Decoder level 1 and the refinement run at level-2 width with heads[0].
        let sites = [(channels(level: 0), heads[0], "heads[0]"), (channels(level: 1), heads[1], "heads[1]"),
                     (channels(level: 2), heads[2], "heads[2]"), (channels(level: 3), heads[3], "heads[3]"),
                     (channels(level: 1), heads[0], "heads[0]")]
        for (c, h, field) in sites where c % h != 0 {
            throw ConfigError(f, field, "\(h) heads do not divide \(c) channels")
        }
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let d1 = channels(level: 0), d2 = channels(level: 1), d3 = channels(level: 2), d4 = channels(level: 3)
        func stack(_ scope: String, _ n: Int, _ c: Int, _ h: Int) {
            RestormerBlockInventory.addStack(&b, scope, count: n, dim: c, heads: h, ffnFactor: ffnExpansionFactor,
                                             bias: bias, layerNorm: layerNorm)
        }
        // Upstream's OverlapPatchEmbed and the up/down convs never take a bias.
        b.conv("patch_embed.proj", out: d1, in: inputChannels, kernel: 3, bias: false)
        stack("encoder_level1", blocks[0], d1, heads[0])
        b.conv("down1_2.body.0", out: d1 / 2, in: d1, kernel: 3, bias: false)
        stack("encoder_level2", blocks[1], d2, heads[1])
        b.conv("down2_3.body.0", out: d2 / 2, in: d2, kernel: 3, bias: false)
        stack("encoder_level3", blocks[2], d3, heads[2])
        b.conv("down3_4.body.0", out: d3 / 2, in: d3, kernel: 3, bias: false)
        stack("latent", blocks[3], d4, heads[3])
        b.conv("up4_3.body.0", out: d4 * 2, in: d4, kernel: 3, bias: false)
        b.conv("reduce_chan_level3", out: d3, in: d4, kernel: 1, bias: bias)
        stack("decoder_level3", blocks[2], d3, heads[2])
        b.conv("up3_2.body.0", out: d3 * 2, in: d3, kernel: 3, bias: false)
        b.conv("reduce_chan_level2", out: d2, in: d3, kernel: 1, bias: bias)
        stack("decoder_level2", blocks[1], d2, heads[1])
        b.conv("up2_1.body.0", out: d2 * 2, in: d2, kernel: 3, bias: false)
        stack("decoder_level1", blocks[0], d2, heads[0])
        stack("refinement", refinementBlocks, d2, heads[0])
        b.conv("output", out: outputChannels, in: d2, kernel: 3, bias: bias)
        return b.specs
    }

    public var summary: String {
        "dim \(dim), blocks \(blocks.map(String.init).joined(separator: "/")), refinement \(refinementBlocks), "
            + "heads \(heads.map(String.init).joined(separator: "/")), ffn \(ffnExpansionFactor), LayerNorm \(layerNorm.rawValue)"
    }

    public static func detect(_ t: ShapeTable) -> Detection<RestormerConfig> {
        let signature = ["patch_embed.proj.weight", "encoder_level1.0.attn.temperature", "reduce_chan_level3.weight",
                         "refinement.0.attn.temperature", "output.weight"]
        let missing = t.missing(signature)
        guard missing.isEmpty, let pe = t["patch_embed.proj.weight"], pe.count == 4, let out = t["output.weight"], out.count == 4 else {
            return .absent(missing: missing)
        }
        // PromptIR (and AnyIR) share these names; their prompt blocks say they are not plain Restormers.
        if t.has("prompt1.prompt_param") || t.has("noise_level1.attn.temperature") {
            return .absent(missing: ["no prompt blocks (this is a PromptIR-style network)"])
        }
        let stages = ["encoder_level1.", "encoder_level2.", "encoder_level3.", "latent."]
        let pairs = stages.compactMap { RestormerBlockInventory.ffnPair(t, $0) }
        let config = RestormerConfig(inputChannels: pe[1], outputChannels: out[0], dim: pe[0],
                                     blocks: stages.map { t.count(indicesUnder: $0) },
                                     refinementBlocks: t.count(indicesUnder: "refinement."),
                                     heads: stages.map { RestormerBlockInventory.heads(t, $0) ?? 1 },
                                     ffnExpansionFactor: pairs.isEmpty ? 2.66 : (detectExpansionFactor(pairs) ?? 2.66),
                                     bias: t.has("output.bias"),
                                     layerNorm: t.has("encoder_level1.0.norm1.body.bias") ? .withBias : .biasFree)
        return .found(config, notes: [])
    }
}
