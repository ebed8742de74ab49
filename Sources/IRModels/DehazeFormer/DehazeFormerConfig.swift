import IRRegistry

/// DehazeFormer (arXiv 2204.03883, github.com/IDKiro/DehazeFormer) as UniRestorer ships it
/// (github.com/mrluin/UniRestorer `basicsr/models/archs/dehazeformer_arch.py` at 88b933c):
/// a 5-layer U-Net of Swin-like blocks with RLN, reflect-padded (shifted) window attention whose
/// relative position bias is an MLP (`meta`) over log-spaced offsets, and SKFusion skips.
/// Field names are upstream's `DehazeFormer(...)` constructor arguments. Only conv_type 'Conv'
/// (DehazeFormer-M and -L, the UniRestorer expert) is supported; T/S/B/D/W use 'DWConv'.
public struct DehazeFormerConfig: ArchitectureConfig {
    public static let family = "dehazeformer"

    /// Widths of layer1...layer5 (layer4 = layer2 and layer5 = layer1: the skips add up).
    public var embedDims: [Int]
    public var mlpRatios: [Double]
    public var depths: [Int]
    /// Heads per layer; only layers with attention blocks store a trace of it (`meta.2`).
    public var heads: [Int]
    /// Share of each layer's blocks, counted from the end, that attend (upstream attn_loc 'last').
    public var attentionRatios: [Double]
    public var windowSize: Int
    public var convType: String
    public var normLayer: String

    enum CodingKeys: String, CodingKey, CaseIterable {
        case embedDims = "embed_dims"
        case mlpRatios = "mlp_ratios"
        case depths
        case heads = "num_heads"
        case attentionRatios = "attn_ratio"
        case windowSize = "window_size"
        case convType = "conv_type"
        case normLayer = "norm_layer"
    }

    public init(embedDims: [Int], mlpRatios: [Double], depths: [Int], heads: [Int], attentionRatios: [Double],
                windowSize: Int = 8, convType: String = "Conv", normLayer: String = "RLN") {
        self.embedDims = embedDims
        self.mlpRatios = mlpRatios
        self.depths = depths
        self.heads = heads
        self.attentionRatios = attentionRatios
        self.windowSize = windowSize
        self.convType = convType
        self.normLayer = normLayer
    }

    /// DehazeFormer-L (`dehazeformer_l()`), the UniRestorer expert: 25,451,652 parameters.
    public static let large = DehazeFormerConfig(embedDims: [48, 96, 192, 96, 48], mlpRatios: [2, 4, 4, 2, 2],
                                                 depths: [16, 16, 16, 12, 12], heads: [2, 4, 6, 1, 1],
                                                 attentionRatios: [0.25, 0.5, 0.75, 0, 0])

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "dehazeformer config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        embedDims = try c.decode([Int].self, forKey: .embedDims)
        mlpRatios = try c.decode([Double].self, forKey: .mlpRatios)
        depths = try c.decode([Int].self, forKey: .depths)
        heads = try c.decode([Int].self, forKey: .heads)
        attentionRatios = try c.decode([Double].self, forKey: .attentionRatios)
        windowSize = try c.decodeIfPresent(Int.self, forKey: .windowSize) ?? 8
        convType = try c.decodeIfPresent(String.self, forKey: .convType) ?? "Conv"
        normLayer = try c.decodeIfPresent(String.self, forKey: .normLayer) ?? "RLN"
    }

    /// Which blocks of layer `i` attend: upstream's `i >= depth - attn_ratio * depth`, in doubles.
    public func attentionBlocks(layer i: Int) -> [Bool] {
        Self.attentionFlags(depth: depths[i], ratio: attentionRatios[i])
    }

    static func attentionFlags(depth: Int, ratio: Double) -> [Bool] {
        let threshold = Double(depth) - ratio * Double(depth)
        return (0..<depth).map { Double($0) >= threshold }
    }

    /// Odd blocks shift their windows by half a window (by reflect padding, not a roll).
    public func shift(block j: Int) -> Int { j % 2 == 0 ? 0 : windowSize / 2 }

    public func hidden(layer i: Int) -> Int { pythonIntProduct(embedDims[i], mlpRatios[i]) }

    /// SKFusion's bottleneck width for `dim` channels: max(int(dim / 8), 4).
    public static func fusionWidth(_ dim: Int) -> Int { max(dim / 8, 4) }

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "embed_dims", embedDims, count: 5)
        try ConfigLimits.check(f, "depths", depths, count: 5, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "num_heads", heads, count: 5)
        guard mlpRatios.count == 5 else { throw ConfigError(f, "mlp_ratios", "needs 5 entries, found \(mlpRatios.count)") }
        for (i, r) in mlpRatios.enumerated() {
            try ConfigLimits.checkFactor(f, "mlp_ratios[\(i)]", r)
            guard hidden(layer: i) >= 1 else { throw ConfigError(f, "mlp_ratios[\(i)]", "\(r) leaves no hidden channels") }
        }
        guard attentionRatios.count == 5 else { throw ConfigError(f, "attn_ratio", "needs 5 entries, found \(attentionRatios.count)") }
        for (i, r) in attentionRatios.enumerated() where !(r.isFinite && r >= 0 && r <= 1) {
            throw ConfigError(f, "attn_ratio[\(i)]", "\(r) is outside [0, 1]")
        }
        try ConfigLimits.check(f, "window_size", windowSize, min: 2, max: 64)
        guard windowSize % 2 == 0 else { throw ConfigError(f, "window_size", "\(windowSize) is odd: blocks shift by half a window") }
        guard convType == "Conv" else {
            throw ConfigError(f, "conv_type", "'\(convType)' is not supported: irzoo runs DehazeFormer with conv_type 'Conv' (DehazeFormer-M/L, UniRestorer's expert)")
        }
        guard normLayer == "RLN" else { throw ConfigError(f, "norm_layer", "'\(normLayer)' is not supported: only RLN") }
        guard embedDims[1] == embedDims[3] && embedDims[0] == embedDims[4] else {
            throw ConfigError(f, "embed_dims", "\(embedDims): layer4 must be as wide as layer2 and layer5 as layer1 (the SKFusion skips)")
        }
        for i in 0..<5 where attentionBlocks(layer: i).contains(true) && embedDims[i] % heads[i] != 0 {
            throw ConfigError(f, "num_heads[\(i)]", "\(heads[i]) heads do not divide \(embedDims[i]) channels")
        }
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let e = embedDims
        b.conv("patch_embed.proj", out: e[0], in: 3, kernel: 3, bias: true)
        addLayer(&b, 0)
        b.conv("patch_merge1.proj", out: e[1], in: e[0], kernel: 2, bias: true)
        b.conv("skip1", out: e[0], in: e[0], kernel: 1, bias: true)
        addLayer(&b, 1)
        b.conv("patch_merge2.proj", out: e[2], in: e[1], kernel: 2, bias: true)
        b.conv("skip2", out: e[1], in: e[1], kernel: 1, bias: true)
        addLayer(&b, 2)
        b.conv("patch_split1.proj.0", out: e[3] * 4, in: e[2], kernel: 1, bias: true)  // then PixelShuffle(2)
        addFusion(&b, "fusion1", e[3])
        addLayer(&b, 3)
        b.conv("patch_split2.proj.0", out: e[4] * 4, in: e[3], kernel: 1, bias: true)
        addFusion(&b, "fusion2", e[4])
        addLayer(&b, 4)
        b.conv("patch_unembed.proj.0", out: 4, in: e[4], kernel: 3, bias: true)  // K (1) and B (3)
        return b.specs
    }

    private func addFusion(_ b: inout InventoryBuilder, _ name: String, _ dim: Int) {
        let d = Self.fusionWidth(dim)
        b.conv(name + ".mlp.0", out: d, in: dim, kernel: 1, bias: false)
        b.conv(name + ".mlp.2", out: dim * 2, in: d, kernel: 1, bias: false)
    }

    /// Blocks of layer `i`, keys in state_dict order (RLN, conv branch, V/proj/QK, the
    /// `relative_positions` buffer, the bias MLP, then the MLP).
    private func addLayer(_ b: inout InventoryBuilder, _ i: Int) {
        let c = embedDims[i], n = windowSize * windowSize
        let attends = attentionBlocks(layer: i)
        for j in 0..<depths[i] {
            b.scope("layer\(i + 1).blocks.\(j)") { b in
                if attends[j] {
                    b.add("norm1.weight", [1, c, 1, 1])
                    b.add("norm1.bias", [1, c, 1, 1])
                    b.conv("norm1.meta1", out: c, in: 1, kernel: 1, bias: true)
                    b.conv("norm1.meta2", out: c, in: 1, kernel: 1, bias: true)
                }
                b.conv("attn.conv.0", out: c, in: c, kernel: 3, bias: true)
                b.conv("attn.conv.2", out: c, in: c, kernel: 3, bias: true)
                if attends[j] {
                    b.conv("attn.V", out: c, in: c, kernel: 1, bias: true)
                    b.conv("attn.proj", out: c, in: c, kernel: 1, bias: true)
                    b.conv("attn.QK", out: 2 * c, in: c, kernel: 1, bias: true)
                    b.add("attn.attn.relative_positions", [n, n, 2], kind: .buffer)
                    b.linear("attn.attn.meta.0", out: 256, in: 2, bias: true)
                    b.linear("attn.attn.meta.2", out: heads[i], in: 256, bias: true)
                }
                b.conv("mlp.mlp.0", out: hidden(layer: i), in: c, kernel: 1, bias: true)
                b.conv("mlp.mlp.2", out: c, in: hidden(layer: i), kernel: 1, bias: true)
            }
        }
    }

    public var summary: String {
        let attn = (0..<5).map { String(attentionBlocks(layer: $0).filter { $0 }.count) }.joined(separator: "/")
        return "widths \(embedDims.map(String.init).joined(separator: "/")), depths \(depths.map(String.init).joined(separator: "/")), "
            + "attention blocks \(attn), heads \(heads.map(String.init).joined(separator: "/")), window \(windowSize), \(convType), \(normLayer)"
    }

    static let signature = KeySignature(["patch_embed.proj.weight", "patch_merge1.proj.weight", "patch_merge2.proj.weight",
                                         "patch_split1.proj.0.weight", "patch_split2.proj.0.weight", "patch_unembed.proj.0.weight"])

    public static func detect(_ t: ShapeTable) -> Detection<DehazeFormerConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        guard let e0 = t.dim("patch_embed.proj.weight", 0), let e1 = t.dim("patch_merge1.proj.weight", 0),
              let e2 = t.dim("patch_merge2.proj.weight", 0), let s1 = t.dim("patch_split1.proj.0.weight", 0),
              let s2 = t.dim("patch_split2.proj.0.weight", 0) else {
            return .absent(missing: [])
        }
        var notes = [String]()
        let dims = [e0, e1, e2, s1 / 4, s2 / 4]
        let published = DehazeFormerConfig.large
        var depths = [Int](), heads = [Int](), mlp = [Double](), ratios = [Double]()
        var window: Int?
        let convType = t.has("layer1.blocks.0.attn.conv.0.weight") || !t.has("layer1.blocks.0.attn.conv.weight") ? "Conv" : "DWConv"
        for i in 0..<5 {
            let scope = "layer\(i + 1).blocks."
            let depth = t.count(indicesUnder: scope)
            depths.append(depth)
            let attending = (0..<depth).filter { t.has(scope + "\($0).attn.QK.weight") }
            // When the attending blocks are not the last ones no ratio fits: the count is kept and the
            // inventory check then names the blocks that differ.
            ratios.append(attentionRatio(depth: depth, attending: attending) ?? Double(attending.count) / Double(max(depth, 1)))
            if let first = attending.first {
                heads.append(t.dim(scope + "\(first).attn.attn.meta.2.weight", 0) ?? published.heads[i])
                if window == nil, let n = t.dim(scope + "\(first).attn.attn.relative_positions", 0) {
                    let w = Int(Double(n).squareRoot().rounded())
                    if w * w == n { window = w }
                }
            } else {
                heads.append(published.heads[i])
                if depth > 0 { notes.append("layer\(i + 1) has no attention blocks: num_heads[\(i)] (not stored) taken as \(published.heads[i])") }
            }
            let hidden = t.dim(scope + "0.mlp.mlp.0.weight", 0) ?? pythonIntProduct(dims[i], published.mlpRatios[i])
            let candidates = [published.mlpRatios[i], Double(hidden) / Double(max(dims[i], 1)),
                              (Double(hidden) + 0.5) / Double(max(dims[i], 1))]
            mlp.append(candidates.first { pythonIntProduct(dims[i], $0) == hidden } ?? Double(hidden) / Double(max(dims[i], 1)))
        }
        if window == nil { notes.append("no attention block: window_size (not stored) taken as 8") }
        let config = DehazeFormerConfig(embedDims: dims, mlpRatios: mlp, depths: depths, heads: heads,
                                        attentionRatios: ratios, windowSize: window ?? 8, convType: convType)
        return .found(config, notes: notes)
    }

    /// An attn_ratio whose upstream rule selects exactly `attending` (which must be the last
    /// blocks of the layer), preferring the published quarters; nil when no ratio can.
    static func attentionRatio(depth: Int, attending: [Int]) -> Double? {
        let want = (0..<depth).map { attending.contains($0) }
        let a = Double(attending.count), d = Double(max(depth, 1))
        let candidates = [0, 0.25, 0.5, 0.75, 1, a / d, (a + 0.5) / d]
        return candidates.first { $0 <= 1 && attentionFlags(depth: depth, ratio: $0) == want }
    }
}
