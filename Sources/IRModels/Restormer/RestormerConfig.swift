import IRRegistry

/// Restormer (CVPR 2022) as UniRestorer builds its experts (github.com/mrluin/UniRestorer
/// `restormer_arch.py` @88b933c): the 4-level U-Net of Restormer blocks, WithBias or BiasFree
/// channel LayerNorm. A LoRA-Restormer checkpoint imports as this family once its ConvLoRA
/// factors are merged (`LoRAMerge`, the manifest's `loraMerge` layout).
public struct RestormerConfig: RestormerUNetConfig {
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

    public func validate() throws {
        let f = Self.family
        try validateUNetRanges()
        try validateEvenDim()
        for (c, h, field) in blockSites where c % h != 0 {
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

    /// PromptIR and AnyIR share these names; their prompt or DAB tensors rule them out below.
    static let signature = KeySignature([KeyCondition("patch_embed.proj.weight", rank: 4), "encoder_level1.0.attn.temperature",
                                         "reduce_chan_level3.weight", "refinement.0.attn.temperature",
                                         KeyCondition("output.weight", rank: 4)])

    public static func detect(_ t: ShapeTable) -> Detection<RestormerConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        if t.has("prompt1.prompt_param") || t.has("noise_level1.attn.temperature") {
            return .absent(missing: ["no prompt blocks (this is a PromptIR-style network)"])
        }
        let r = RestormerUNetReading(t)
        let config = RestormerConfig(inputChannels: r.inputChannels, outputChannels: r.outputChannels, dim: r.dim, blocks: r.blocks,
                                     refinementBlocks: r.refinementBlocks, heads: r.heads,
                                     ffnExpansionFactor: r.ffnExpansionFactor(default: 2.66), bias: t.has("output.bias"),
                                     layerNorm: r.layerNorm)
        return .found(config, notes: [])
    }
}
