import IRRegistry

/// RetinexFormer (ICCV 2023, arXiv 2303.06705, github.com/caiyuanhao1998/Retinexformer) as
/// UniRestorer ships it (`basicsr/models/archs/retinexformer_arch.py` at 88b933c): an illumination
/// estimator and a 2-level U-Net of illumination-guided transposed-attention blocks (IGAB).
/// Field names are upstream's `RetinexFormer(...)` constructor arguments; the U-Net depth is the
/// constant `level=2` upstream passes, and the input/output channels are 3.
public struct RetinexFormerConfig: ArchitectureConfig {
    public static let family = "retinexformer"

    /// Width of level 0; also every head's width (dim_head), so level l has 2^l heads.
    public var features: Int
    /// Single stages chained under `body`; upstream's nn.Sequential only works with 1.
    public var stages: Int
    /// IGAB blocks of encoder level 0, encoder level 1 (and mirrored decoder levels), bottleneck.
    public var blocks: [Int]

    public static let levels = 2

    enum CodingKeys: String, CodingKey, CaseIterable {
        case features = "n_feat"
        case stages = "stage"
        case blocks = "num_blocks"
    }

    public init(features: Int = 40, stages: Int = 1, blocks: [Int] = [1, 2, 2]) {
        self.features = features
        self.stages = stages
        self.blocks = blocks
    }

    /// The UniRestorer expert (n_feat 40, stage 1, num_blocks [1, 2, 2]): 1,605,701 parameters.
    public static let uniRestorer = RetinexFormerConfig()

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "retinexformer config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        features = try c.decode(Int.self, forKey: .features)
        stages = try c.decodeIfPresent(Int.self, forKey: .stages) ?? 1
        blocks = try c.decode([Int].self, forKey: .blocks)
    }

    /// Channels of level l (0, 1, 2 = bottleneck).
    public func channels(level l: Int) -> Int { features << l }

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "n_feat", features, max: 4096)
        try ConfigLimits.check(f, "num_blocks", blocks, count: 3, min: 0, max: ConfigLimits.maxBlocks)
        guard features % 4 == 0 else {
            throw ConfigError(f, "n_feat", "\(features) is not a multiple of 4: the estimator's 5x5 conv has 4 groups")
        }
        guard stages == 1 else {
            throw ConfigError(f, "stage", "\(stages): upstream's nn.Sequential hands a stage's (output, illu_map) tuple to the next, so only stage 1 runs")
        }
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let nf = features
        b.scope("body.0") { b in
            b.conv("estimator.conv1", out: nf, in: 4, kernel: 1, bias: true)
            b.conv("estimator.depth_conv", out: nf, in: nf, kernel: 5, groups: 4, bias: true)
            b.conv("estimator.conv2", out: 3, in: nf, kernel: 1, bias: true)
            b.scope("denoiser") { b in
                b.conv("embedding", out: nf, in: 3, kernel: 3, bias: false)
                for l in 0..<Self.levels {
                    let c = channels(level: l)
                    addIGAB(&b, "encoder_layers.\(l).0", channels: c, count: blocks[l])
                    b.conv("encoder_layers.\(l).1", out: 2 * c, in: c, kernel: 4, bias: false)
                    b.conv("encoder_layers.\(l).2", out: 2 * c, in: c, kernel: 4, bias: false)
                }
                addIGAB(&b, "bottleneck", channels: channels(level: Self.levels), count: blocks[Self.levels])
                for i in 0..<Self.levels {
                    let c = channels(level: Self.levels - i)
                    b.add("decoder_layers.\(i).0.weight", [c, c / 2, 2, 2])  // ConvTranspose2d [in, out, k, k]
                    b.add("decoder_layers.\(i).0.bias", [c / 2])
                    b.conv("decoder_layers.\(i).1", out: c / 2, in: c, kernel: 1, bias: false)
                    addIGAB(&b, "decoder_layers.\(i).2", channels: c / 2, count: blocks[Self.levels - 1 - i])
                }
                b.conv("mapping", out: 3, in: nf, kernel: 3, bias: false)
            }
        }
        return b.specs
    }

    /// `count` IGAB blocks of `c` channels (c / n_feat heads), keys in state_dict order: the
    /// IG-MSA's own `rescale` before its layers, PreNorm's `fn` before its `norm`.
    private func addIGAB(_ b: inout InventoryBuilder, _ scope: String, channels c: Int, count: Int) {
        for j in 0..<count {
            b.scope("\(scope).blocks.\(j)") { b in
                b.add("0.rescale", [c / features, 1, 1])
                b.linear("0.to_q", out: c, in: c, bias: false)
                b.linear("0.to_k", out: c, in: c, bias: false)
                b.linear("0.to_v", out: c, in: c, bias: false)
                b.linear("0.proj", out: c, in: c, bias: true)
                b.conv("0.pos_emb.0", out: c, in: c, kernel: 3, groups: c, bias: false)
                b.conv("0.pos_emb.2", out: c, in: c, kernel: 3, groups: c, bias: false)
                b.conv("1.fn.net.0", out: 4 * c, in: c, kernel: 1, bias: false)
                b.conv("1.fn.net.2", out: 4 * c, in: 4 * c, kernel: 3, groups: 4 * c, bias: false)
                b.conv("1.fn.net.4", out: c, in: 4 * c, kernel: 1, bias: false)
                b.layerNorm("1.norm", c)
            }
        }
    }

    public var summary: String {
        "n_feat \(features), blocks \(blocks.map(String.init).joined(separator: "/")), heads 1/2/4, stage \(stages)"
    }

    static let signature = KeySignature(["body.0.estimator.conv1.weight", "body.0.denoiser.embedding.weight", "body.0.denoiser.mapping.weight"])

    public static func detect(_ t: ShapeTable) -> Detection<RetinexFormerConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        guard let nf = t.dim("body.0.denoiser.embedding.weight", 0) else { return .absent(missing: []) }
        let d = "body.0.denoiser."
        let blocks = [t.count(indicesUnder: d + "encoder_layers.0.0.blocks."), t.count(indicesUnder: d + "encoder_layers.1.0.blocks."),
                      t.count(indicesUnder: d + "bottleneck.blocks.")]
        return .found(RetinexFormerConfig(features: nf, stages: t.count(indicesUnder: "body."), blocks: blocks), notes: [])
    }
}
