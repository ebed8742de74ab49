import IRRegistry

/// SDXL's KL autoencoder (diffusers `AutoencoderKL` with DownEncoderBlock2D/UpDecoderBlock2D
/// blocks, LDM `AutoencoderKL` with `Encoder`/`Decoder`). Field names are diffusers' config keys.
/// Names of the native layout are diffusers' (`to_q`... Linear attention projections).
public struct SDXLVAEConfig: ArchitectureConfig {
    public static let family = "sdxl-vae"

    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var latentChannels: Int
    public var normNumGroups: Int
    /// Multiplies the latent mean into the diffusion latent (not a weight: the shapes cannot tell it).
    public var scalingFactor: Double

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inChannels = "in_channels"
        case outChannels = "out_channels"
        case blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block"
        case latentChannels = "latent_channels"
        case normNumGroups = "norm_num_groups"
        case scalingFactor = "scaling_factor"
    }

    public init(inChannels: Int = 3, outChannels: Int = 3, blockOutChannels: [Int], layersPerBlock: Int = 2,
                latentChannels: Int = 4, normNumGroups: Int = 32, scalingFactor: Double = 0.13025) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock
        self.latentChannels = latentChannels
        self.normNumGroups = normNumGroups
        self.scalingFactor = scalingFactor
    }

    /// stabilityai/sdxl-vae (also madebyollin/sdxl-vae-fp16-fix): 83,653,863 parameters.
    public static let sdxl = SDXLVAEConfig(blockOutChannels: [128, 256, 512, 512])

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "sdxl-vae config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? 3
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? 3
        blockOutChannels = try c.decode([Int].self, forKey: .blockOutChannels)
        layersPerBlock = try c.decode(Int.self, forKey: .layersPerBlock)
        latentChannels = try c.decode(Int.self, forKey: .latentChannels)
        normNumGroups = try c.decode(Int.self, forKey: .normNumGroups)
        scalingFactor = try c.decode(Double.self, forKey: .scalingFactor)
    }

    /// The GroupNorm epsilon of every VAE norm (diffusers hard-codes 1e-6 in Encoder/Decoder).
    public static let normEps: Float = 1e-6

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "in_channels", inChannels, max: 64)
        try ConfigLimits.check(f, "out_channels", outChannels, max: 64)
        try ConfigLimits.check(f, "block_out_channels", blockOutChannels)
        guard (1...ConfigLimits.maxLevels).contains(blockOutChannels.count) else {
            throw ConfigError(f, "block_out_channels", "needs 1...\(ConfigLimits.maxLevels) levels, found \(blockOutChannels.count)")
        }
        try ConfigLimits.check(f, "layers_per_block", layersPerBlock, max: 64)
        try ConfigLimits.check(f, "latent_channels", latentChannels, max: 1024)
        try ConfigLimits.check(f, "norm_num_groups", normNumGroups)
        try ConfigLimits.checkFactor(f, "scaling_factor", scalingFactor)
        for (i, c) in blockOutChannels.enumerated() where c % normNumGroups != 0 {
            throw ConfigError(f, "norm_num_groups", "\(normNumGroups) groups do not divide the \(c) channels of level \(i)")
        }
    }

    public var levels: Int { blockOutChannels.count }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let top = blockOutChannels[levels - 1]
        b.scope("encoder") { e in
            e.conv("conv_in", out: blockOutChannels[0], in: inChannels, kernel: 3, bias: true)
            var prev = blockOutChannels[0]
            for (i, c) in blockOutChannels.enumerated() {
                e.scope("down_blocks.\(i)") { d in
                    for j in 0..<layersPerBlock { Self.addResnet(&d, "resnets.\(j)", in: j == 0 ? prev : c, out: c) }
                    if i < levels - 1 { d.conv("downsamplers.0.conv", out: c, in: c, kernel: 3, bias: true) }
                }
                prev = c
            }
            e.scope("mid_block") { Self.addMidBlock(&$0, top) }
            e.add("conv_norm_out.weight", [top])
            e.add("conv_norm_out.bias", [top])
            e.conv("conv_out", out: 2 * latentChannels, in: top, kernel: 3, bias: true)
        }
        b.scope("decoder") { d in
            d.conv("conv_in", out: top, in: latentChannels, kernel: 3, bias: true)
            var prev = top
            for (i, c) in blockOutChannels.reversed().enumerated() {
                d.scope("up_blocks.\(i)") { u in
                    for j in 0...layersPerBlock { Self.addResnet(&u, "resnets.\(j)", in: j == 0 ? prev : c, out: c) }
                    if i < levels - 1 { u.conv("upsamplers.0.conv", out: c, in: c, kernel: 3, bias: true) }
                }
                prev = c
            }
            d.scope("mid_block") { Self.addMidBlock(&$0, top) }
            d.add("conv_norm_out.weight", [blockOutChannels[0]])
            d.add("conv_norm_out.bias", [blockOutChannels[0]])
            d.conv("conv_out", out: outChannels, in: blockOutChannels[0], kernel: 3, bias: true)
        }
        b.conv("quant_conv", out: 2 * latentChannels, in: 2 * latentChannels, kernel: 1, bias: true)
        b.conv("post_quant_conv", out: latentChannels, in: latentChannels, kernel: 1, bias: true)
        return b.specs
    }

    /// A `ResnetBlock2D` without time embedding; `conv_shortcut` when the width changes.
    static func addResnet(_ b: inout InventoryBuilder, _ scope: String, in i: Int, out o: Int, temb: Int? = nil) {
        b.scope(scope) { r in
            r.add("norm1.weight", [i])
            r.add("norm1.bias", [i])
            r.conv("conv1", out: o, in: i, kernel: 3, bias: true)
            if let temb { r.linear("time_emb_proj", out: o, in: temb, bias: true) }
            r.add("norm2.weight", [o])
            r.add("norm2.bias", [o])
            r.conv("conv2", out: o, in: o, kernel: 3, bias: true)
            if i != o { r.conv("conv_shortcut", out: o, in: i, kernel: 1, bias: true) }
        }
    }

    /// `UNetMidBlock2D`: the attention is registered before the two resnets.
    private static func addMidBlock(_ b: inout InventoryBuilder, _ c: Int) {
        b.scope("attentions.0") { a in
            a.add("group_norm.weight", [c])
            a.add("group_norm.bias", [c])
            for p in ["to_q", "to_k", "to_v", "to_out.0"] { a.linear(p, out: c, in: c, bias: true) }
        }
        addResnet(&b, "resnets.0", in: c, out: c)
        addResnet(&b, "resnets.1", in: c, out: c)
    }

    public var summary: String {
        "channels \(blockOutChannels.map(String.init).joined(separator: "/")), \(layersPerBlock) resnets per level, "
            + "latent \(latentChannels), groups \(normNumGroups), scaling \(scalingFactor)"
    }

    /// Reads the widths off the encoder and the latent off `post_quant_conv`; the GroupNorm count
    /// and the scaling factor are not in the shapes: SDXL's (32, 0.13025) are assumed when they fit.
    static let signature = KeySignature([KeyCondition("encoder.conv_in.weight", rank: 4), "encoder.mid_block.attentions.0.to_q.weight",
                                         KeyCondition("decoder.conv_out.weight", rank: 4), "post_quant_conv.weight"])

    public static func detect(_ t: ShapeTable) -> Detection<SDXLVAEConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        guard let latent = t.dim("post_quant_conv.weight", 0) else { return .absent(missing: []) }
        let cin = t["encoder.conv_in.weight"]!, cout = t["decoder.conv_out.weight"]!
        let levels = t.count(indicesUnder: "encoder.down_blocks.")
        let widths = (0..<levels).compactMap { t.dim("encoder.down_blocks.\($0).resnets.0.conv1.weight", 0) }
        let layers = t.count(indicesUnder: "encoder.down_blocks.0.resnets.")
        var groups = 32
        while groups > 1 && !widths.allSatisfy({ $0 % groups == 0 }) { groups /= 2 }
        let config = SDXLVAEConfig(inChannels: cin[1], outChannels: cout[0], blockOutChannels: widths, layersPerBlock: layers,
                                   latentChannels: latent, normNumGroups: groups)
        return .found(config, notes: ["norm_num_groups (\(groups)) and scaling_factor (0.13025) are not in the weights: assumed"])
    }
}
