import IRRegistry

/// SymUNet (arXiv 2512.10581): NAFNet skeleton with Restormer blocks, additive skips, global
/// residual. Field names are upstream's `network_g` yml names, so a training yml's values paste in.
public struct SymUNetConfig: ArchitectureConfig {
    public static let family = "symunet"

    public var imageChannels: Int
    public var width: Int
    public var encoderBlocks: [Int]
    public var middleBlocks: Int
    public var decoderBlocks: [Int]
    public var heads: [Int]
    public var middleHeads: Int
    public var ffnExpansionFactor: Double
    public var bias: Bool
    public var layerNorm: LayerNormKind

    enum CodingKeys: String, CodingKey, CaseIterable {
        case imageChannels = "img_channel"
        case width
        case encoderBlocks = "enc_blk_nums"
        case middleBlocks = "middle_blk_num"
        case decoderBlocks = "dec_blk_nums"
        case heads = "restormer_heads"
        case middleHeads = "restormer_middle_heads"
        case ffnExpansionFactor = "ffn_expansion_factor"
        case bias
        case layerNorm = "LayerNorm_type"
    }

    public init(imageChannels: Int = 3, width: Int, encoderBlocks: [Int], middleBlocks: Int, decoderBlocks: [Int],
                heads: [Int], middleHeads: Int, ffnExpansionFactor: Double = 2.66, bias: Bool = false,
                layerNorm: LayerNormKind = .withBias) {
        self.imageChannels = imageChannels
        self.width = width
        self.encoderBlocks = encoderBlocks
        self.middleBlocks = middleBlocks
        self.decoderBlocks = decoderBlocks
        self.heads = heads
        self.middleHeads = middleHeads
        self.ffnExpansionFactor = ffnExpansionFactor
        self.bias = bias
        self.layerNorm = layerNorm
    }

    /// The published configuration (width 48, 4/6/6 | 8 | 6/6/4).
    public static let published = SymUNetConfig(width: 48, encoderBlocks: [4, 6, 6], middleBlocks: 8,
                                                decoderBlocks: [6, 6, 4], heads: [1, 2, 4], middleHeads: 8)

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "symunet config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        imageChannels = try c.decodeIfPresent(Int.self, forKey: .imageChannels) ?? 3
        width = try c.decode(Int.self, forKey: .width)
        encoderBlocks = try c.decode([Int].self, forKey: .encoderBlocks)
        middleBlocks = try c.decode(Int.self, forKey: .middleBlocks)
        decoderBlocks = try c.decode([Int].self, forKey: .decoderBlocks)
        heads = try c.decode([Int].self, forKey: .heads)
        middleHeads = try c.decode(Int.self, forKey: .middleHeads)
        ffnExpansionFactor = try c.decode(Double.self, forKey: .ffnExpansionFactor)
        bias = try c.decode(Bool.self, forKey: .bias)
        layerNorm = try c.decode(LayerNormKind.self, forKey: .layerNorm)
    }

    public var levels: Int { encoderBlocks.count }
    /// Channels at encoder level i (width, 2·width, ...); the bottleneck has `width << levels`.
    public func channels(level i: Int) -> Int { width << i }
    public var middleChannels: Int { width << levels }
    /// Upstream's `padder_size`: the input is reflect-padded (right, bottom) to this multiple.
    public var padMultiple: Int { (1 << levels) * 4 }
    /// Heads of decoder d (upstream indexes `restormer_heads` from the end).
    public func decoderHeads(_ d: Int) -> Int { heads[levels - 1 - d] }

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "img_channel", imageChannels, max: 64)
        try ConfigLimits.check(f, "width", width)
        try ConfigLimits.check(f, "enc_blk_nums", encoderBlocks.count, max: ConfigLimits.maxLevels)
        try ConfigLimits.check(f, "enc_blk_nums", encoderBlocks, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "dec_blk_nums", decoderBlocks, count: levels, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "restormer_heads", heads, count: levels)
        try ConfigLimits.check(f, "middle_blk_num", middleBlocks, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "restormer_middle_heads", middleHeads)
        try ConfigLimits.checkFactor(f, "ffn_expansion_factor", ffnExpansionFactor)
        try ConfigLimits.check(f, "width << levels", middleChannels, max: ConfigLimits.maxChannels * 8)
        for i in 0..<levels where channels(level: i) % heads[i] != 0 {
            throw ConfigError(f, "restormer_heads[\(i)]", "\(heads[i]) heads do not divide \(channels(level: i)) channels")
        }
        if middleChannels % middleHeads != 0 {
            throw ConfigError(f, "restormer_middle_heads", "\(middleHeads) heads do not divide \(middleChannels) channels")
        }
        for i in 0...levels where pythonIntProduct(width << i, ffnExpansionFactor) < 1 {
            throw ConfigError(f, "ffn_expansion_factor", "gives a hidden width of 0 at \(width << i) channels")
        }
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        addBackbone(&b)
        return b.specs
    }

    /// The backbone in upstream registration order; SE-SymUNet adds its modules around it.
    func addBackbone(_ b: inout InventoryBuilder, decoderExtras: ((inout InventoryBuilder) -> Void)? = nil,
                     middleExtras: ((inout InventoryBuilder) -> Void)? = nil) {
        let block = { (b: inout InventoryBuilder, scope: String, n: Int, dim: Int, h: Int) in
            RestormerBlockInventory.addStack(&b, scope, count: n, dim: dim, heads: h, ffnFactor: ffnExpansionFactor,
                                             bias: bias, layerNorm: layerNorm)
        }
        b.conv("intro", out: width, in: imageChannels, kernel: 3, bias: true)
        b.conv("ending", out: imageChannels, in: width, kernel: 3, bias: true)
        for i in 0..<levels { block(&b, "encoders.\(i)", encoderBlocks[i], channels(level: i), heads[i]) }
        for d in 0..<levels {
            let c = channels(level: levels - 1 - d)
            block(&b, "decoders.\(d)", decoderBlocks[d], c, decoderHeads(d))
        }
        for d in 0..<levels {
            let c = channels(level: levels - d)
            b.conv("ups.\(d).0", out: c * 2, in: c, kernel: 1, bias: false)  // then PixelShuffle(2)
        }
        for i in 0..<levels {
            let c = channels(level: i)
            b.conv("downs.\(i)", out: c * 2, in: c, kernel: 2, bias: true)
        }
        decoderExtras?(&b)
        block(&b, "middle_blks", middleBlocks, middleChannels, middleHeads)
        middleExtras?(&b)
    }

    public var summary: String {
        "width \(width), blocks \(encoderBlocks.map(String.init).joined(separator: "/")) | \(middleBlocks) | "
            + "\(decoderBlocks.map(String.init).joined(separator: "/")), heads \(heads.map(String.init).joined(separator: "/")) | \(middleHeads), "
            + "ffn \(ffnExpansionFactor), \(layerNorm.rawValue) LayerNorm\(bias ? ", conv bias" : ""), pad to \(padMultiple)"
    }

    /// NAFNet's U-Net names: the Restormer blocks' tensors tell the two apart later (detection order).
    static let signature = KeySignature([KeyCondition("intro.weight", rank: 4), "ending.weight", "downs.0.weight", "ups.0.0.weight"])

    public static func detect(_ t: ShapeTable) -> Detection<SymUNetConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        let intro = t["intro.weight"]!
        let width = intro[0], channelsIn = intro[1]
        let levels = t.count(indicesUnder: "downs.")
        guard levels >= 1, levels <= ConfigLimits.maxLevels else { return .absent(missing: ["downs.0.weight"]) }
        let enc = (0..<levels).map { t.count(indicesUnder: "encoders.\($0).") }
        let dec = (0..<levels).map { t.count(indicesUnder: "decoders.\($0).") }
        let middle = t.count(indicesUnder: "middle_blks.")
        // Heads live in each block's temperature [heads, 1, 1]; a level without blocks needs none.
        let heads = (0..<levels).map { i in
            RestormerBlockInventory.heads(t, "encoders.\(i).") ?? RestormerBlockInventory.heads(t, "decoders.\(levels - 1 - i).") ?? 1
        }
        let middleHeads = RestormerBlockInventory.heads(t, "middle_blks.") ?? 1
        var pairs = [(channels: Int, hidden: Int)]()
        for i in 0..<levels {
            if let p = RestormerBlockInventory.ffnPair(t, "encoders.\(i).") { pairs.append(p) }
            if let p = RestormerBlockInventory.ffnPair(t, "decoders.\(i).") { pairs.append(p) }
        }
        if let p = RestormerBlockInventory.ffnPair(t, "middle_blks.") { pairs.append(p) }
        let factor = pairs.isEmpty ? 2.66 : (detectExpansionFactor(pairs) ?? 2.66)
        let firstBlock = ["encoders.0.0", "decoders.\(levels - 1).0", "middle_blks.0"].first { t.has($0 + ".norm1.body.weight") }
        let layerNorm: LayerNormKind = firstBlock.map { t.has($0 + ".norm1.body.bias") ? .withBias : .biasFree } ?? .withBias
        let bias = firstBlock.map { t.has($0 + ".attn.qkv.bias") } ?? false
        let config = SymUNetConfig(imageChannels: channelsIn, width: width, encoderBlocks: enc, middleBlocks: middle,
                                   decoderBlocks: dec, heads: heads, middleHeads: middleHeads,
                                   ffnExpansionFactor: factor, bias: bias, layerNorm: layerNorm)
        return .found(config, notes: [])
    }
}
