import IRRegistry

/// PromptIR (NeurIPS 2023, github.com/va1shn9v/PromptIR), the released `decoder=True` model:
/// Restormer with prompt blocks at three decoder levels. The prompt sizes are literals in
/// upstream's constructor; they are config fields here so shapes can be checked and detected.
public struct PromptIRConfig: RestormerUNetConfig {
    public static let family = "promptir"

    public var inputChannels: Int
    public var outputChannels: Int
    public var dim: Int
    public var blocks: [Int]
    public var refinementBlocks: Int
    public var heads: [Int]
    public var ffnExpansionFactor: Double
    public var bias: Bool
    public var layerNorm: LayerNormKind
    public var decoder: Bool
    /// Channels of prompt1, prompt2, prompt3 (64, 128, 320 upstream).
    public var promptDims: [Int]
    /// Prompt components mixed per level (5 upstream).
    public var promptLength: Int
    /// Spatial size of each level's stored prompt (64, 32, 16 upstream).
    public var promptSizes: [Int]

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
        case decoder
        case promptDims = "prompt_dims"
        case promptLength = "prompt_len"
        case promptSizes = "prompt_sizes"
    }

    public init(inputChannels: Int = 3, outputChannels: Int = 3, dim: Int = 48, blocks: [Int] = [4, 6, 6, 8],
                refinementBlocks: Int = 4, heads: [Int] = [1, 2, 4, 8], ffnExpansionFactor: Double = 2.66, bias: Bool = false,
                layerNorm: LayerNormKind = .withBias, decoder: Bool = true, promptDims: [Int] = [64, 128, 320],
                promptLength: Int = 5, promptSizes: [Int] = [64, 32, 16]) {
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.dim = dim
        self.blocks = blocks
        self.refinementBlocks = refinementBlocks
        self.heads = heads
        self.ffnExpansionFactor = ffnExpansionFactor
        self.bias = bias
        self.layerNorm = layerNorm
        self.decoder = decoder
        self.promptDims = promptDims
        self.promptLength = promptLength
        self.promptSizes = promptSizes
    }

    public static let published = PromptIRConfig()

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "promptir config")
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
        self.decoder = try c.decode(Bool.self, forKey: .decoder)
        promptDims = try c.decode([Int].self, forKey: .promptDims)
        promptLength = try c.decode(Int.self, forKey: .promptLength)
        promptSizes = try c.decode([Int].self, forKey: .promptSizes)
    }

    /// Channels of noise_level{1,2,3}: the decoder feature concatenated with its prompt.
    public var noiseLevelChannels: [Int] {
        [channels(level: 1) + promptDims[0], channels(level: 2) + promptDims[1], channels(level: 3) + promptDims[2]]
    }

    public func validate() throws {
        let f = Self.family
        guard decoder else { throw ConfigError(f, "decoder", "only the released decoder=True model is registered") }
        try validateUNetRanges()
        try ConfigLimits.check(f, "prompt_dims", promptDims, count: 3)
        try ConfigLimits.check(f, "prompt_len", promptLength, max: 1024)
        try ConfigLimits.check(f, "prompt_sizes", promptSizes, count: 3, max: 4096)
        try validateEvenDim()
        let sites = blockSites + noiseLevelChannels.map { ($0, heads[2], "heads[2]") }
        for (c, h, field) in sites where c % h != 0 {
            throw ConfigError(f, field, "\(h) heads do not divide \(c) channels")
        }
    }

    /// Upstream keys that `forward` never reads (`chnl_reduce*`, `reduce_noise_channel_*`) are not
    /// here: the layouts drop and report them.
    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let d1 = channels(level: 0), d2 = channels(level: 1), d3 = channels(level: 2), d4 = channels(level: 3)
        let noise = noiseLevelChannels
        func stack(_ scope: String, _ n: Int, _ c: Int, _ h: Int) {
            RestormerBlockInventory.addStack(&b, scope, count: n, dim: c, heads: h, ffnFactor: ffnExpansionFactor,
                                             bias: bias, layerNorm: layerNorm)
        }
        func block(_ scope: String, _ c: Int, _ h: Int) {
            b.scope(scope) { RestormerBlockInventory.add(&$0, dim: c, heads: h, ffnFactor: ffnExpansionFactor, bias: bias, layerNorm: layerNorm) }
        }
        b.conv("patch_embed.proj", out: d1, in: inputChannels, kernel: 3, bias: bias)
        // prompt{k}: prompt_param [1, len, C_p, S, S], a linear on the level's pooled features, a 3x3 conv.
        for (k, lin) in [d2, d3, d4].enumerated() {
            b.scope("prompt\(k + 1)") { b in
                b.add("prompt_param", [1, promptLength, promptDims[k], promptSizes[k], promptSizes[k]])
                b.linear("linear_layer", out: promptLength, in: lin, bias: true)
                b.conv("conv3x3", out: promptDims[k], in: promptDims[k], kernel: 3, bias: false)
            }
        }
        stack("encoder_level1", blocks[0], d1, heads[0])
        b.conv("down1_2.body.0", out: d1 / 2, in: d1, kernel: 3, bias: false)
        stack("encoder_level2", blocks[1], d2, heads[1])
        b.conv("down2_3.body.0", out: d2 / 2, in: d2, kernel: 3, bias: false)
        stack("encoder_level3", blocks[2], d3, heads[2])
        b.conv("down3_4.body.0", out: d3 / 2, in: d3, kernel: 3, bias: false)
        stack("latent", blocks[3], d4, heads[3])
        b.conv("up4_3.body.0", out: d3 * 2, in: d3, kernel: 3, bias: false)
        b.conv("reduce_chan_level3", out: d3, in: d2 + d3, kernel: 1, bias: bias)
        block("noise_level3", noise[2], heads[2])
        b.conv("reduce_noise_level3", out: d3, in: noise[2], kernel: 1, bias: bias)
        stack("decoder_level3", blocks[2], d3, heads[2])
        b.conv("up3_2.body.0", out: d3 * 2, in: d3, kernel: 3, bias: false)
        b.conv("reduce_chan_level2", out: d2, in: d3, kernel: 1, bias: bias)
        block("noise_level2", noise[1], heads[2])
        b.conv("reduce_noise_level2", out: d3, in: noise[1], kernel: 1, bias: bias)
        stack("decoder_level2", blocks[1], d2, heads[1])
        b.conv("up2_1.body.0", out: d2 * 2, in: d2, kernel: 3, bias: false)
        block("noise_level1", noise[0], heads[2])
        b.conv("reduce_noise_level1", out: d2, in: noise[0], kernel: 1, bias: bias)
        stack("decoder_level1", blocks[0], d2, heads[0])
        stack("refinement", refinementBlocks, d2, heads[0])
        b.conv("output", out: outputChannels, in: d2, kernel: 3, bias: bias)
        return b.specs
    }

    public var summary: String {
        "dim \(dim), blocks \(blocks.map(String.init).joined(separator: "/")), refinement \(refinementBlocks), "
            + "heads \(heads.map(String.init).joined(separator: "/")), ffn \(ffnExpansionFactor), prompts \(promptDims.map(String.init).joined(separator: "/")) x \(promptLength)"
    }

    static let signature = KeySignature([KeyCondition("patch_embed.proj.weight", rank: 4), "prompt1.prompt_param", "prompt2.prompt_param",
                                         "prompt3.prompt_param", "noise_level1.attn.temperature", KeyCondition("output.weight", rank: 4)])

    public static func detect(_ t: ShapeTable) -> Detection<PromptIRConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        let prompts = (1...3).compactMap { t["prompt\($0).prompt_param"] }
        guard prompts.count == 3, prompts.allSatisfy({ $0.count == 5 }) else { return .absent(missing: ["prompt*.prompt_param of rank 5"]) }
        let r = RestormerUNetReading(t)
        let config = PromptIRConfig(inputChannels: r.inputChannels, outputChannels: r.outputChannels, dim: r.dim, blocks: r.blocks,
                                    refinementBlocks: r.refinementBlocks, heads: r.heads,
                                    ffnExpansionFactor: r.ffnExpansionFactor(default: 2.66), bias: t.has("patch_embed.proj.bias"),
                                    layerNorm: r.layerNorm, decoder: true, promptDims: prompts.map { $0[2] },
                                    promptLength: prompts[0][1], promptSizes: prompts.map { $0[3] })
        return .found(config, notes: [])
    }
}
