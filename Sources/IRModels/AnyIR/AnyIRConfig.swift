import IRRegistry

/// AnyIR (arXiv 2504.14249, github.com/Amazingren/AnyIR): a 4-level Restormer-style U-Net whose
/// blocks split channels between MDTA and a gated degradation-adaptation branch (GatedDA).
/// Field names are upstream's `AnyIR(...)` constructor arguments.
public struct AnyIRConfig: RestormerUNetConfig {
    public static let family = "anyir"

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

    public init(inputChannels: Int = 3, outputChannels: Int = 3, dim: Int, blocks: [Int], refinementBlocks: Int = 4,
                heads: [Int] = [1, 2, 4, 8], ffnExpansionFactor: Double = 2, bias: Bool = false, layerNorm: LayerNormKind = .withBias) {
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

    /// AnyIR-T (`net/anyir.py` defaults at 098dcd1): 5,736,376 parameters.
    public static let tiny = AnyIRConfig(dim: 28, blocks: [3, 5, 5, 7])
    /// AnyIR-S (defaults at 864b784): 8,513,436 parameters.
    public static let small = AnyIRConfig(dim: 32, blocks: [4, 6, 6, 8])

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "anyir config")
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

    /// GatedDA sizes for a block of C channels (C' = C/2): hidden = round(8C'/3), α = hidden − 2C'.
    public static func gatedSizes(blockChannels c: Int) -> (half: Int, hidden: Int, alpha: Int) {
        let half = c / 2
        // Python's round() on 8/3·C' never lands on .5 for integer C', so half-to-even is moot.
        let hidden = Int((8.0 / 3.0 * Double(half)).rounded(.toNearestOrEven))
        return (half, hidden, hidden - 2 * half)
    }

    public func validate() throws {
        let f = Self.family
        try validateUNetRanges()
        try validateEvenDim()
        for (c, h, field) in blockSites {
            guard (c / 2) % h == 0 else { throw ConfigError(f, field, "\(h) heads do not divide the \(c / 2) attention channels of a \(c)-channel block") }
            guard Self.gatedSizes(blockChannels: c).alpha >= 1 else { throw ConfigError(f, "dim", "a \(c)-channel block leaves no α channels in GatedDA") }
        }
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let d1 = channels(level: 0), d2 = channels(level: 1), d3 = channels(level: 2), d4 = channels(level: 3)
        func stack(_ scope: String, _ n: Int, _ c: Int, _ h: Int) {
            for j in 0..<n { b.scope("\(scope).\(j)") { addBlock(&$0, channels: c, heads: h) } }
        }
        b.conv("patch_embed.proj", out: d1, in: inputChannels, kernel: 3, bias: bias)
        stack("encoder_level1", blocks[0], d1, heads[0])
        b.conv("down1_2.body.0", out: d1 / 2, in: d1, kernel: 3, bias: false)  // then PixelUnshuffle(2)
        stack("encoder_level2", blocks[1], d2, heads[1])
        b.conv("down2_3.body.0", out: d2 / 2, in: d2, kernel: 3, bias: false)
        stack("encoder_level3", blocks[2], d3, heads[2])
        b.conv("down3_4.body.0", out: d3 / 2, in: d3, kernel: 3, bias: false)
        stack("latent", blocks[3], d4, heads[3])
        b.conv("up4_3.body.0", out: d3 * 2, in: d3, kernel: 3, bias: false)  // then PixelShuffle(2)
        b.conv("reduce_chan_level3", out: d3, in: d2 + d3, kernel: 1, bias: bias)
        b.conv("reduce_dim_level3", out: d3, in: d4, kernel: 1, bias: bias)
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

    /// One DAB (upstream `TransformerBlock`), keys in state_dict order. `num_batches_tracked`
    /// is left out: the layouts drop it (an int64 step counter inference never reads).
    private func addBlock(_ b: inout InventoryBuilder, channels c: Int, heads h: Int) {
        let g = Self.gatedSizes(blockChannels: c)
        let hidden = pythonIntProduct(c, ffnExpansionFactor)
        b.layerNorm("norm1.body", c, bias: layerNorm == .withBias)
        b.add("attn.temperature", [h, 1, 1])
        b.add("attn.lam", [])
        b.conv("attn.qkv", out: g.half * 3, in: g.half, kernel: 1, bias: bias)
        b.conv("attn.qkv_dwconv", out: g.half * 3, in: g.half * 3, kernel: 3, groups: g.half * 3, bias: bias)
        b.add("attn.gatedcnn.tau", [1, g.half, 1, 1])
        b.add("attn.gatedcnn.norm.weight", [g.half])
        b.add("attn.gatedcnn.norm.bias", [g.half])
        b.add("attn.gatedcnn.norm.running_mean", [g.half], kind: .buffer)
        b.add("attn.gatedcnn.norm.running_var", [g.half], kind: .buffer)
        b.conv("attn.gatedcnn.W_exp", out: g.hidden, in: g.half, kernel: 1, bias: false)
        b.conv("attn.gatedcnn.W_depth", out: g.alpha, in: g.alpha, kernel: 7, groups: g.alpha, bias: false)
        b.conv("attn.gatedcnn.W_gate", out: g.half, in: g.half + g.alpha, kernel: 1, bias: false)
        b.conv("attn.gatedcnn.W_proj", out: g.half, in: g.half, kernel: 1, bias: false)
        b.conv("attn.project_out", out: c, in: c, kernel: 1, bias: bias)
        b.layerNorm("norm2.body", c, bias: layerNorm == .withBias)
        b.conv("ffn.project_in", out: hidden * 2, in: c, kernel: 1, bias: bias)
        b.conv("ffn.dwconv", out: hidden * 2, in: hidden * 2, kernel: 3, groups: hidden * 2, bias: bias)
        b.conv("ffn.project_out", out: c, in: hidden, kernel: 1, bias: bias)
    }

    public var summary: String {
        "dim \(dim), blocks \(blocks.map(String.init).joined(separator: "/")), refinement \(refinementBlocks), "
            + "heads \(heads.map(String.init).joined(separator: "/")), ffn \(ffnExpansionFactor)"
    }

    static let signature = KeySignature([KeyCondition("patch_embed.proj.weight", rank: 4), "encoder_level1.0.attn.gatedcnn.W_exp.weight",
                                         "reduce_dim_level3.weight", KeyCondition("output.weight", rank: 4)])

    public static func detect(_ t: ShapeTable) -> Detection<AnyIRConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        let r = RestormerUNetReading(t)
        let config = AnyIRConfig(inputChannels: r.inputChannels, outputChannels: r.outputChannels, dim: r.dim, blocks: r.blocks,
                                 refinementBlocks: r.refinementBlocks, heads: r.heads,
                                 ffnExpansionFactor: r.ffnExpansionFactor(default: 2.0), bias: t.has("patch_embed.proj.bias"),
                                 layerNorm: r.layerNorm)
        return .found(config, notes: [])
    }
}
