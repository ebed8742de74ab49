import IRRegistry

/// SRVGGNetCompact, Real-ESRGAN's "Compact" (realesr-general-x4v3, realesr-animevideov3), as
/// BasicSR builds it (github.com/XPixelGroup/BasicSR `basicsr/archs/srvgg_arch.py` @8d56e3a):
/// `body` alternates 3x3 convs and activations, the last conv's num_out_ch · upscale² outputs go
/// through PixelShuffle, and the nearest-upsampled input is added. Field names are upstream's.
public struct SRVGGConfig: ArchitectureConfig {
    public static let family = "srvgg"
    /// JSON Schema of this config as manifests spell it (`$ref`s name other families by id);
    /// `ZooSchemaTests` checks every manifest against it.
    public static let configSchema = #"""
        {
          "type": "object",
          "description": "SRVGGNetCompact (Real-ESRGAN Compact): BasicSR's constructor arguments",
          "properties": {
            "num_in_ch": {
              "type": "integer",
              "minimum": 1
            },
            "num_out_ch": {
              "type": "integer",
              "minimum": 1
            },
            "num_feat": {
              "type": "integer",
              "minimum": 1
            },
            "num_conv": {
              "type": "integer",
              "minimum": 0
            },
            "upscale": {
              "type": "integer",
              "minimum": 1
            },
            "act_type": {
              "type": "string",
              "enum": [
                "prelu",
                "relu",
                "leakyrelu"
              ]
            }
          },
          "additionalProperties": false
        }
        """#

    public enum ActivationType: String, Codable, Sendable, CaseIterable {
        case prelu, relu, leakyrelu
    }

    public var inChannels: Int
    public var outChannels: Int
    public var features: Int
    public var convs: Int
    public var upscale: Int
    public var activation: ActivationType

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inChannels = "num_in_ch"
        case outChannels = "num_out_ch"
        case features = "num_feat"
        case convs = "num_conv"
        case upscale
        case activation = "act_type"
    }

    public init(inChannels: Int = 3, outChannels: Int = 3, features: Int = 64, convs: Int = 16, upscale: Int = 4,
                activation: ActivationType = .prelu) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.features = features
        self.convs = convs
        self.upscale = upscale
        self.activation = activation
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "srvgg config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(inChannels: try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? 3,
                  outChannels: try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? 3,
                  features: try c.decodeIfPresent(Int.self, forKey: .features) ?? 64,
                  convs: try c.decodeIfPresent(Int.self, forKey: .convs) ?? 16,
                  upscale: try c.decodeIfPresent(Int.self, forKey: .upscale) ?? 4,
                  activation: try c.decodeIfPresent(ActivationType.self, forKey: .activation) ?? .prelu)
    }

    /// Index in `body` of the last conv (after 1 + num_conv conv/activation pairs).
    public var lastIndex: Int { 2 * convs + 2 }

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "num_in_ch", inChannels, max: 64)
        try ConfigLimits.check(f, "num_out_ch", outChannels, max: 64)
        try ConfigLimits.check(f, "num_feat", features)
        try ConfigLimits.check(f, "num_conv", convs, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "upscale", upscale, max: 16)
        // forward adds the nearest-upsampled input to the output: their channels must agree.
        guard inChannels == outChannels else {
            throw ConfigError(f, "num_out_ch", "\(outChannels) differs from num_in_ch \(inChannels): the upsampled input is added to the output")
        }
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        b.conv("body.0", out: features, in: inChannels, kernel: 3, bias: true)
        for i in 0...convs {
            if activation == .prelu { b.add("body.\(2 * i + 1).weight", [features]) }
            if i < convs { b.conv("body.\(2 * i + 2)", out: features, in: features, kernel: 3, bias: true) }
        }
        b.conv("body.\(lastIndex)", out: outChannels * upscale * upscale, in: features, kernel: 3, bias: true)
        return b.specs
    }

    public var summary: String {
        "\(upscale)x, \(convs) body convs, \(features) features, \(activation.rawValue), \(inChannels) -> \(outChannels) channels"
    }

    /// PReLU weights at the odd indices are what tell Compact apart (spandrel's condition); ReLU
    /// and LeakyReLU models store no activation and are imported with `--config`.
    static let signature = KeySignature([KeyCondition("body.0.weight", rank: 4), KeyCondition("body.1.weight", rank: 1)])

    public static func detect(_ t: ShapeTable) -> Detection<SRVGGConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        let first = t["body.0.weight"]!
        let last = t.count(indicesUnder: "body.") - 1
        let inC = first[1]
        // A PReLU as the highest entry: the file was cut before its last conv. Read what is there
        // and let the inventory check name what is missing.
        if t["body.\(last).weight"]?.count == 1 {
            let config = SRVGGConfig(inChannels: inC, outChannels: inC, features: first[0], convs: max(0, (last - 1) / 2), upscale: 4)
            return .found(config, notes: ["body.\(last + 1) (the last conv) is absent: upscale taken as 4"])
        }
        let packed = t.dim("body.\(last).weight", 0) ?? 0
        // num_out_ch · upscale² is one number: the input's channel count first (what forward's
        // residual add needs), then RGB, then gray, as spandrel tries them.
        let (up, out) = [inC, 3, 1].lazy.compactMap { c -> (Int, Int)? in
            guard c > 0, packed % c == 0 else { return nil }
            let r = Int(Double(packed / c).squareRoot().rounded())
            return r * r * c == packed ? (r, c) : nil
        }.first ?? (0, inC)
        let config = SRVGGConfig(inChannels: inC, outChannels: out, features: first[0], convs: max(0, (last - 2) / 2),
                                 upscale: up, activation: .prelu)
        return .found(config, notes: [])
    }
}
