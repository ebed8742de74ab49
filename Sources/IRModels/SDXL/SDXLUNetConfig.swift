import IRRegistry

/// SDXL's UNet (diffusers `UNet2DConditionModel` with `addition_embed_type "text_time"`,
/// linear projections in and out of every `Transformer2DModel`, GEGLU feed-forwards). Field names
/// are diffusers' config keys; `attention_head_dim` holds head *counts* per level (diffusers'
/// historical naming: heads of C / count channels, 64 in SDXL).
public struct SDXLUNetConfig: ArchitectureConfig {
    public static let family = "sdxl-unet"

    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    public var downBlockTypes: [String]
    public var upBlockTypes: [String]
    public var layersPerBlock: Int
    public var transformerLayersPerBlock: [Int]
    public var attentionHeadDim: [Int]
    public var crossAttentionDim: Int
    public var additionEmbedType: String
    public var additionTimeEmbedDim: Int
    public var projectionClassEmbeddingsInputDim: Int
    public var normNumGroups: Int
    public var normEps: Double

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inChannels = "in_channels"
        case outChannels = "out_channels"
        case blockOutChannels = "block_out_channels"
        case downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types"
        case layersPerBlock = "layers_per_block"
        case transformerLayersPerBlock = "transformer_layers_per_block"
        case attentionHeadDim = "attention_head_dim"
        case crossAttentionDim = "cross_attention_dim"
        case additionEmbedType = "addition_embed_type"
        case additionTimeEmbedDim = "addition_time_embed_dim"
        case projectionClassEmbeddingsInputDim = "projection_class_embeddings_input_dim"
        case normNumGroups = "norm_num_groups"
        case normEps = "norm_eps"
    }

    public static let crossAttnDown = "CrossAttnDownBlock2D", plainDown = "DownBlock2D"
    public static let crossAttnUp = "CrossAttnUpBlock2D", plainUp = "UpBlock2D"

    public init(inChannels: Int = 4, outChannels: Int = 4, blockOutChannels: [Int], downBlockTypes: [String], upBlockTypes: [String],
                layersPerBlock: Int = 2, transformerLayersPerBlock: [Int], attentionHeadDim: [Int], crossAttentionDim: Int,
                additionTimeEmbedDim: Int = 256, projectionClassEmbeddingsInputDim: Int, normNumGroups: Int = 32, normEps: Double = 1e-5) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.blockOutChannels = blockOutChannels
        self.downBlockTypes = downBlockTypes
        self.upBlockTypes = upBlockTypes
        self.layersPerBlock = layersPerBlock
        self.transformerLayersPerBlock = transformerLayersPerBlock
        self.attentionHeadDim = attentionHeadDim
        self.crossAttentionDim = crossAttentionDim
        additionEmbedType = "text_time"
        self.additionTimeEmbedDim = additionTimeEmbedDim
        self.projectionClassEmbeddingsInputDim = projectionClassEmbeddingsInputDim
        self.normNumGroups = normNumGroups
        self.normEps = normEps
    }

    /// stabilityai/stable-diffusion-xl-base-1.0 `unet/config.json` (also RealVisXL_V4.0): 2,567,463,684 parameters.
    public static let sdxl = SDXLUNetConfig(blockOutChannels: [320, 640, 1280],
                                            downBlockTypes: [plainDown, crossAttnDown, crossAttnDown],
                                            upBlockTypes: [crossAttnUp, crossAttnUp, plainUp],
                                            transformerLayersPerBlock: [1, 2, 10], attentionHeadDim: [5, 10, 20],
                                            crossAttentionDim: 2048, projectionClassEmbeddingsInputDim: 2816)

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "sdxl-unet config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self.sdxl
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? d.outChannels
        blockOutChannels = try c.decode([Int].self, forKey: .blockOutChannels)
        downBlockTypes = try c.decodeIfPresent([String].self, forKey: .downBlockTypes) ?? d.downBlockTypes
        upBlockTypes = try c.decodeIfPresent([String].self, forKey: .upBlockTypes) ?? d.upBlockTypes
        layersPerBlock = try c.decodeIfPresent(Int.self, forKey: .layersPerBlock) ?? d.layersPerBlock
        transformerLayersPerBlock = try c.decode([Int].self, forKey: .transformerLayersPerBlock)
        attentionHeadDim = try c.decode([Int].self, forKey: .attentionHeadDim)
        crossAttentionDim = try c.decode(Int.self, forKey: .crossAttentionDim)
        additionEmbedType = try c.decode(String.self, forKey: .additionEmbedType)
        additionTimeEmbedDim = try c.decodeIfPresent(Int.self, forKey: .additionTimeEmbedDim) ?? d.additionTimeEmbedDim
        projectionClassEmbeddingsInputDim = try c.decode(Int.self, forKey: .projectionClassEmbeddingsInputDim)
        normNumGroups = try c.decodeIfPresent(Int.self, forKey: .normNumGroups) ?? d.normNumGroups
        normEps = try c.decodeIfPresent(Double.self, forKey: .normEps) ?? d.normEps
    }

    public var levels: Int { blockOutChannels.count }
    /// The time embedding's width (diffusers: 4 × block_out_channels[0]).
    public var timeEmbedDim: Int { 4 * blockOutChannels[0] }
    /// The pooled text embedding's width: what `add_embedding` takes besides the 6 time ids.
    public var textEmbedsDim: Int { projectionClassEmbeddingsInputDim - 6 * additionTimeEmbedDim }
    public func hasAttention(down level: Int) -> Bool { downBlockTypes[level] == Self.crossAttnDown }
    /// Up block `i` runs at level `levels − 1 − i`.
    public func hasAttention(up i: Int) -> Bool { upBlockTypes[i] == Self.crossAttnUp }

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "in_channels", inChannels, max: 64)
        try ConfigLimits.check(f, "out_channels", outChannels, max: 64)
        try ConfigLimits.check(f, "block_out_channels", blockOutChannels)
        let n = blockOutChannels.count
        guard (1...ConfigLimits.maxLevels).contains(n) else {
            throw ConfigError(f, "block_out_channels", "needs 1...\(ConfigLimits.maxLevels) levels, found \(n)")
        }
        guard downBlockTypes.count == n, downBlockTypes.allSatisfy({ [Self.plainDown, Self.crossAttnDown].contains($0) }) else {
            throw ConfigError(f, "down_block_types", "needs \(n) entries of \(Self.plainDown) or \(Self.crossAttnDown), found \(downBlockTypes)")
        }
        guard upBlockTypes.count == n, upBlockTypes.allSatisfy({ [Self.plainUp, Self.crossAttnUp].contains($0) }) else {
            throw ConfigError(f, "up_block_types", "needs \(n) entries of \(Self.plainUp) or \(Self.crossAttnUp), found \(upBlockTypes)")
        }
        try ConfigLimits.check(f, "layers_per_block", layersPerBlock, max: 64)
        try ConfigLimits.check(f, "transformer_layers_per_block", transformerLayersPerBlock, count: n, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "attention_head_dim", attentionHeadDim, count: n)
        try ConfigLimits.check(f, "cross_attention_dim", crossAttentionDim)
        guard additionEmbedType == "text_time" else {
            throw ConfigError(f, "addition_embed_type", "only \"text_time\" (SDXL's) is supported, found \"\(additionEmbedType)\"")
        }
        try ConfigLimits.check(f, "addition_time_embed_dim", additionTimeEmbedDim)
        guard additionTimeEmbedDim % 2 == 0 && blockOutChannels[0] % 2 == 0 else {
            throw ConfigError(f, "addition_time_embed_dim", "the sinusoidal embeddings need even widths")
        }
        try ConfigLimits.check(f, "projection_class_embeddings_input_dim", projectionClassEmbeddingsInputDim, min: 6 * additionTimeEmbedDim + 1, max: 1 << 20)
        try ConfigLimits.check(f, "norm_num_groups", normNumGroups)
        guard normEps.isFinite && normEps > 0 && normEps < 1 else { throw ConfigError(f, "norm_eps", "\(normEps) is outside (0, 1)") }
        for (i, c) in blockOutChannels.enumerated() {
            guard c % normNumGroups == 0 else { throw ConfigError(f, "norm_num_groups", "\(normNumGroups) groups do not divide the \(c) channels of level \(i)") }
            guard c % attentionHeadDim[i] == 0 else { throw ConfigError(f, "attention_head_dim[\(i)]", "\(attentionHeadDim[i]) heads do not divide \(c) channels") }
        }
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let c0 = blockOutChannels[0], temb = timeEmbedDim, L = layersPerBlock
        b.conv("conv_in", out: c0, in: inChannels, kernel: 3, bias: true)
        b.linear("time_embedding.linear_1", out: temb, in: c0, bias: true)
        b.linear("time_embedding.linear_2", out: temb, in: temb, bias: true)
        b.linear("add_embedding.linear_1", out: temb, in: projectionClassEmbeddingsInputDim, bias: true)
        b.linear("add_embedding.linear_2", out: temb, in: temb, bias: true)
        var prev = c0
        for (i, c) in blockOutChannels.enumerated() {
            b.scope("down_blocks.\(i)") { d in
                if hasAttention(down: i) {
                    for j in 0..<L { addTransformer(&d, "attentions.\(j)", c, depth: transformerLayersPerBlock[i]) }
                }
                for j in 0..<L { SDXLVAEConfig.addResnet(&d, "resnets.\(j)", in: j == 0 ? prev : c, out: c, temb: temb) }
                if i < levels - 1 { d.conv("downsamplers.0.conv", out: c, in: c, kernel: 3, bias: true) }
            }
            prev = c
        }
        let rev = Array(blockOutChannels.reversed()), revDepth = Array(transformerLayersPerBlock.reversed())
        for i in 0..<levels {
            let out = rev[i], input = rev[min(i + 1, levels - 1)], prevOut = i == 0 ? rev[0] : rev[i - 1]
            b.scope("up_blocks.\(i)") { u in
                if hasAttention(up: i) {
                    for j in 0...L { addTransformer(&u, "attentions.\(j)", out, depth: revDepth[i]) }
                }
                for j in 0...L {
                    let skip = j == L ? input : out
                    SDXLVAEConfig.addResnet(&u, "resnets.\(j)", in: (j == 0 ? prevOut : out) + skip, out: out, temb: temb)
                }
                if i < levels - 1 { u.conv("upsamplers.0.conv", out: out, in: out, kernel: 3, bias: true) }
            }
        }
        let top = blockOutChannels[levels - 1]
        b.scope("mid_block") { m in
            addTransformer(&m, "attentions.0", top, depth: transformerLayersPerBlock[levels - 1])
            SDXLVAEConfig.addResnet(&m, "resnets.0", in: top, out: top, temb: temb)
            SDXLVAEConfig.addResnet(&m, "resnets.1", in: top, out: top, temb: temb)
        }
        b.add("conv_norm_out.weight", [c0])
        b.add("conv_norm_out.bias", [c0])
        b.conv("conv_out", out: outChannels, in: c0, kernel: 3, bias: true)
        return b.specs
    }

    /// `Transformer2DModel` with linear projections: GroupNorm, proj_in, `depth` BasicTransformerBlocks, proj_out.
    private func addTransformer(_ b: inout InventoryBuilder, _ scope: String, _ c: Int, depth: Int) {
        b.scope(scope) { t in
            t.add("norm.weight", [c])
            t.add("norm.bias", [c])
            t.linear("proj_in", out: c, in: c, bias: true)
            for k in 0..<depth {
                t.scope("transformer_blocks.\(k)") { x in
                    x.layerNorm("norm1", c)
                    for p in ["to_q", "to_k", "to_v"] { x.linear("attn1.\(p)", out: c, in: c, bias: false) }
                    x.linear("attn1.to_out.0", out: c, in: c, bias: true)
                    x.layerNorm("norm2", c)
                    x.linear("attn2.to_q", out: c, in: c, bias: false)
                    x.linear("attn2.to_k", out: c, in: crossAttentionDim, bias: false)
                    x.linear("attn2.to_v", out: c, in: crossAttentionDim, bias: false)
                    x.linear("attn2.to_out.0", out: c, in: c, bias: true)
                    x.layerNorm("norm3", c)
                    x.linear("ff.net.0.proj", out: 8 * c, in: c, bias: true)
                    x.linear("ff.net.2", out: c, in: 4 * c, bias: true)
                }
            }
            t.linear("proj_out", out: c, in: c, bias: true)
        }
    }

    public var summary: String {
        "channels \(blockOutChannels.map(String.init).joined(separator: "/")), transformer depth "
            + "\(zip(transformerLayersPerBlock, downBlockTypes).map { $1 == Self.crossAttnDown ? String($0) : "-" }.joined(separator: "/")), "
            + "heads \(attentionHeadDim.map(String.init).joined(separator: "/")), cross-attention \(crossAttentionDim), text_time \(projectionClassEmbeddingsInputDim)"
    }

    /// Reads widths, depths, the cross-attention and added-embedding widths off the shapes. Head
    /// counts are not in the shapes: heads of 64 channels (SDXL's) are assumed when they divide.
    static let signature = KeySignature([KeyCondition("conv_in.weight", rank: 4), "time_embedding.linear_1.weight",
                                         "add_embedding.linear_1.weight", KeyCondition("conv_out.weight", rank: 4)])

    public static func detect(_ t: ShapeTable) -> Detection<SDXLUNetConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        guard let addIn = t.dim("add_embedding.linear_1.weight", 1) else { return .absent(missing: []) }
        let cin = t["conv_in.weight"]!, cout = t["conv_out.weight"]!
        let n = t.count(indicesUnder: "down_blocks.")
        let widths = (0..<n).compactMap { t.dim("down_blocks.\($0).resnets.0.conv1.weight", 0) }
        let attn = (0..<n).map { t.has("down_blocks.\($0).attentions.0.proj_in.weight") }
        let upAttn = (0..<n).map { t.has("up_blocks.\($0).attentions.0.proj_in.weight") }
        let depth = (0..<n).map { i in
            attn[i] ? t.count(indicesUnder: "down_blocks.\(i).attentions.0.transformer_blocks.")
                : t.count(indicesUnder: "up_blocks.\(n - 1 - i).attentions.0.transformer_blocks.")
        }.map { max($0, 1) }  // a level without transformers still has an entry (SDXL: 1)
        let cross = t.dim("mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight", 1) ?? 2048
        let heads = widths.map { $0 % 64 == 0 ? $0 / 64 : 1 }
        var groups = 32
        while groups > 1 && !widths.allSatisfy({ $0 % groups == 0 }) { groups /= 2 }
        let config = SDXLUNetConfig(inChannels: cin[1], outChannels: cout[0], blockOutChannels: widths,
                                    downBlockTypes: attn.map { $0 ? crossAttnDown : plainDown },
                                    upBlockTypes: upAttn.map { $0 ? crossAttnUp : plainUp },
                                    layersPerBlock: t.count(indicesUnder: "down_blocks.0.resnets."),
                                    transformerLayersPerBlock: depth, attentionHeadDim: heads, crossAttentionDim: cross,
                                    projectionClassEmbeddingsInputDim: addIn, normNumGroups: groups)
        return .found(config, notes: ["attention heads (64 channels each), norm_num_groups (\(groups)) and addition_time_embed_dim (256) are not in the weights: assumed"])
    }
}
