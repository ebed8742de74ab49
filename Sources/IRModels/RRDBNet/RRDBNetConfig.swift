import IRRegistry

/// RRDBNet: ESRGAN (ECCV-W 2018) and Real-ESRGAN (ICCV-W 2021) as BasicSR builds it
/// (github.com/XPixelGroup/BasicSR `basicsr/archs/rrdbnet_arch.py` @8d56e3a). Field names are
/// BasicSR's constructor arguments; `shuffle_factor` is spandrel's (github.com/chaiNNer-org/spandrel
/// `architectures/ESRGAN`): the pixel-unshuffle in front of the 1x/2x Real-ESRGAN models.
///
/// One generalisation over BasicSR, the one the original ESRGAN code has: the number of
/// nearest-2x upsampling stages is log2(scale · shuffle_factor), so old 1x (none) and 8x
/// (`conv_up3`) ESRGAN models are the same network. BasicSR's x4/x2/x1 are shuffle 1/2/4.
public struct RRDBNetConfig: ArchitectureConfig {
    public static let family = "rrdbnet"
    /// JSON Schema of this config as manifests spell it (`$ref`s name other families by id);
    /// `ZooSchemaTests` checks every manifest against it.
    public static let configSchema = #"""
        {
          "type": "object",
          "description": "RRDBNet (ESRGAN, Real-ESRGAN): BasicSR's constructor arguments plus spandrel's shuffle_factor",
          "properties": {
            "num_in_ch": {
              "type": "integer",
              "minimum": 1
            },
            "num_out_ch": {
              "type": "integer",
              "minimum": 1
            },
            "scale": {
              "type": "integer",
              "enum": [
                1,
                2,
                4,
                8
              ]
            },
            "num_feat": {
              "type": "integer",
              "minimum": 1
            },
            "num_block": {
              "type": "integer",
              "minimum": 0
            },
            "num_grow_ch": {
              "type": "integer",
              "minimum": 1
            },
            "shuffle_factor": {
              "type": "integer",
              "enum": [
                1,
                2,
                4
              ],
              "description": "pixel-unshuffle in front; default BasicSR's: 4 for scale 1, 2 for scale 2, else 1"
            }
          },
          "additionalProperties": false
        }
        """#

    public var inChannels: Int
    public var outChannels: Int
    public var scale: Int
    public var features: Int
    public var blocks: Int
    public var growth: Int
    public var shuffleFactor: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inChannels = "num_in_ch"
        case outChannels = "num_out_ch"
        case scale
        case features = "num_feat"
        case blocks = "num_block"
        case growth = "num_grow_ch"
        case shuffleFactor = "shuffle_factor"
    }

    public init(inChannels: Int = 3, outChannels: Int = 3, scale: Int = 4, features: Int = 64, blocks: Int = 23,
                growth: Int = 32, shuffleFactor: Int? = nil) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.scale = scale
        self.features = features
        self.blocks = blocks
        self.growth = growth
        self.shuffleFactor = shuffleFactor ?? Self.basicSRShuffle(scale: scale)
    }

    /// BasicSR's rule: x2 unshuffles by 2, x1 by 4, x4 runs on the image itself.
    public static func basicSRShuffle(scale: Int) -> Int { scale == 1 ? 4 : scale == 2 ? 2 : 1 }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "rrdbnet config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let scale = try c.decodeIfPresent(Int.self, forKey: .scale) ?? 4
        self.init(inChannels: try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? 3,
                  outChannels: try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? 3,
                  scale: scale,
                  features: try c.decodeIfPresent(Int.self, forKey: .features) ?? 64,
                  blocks: try c.decodeIfPresent(Int.self, forKey: .blocks) ?? 23,
                  growth: try c.decodeIfPresent(Int.self, forKey: .growth) ?? 32,
                  shuffleFactor: try c.decodeIfPresent(Int.self, forKey: .shuffleFactor))
    }

    /// Nearest-2x + conv + LeakyReLU stages: log2(scale · shuffle_factor).
    public var upsamplings: Int { (scale * shuffleFactor).trailingZeroBitCount }

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "num_in_ch", inChannels, max: 64)
        try ConfigLimits.check(f, "num_out_ch", outChannels, max: 64)
        try ConfigLimits.check(f, "num_feat", features)
        try ConfigLimits.check(f, "num_grow_ch", growth)
        try ConfigLimits.check(f, "num_block", blocks, min: 0, max: ConfigLimits.maxBlocks)
        guard [1, 2, 4, 8].contains(scale) else { throw ConfigError(f, "scale", "\(scale) is not 1, 2, 4 or 8") }
        guard [1, 2, 4].contains(shuffleFactor) else { throw ConfigError(f, "shuffle_factor", "\(shuffleFactor) is not 1, 2 or 4") }
        guard scale * shuffleFactor <= 8 else {
            throw ConfigError(f, "shuffle_factor", "scale \(scale) x shuffle_factor \(shuffleFactor) needs more than 3 upsampling stages")
        }
        try ConfigLimits.check(f, "num_feat + 4 num_grow_ch", features + 4 * growth)
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let nf = features, g = growth
        b.conv("conv_first", out: nf, in: inChannels * shuffleFactor * shuffleFactor, kernel: 3, bias: true)
        for i in 0..<blocks {
            for r in 1...3 {
                b.scope("body.\(i).rdb\(r)") { b in
                    for j in 1...4 { b.conv("conv\(j)", out: g, in: nf + (j - 1) * g, kernel: 3, bias: true) }
                    b.conv("conv5", out: nf, in: nf + 4 * g, kernel: 3, bias: true)
                }
            }
        }
        b.conv("conv_body", out: nf, in: nf, kernel: 3, bias: true)
        for k in 0..<upsamplings { b.conv("conv_up\(k + 1)", out: nf, in: nf, kernel: 3, bias: true) }
        b.conv("conv_hr", out: nf, in: nf, kernel: 3, bias: true)
        b.conv("conv_last", out: outChannels, in: nf, kernel: 3, bias: true)
        return b.specs
    }

    public var summary: String {
        "\(scale)x, \(blocks) RRDB blocks, \(features) features, growth \(growth)"
            + (shuffleFactor > 1 ? ", pixel-unshuffle \(shuffleFactor)" : "") + ", \(inChannels) -> \(outChannels) channels"
    }

    static let signature = KeySignature([KeyCondition("conv_first.weight", rank: 4), KeyCondition("body.0.rdb1.conv1.weight", rank: 4),
                                         KeyCondition("conv_body.weight", rank: 4), KeyCondition("conv_hr.weight", rank: 4),
                                         KeyCondition("conv_last.weight", rank: 4)])

    /// Every hyperparameter off the shapes, as spandrel reads them: the unshuffle from the first
    /// conv's inputs being 4 or 16 times the last conv's outputs, the scale from the up convs.
    public static func detect(_ t: ShapeTable) -> Detection<RRDBNetConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        let first = t["conv_first.weight"]!, last = t["conv_last.weight"]!
        let out = last[0], packed = first[1]
        let shuffle = packed == 16 * out ? 4 : packed == 4 * out ? 2 : 1
        var ups = 0
        while t.has("conv_up\(ups + 1).weight") { ups += 1 }
        let factor = 1 << ups
        var notes = [String]()
        if shuffle > 1 { notes.append("conv_first takes \(packed) = \(shuffle * shuffle) x \(out) channels: a pixel-unshuffle by \(shuffle) in front (Real-ESRGAN x\(max(1, factor / shuffle)))") }
        let config = RRDBNetConfig(inChannels: packed / (shuffle * shuffle), outChannels: out,
                                   scale: factor >= shuffle ? factor / shuffle : 0, features: first[0],
                                   blocks: t.count(indicesUnder: "body."), growth: t.dim("body.0.rdb1.conv1.weight", 0) ?? 0,
                                   shuffleFactor: shuffle)
        return .found(config, notes: notes)
    }
}
