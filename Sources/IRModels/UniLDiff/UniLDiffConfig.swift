import IRRegistry

/// UniLDiff's DAFF sizes that are not fixed by the UNet and the LQ encoder (upstream `DiTBlock`
/// arguments; `in_channels` is the UNet's conv_in width, `conditioning_channels` the LQ encoder's).
public struct UniLDiffDAFFConfig: Codable, Equatable, Sendable {
    public var hiddenSize: Int
    public var numHeads: Int
    public var mlpRatio: Double
    public var depth: Int
    public var depthSingleBlocks: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case hiddenSize = "hidden_size", numHeads = "num_heads", mlpRatio = "mlp_ratio"
        case depth, depthSingleBlocks = "depth_single_blocks"
    }

    public init(hiddenSize: Int = 1024, numHeads: Int = 16, mlpRatio: Double = 4, depth: Int = 1, depthSingleBlocks: Int = 1) {
        self.hiddenSize = hiddenSize
        self.numHeads = numHeads
        self.mlpRatio = mlpRatio
        self.depth = depth
        self.depthSingleBlocks = depthSingleBlocks
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "unildiff daff config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHeads = try c.decode(Int.self, forKey: .numHeads)
        mlpRatio = try c.decodeIfPresent(Double.self, forKey: .mlpRatio) ?? 4
        depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? 1
        depthSingleBlocks = try c.decodeIfPresent(Int.self, forKey: .depthSingleBlocks) ?? 1
    }

    var mlpHidden: Int { Int(Double(hiddenSize) * mlpRatio) }
}

/// The whole UniLDiff restorer in one file (irzoo's native layout, a diffusers pipeline's
/// component names as prefixes): `unet.*` (the SDXL UNet, and the modules upstream attaches to
/// it: `unet.denoise_encoder.*`, `unet.condition_embedding.*`, `unet.information_transformer_layers.*`,
/// `unet.spatial_ch_projs.*`), `vae.*`, `text_encoder.*` (CLIP ViT-L/14 text), `text_encoder_2.*`
/// (OpenCLIP bigG text with projection). Each part's names and config are its own family's.
public struct UniLDiffConfig: ArchitectureConfig {
    public static let family = "unildiff"

    public var vae: SDXLVAEConfig
    public var unet: SDXLUNetConfig
    public var textEncoder: CLIPTextConfig
    public var textEncoder2: CLIPTextConfig
    public var daff: UniLDiffDAFFConfig

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vae, unet, textEncoder = "text_encoder", textEncoder2 = "text_encoder_2", daff
    }

    public init(vae: SDXLVAEConfig, unet: SDXLUNetConfig, textEncoder: CLIPTextConfig, textEncoder2: CLIPTextConfig,
                daff: UniLDiffDAFFConfig) {
        self.vae = vae
        self.unet = unet
        self.textEncoder = textEncoder
        self.textEncoder2 = textEncoder2
        self.daff = daff
    }

    /// SDXL base sizes with the published DAFF (hidden 1024, 16 heads, one double and one single block).
    public static let full = UniLDiffConfig(vae: .sdxl, unet: .sdxl, textEncoder: .vitL14, textEncoder2: .vitBigG14,
                                            daff: UniLDiffDAFFConfig())

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "unildiff config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vae = try c.decode(SDXLVAEConfig.self, forKey: .vae)
        unet = try c.decode(SDXLUNetConfig.self, forKey: .unet)
        textEncoder = try c.decode(CLIPTextConfig.self, forKey: .textEncoder)
        textEncoder2 = try c.decode(CLIPTextConfig.self, forKey: .textEncoder2)
        daff = try c.decode(UniLDiffDAFFConfig.self, forKey: .daff)
    }

    public static let prefixes = (unet: "unet", vae: "vae", textEncoder: "text_encoder", textEncoder2: "text_encoder_2",
                                  lqEncoder: "unet.denoise_encoder")

    /// The LQ encoder's feature width (the VAE encoder's top level), which condition_embedding reads.
    public var conditioningChannels: Int { vae.blockOutChannels[vae.levels - 1] }
    public var latentWidth: Int { unet.blockOutChannels[0] }

    public func validate() throws {
        let f = Self.family
        try vae.validate()
        try unet.validate()
        try textEncoder.validate()
        try textEncoder2.validate()
        try ConfigLimits.check(f, "daff.hidden_size", daff.hiddenSize)
        try ConfigLimits.check(f, "daff.num_heads", daff.numHeads)
        try ConfigLimits.check(f, "daff.depth", daff.depth, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "daff.depth_single_blocks", daff.depthSingleBlocks, max: ConfigLimits.maxBlocks)
        try ConfigLimits.checkFactor(f, "daff.mlp_ratio", daff.mlpRatio)
        guard daff.hiddenSize % daff.numHeads == 0 else {
            throw ConfigError(f, "daff.num_heads", "\(daff.numHeads) heads do not split \(daff.hiddenSize)")
        }
        guard conditioningChannels % 32 == 0 else {
            throw ConfigError(f, "vae.block_out_channels", "condition_embedding's GroupNorm(32) needs an LQ feature width divisible by 32, got \(conditioningChannels)")
        }
        guard unet.inChannels == vae.latentChannels else {
            throw ConfigError(f, "unet.in_channels", "\(unet.inChannels) differs from the VAE's \(vae.latentChannels) latent channels")
        }
        guard unet.crossAttentionDim == textEncoder.hiddenSize + textEncoder2.hiddenSize else {
            throw ConfigError(f, "unet.cross_attention_dim", "\(unet.crossAttentionDim) is not the two text widths \(textEncoder.hiddenSize) + \(textEncoder2.hiddenSize)")
        }
        guard let p = textEncoder2.projectionDim, unet.textEmbedsDim == p else {
            throw ConfigError(f, "unet.projection_class_embeddings_input_dim", "the text part \(unet.textEmbedsDim) is not text_encoder_2's projection \(textEncoder2.projectionDim.map(String.init) ?? "(none)")")
        }
    }

    /// The DAFF's three modules, relative to the UNet (section 1.7 of the spec).
    var daffInventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let c = conditioningChannels, l = latentWidth, h = daff.hiddenSize, m = daff.mlpHidden, hd = h / daff.numHeads
        b.scope("condition_embedding") { e in
            e.conv("conv_in", out: c, in: c, kernel: 3, bias: true)
            e.add("norm_in.weight", [c])
            e.add("norm_in.bias", [c])
            e.conv("conv_out", out: l, in: c, kernel: 3, bias: true)
        }
        b.scope("information_transformer_layers") { t in
            t.linear("latent_in", out: h, in: l, bias: true)
            t.linear("cond_in", out: h, in: l, bias: true)
            t.linear("time_in.in_layer", out: h, in: 256, bias: true)
            t.linear("time_in.out_layer", out: h, in: h, bias: true)
            t.linear("time_in2.in_layer", out: 2 * h, in: 256, bias: true)
            t.linear("time_in2.out_layer", out: 2 * h, in: 2 * h, bias: true)
            for i in 0..<daff.depth {
                for s in ["img", "txt"] {
                    t.linear("double_blocks.\(i).\(s)_mod.lin", out: 6 * h, in: h, bias: true)
                    t.linear("double_blocks.\(i).\(s)_attn.qkv", out: 3 * h, in: h, bias: true)
                    t.add("double_blocks.\(i).\(s)_attn.norm.query_norm.scale", [hd])
                    t.add("double_blocks.\(i).\(s)_attn.norm.key_norm.scale", [hd])
                    t.linear("double_blocks.\(i).\(s)_attn.proj", out: h, in: h, bias: true)
                    t.linear("double_blocks.\(i).\(s)_mlp.0", out: m, in: h, bias: true)
                    t.linear("double_blocks.\(i).\(s)_mlp.2", out: h, in: m, bias: true)
                }
            }
            let h2 = 2 * h, m2 = 2 * m
            for i in 0..<daff.depthSingleBlocks {
                t.linear("single_blocks.\(i).linear1", out: 3 * h2 + m2, in: h2, bias: true)
                t.linear("single_blocks.\(i).linear2", out: h2, in: h2 + m2, bias: true)
                t.add("single_blocks.\(i).norm.query_norm.scale", [2 * hd])
                t.add("single_blocks.\(i).norm.key_norm.scale", [2 * hd])
                t.linear("single_blocks.\(i).modulation.lin", out: 3 * h2, in: h2, bias: true)
            }
            t.linear("final_layer.linear", out: h, in: h2, bias: true)
            t.linear("final_layer.adaLN_modulation.1", out: 2 * h2, in: h2, bias: true)
        }
        b.linear("spatial_ch_projs", out: l, in: h, bias: true)
        return b.specs
    }

    /// The VAE encoder's tensors without conv_norm_out / conv_out: the LQ encoder (`denoise_encoder`).
    var lqEncoderInventory: [ParameterSpec] {
        vae.inventory.compactMap { s -> ParameterSpec? in
            guard s.name.hasPrefix("encoder."), !s.name.hasPrefix("encoder.conv_norm_out."), !s.name.hasPrefix("encoder.conv_out.") else { return nil }
            return ParameterSpec(String(s.name.dropFirst("encoder.".count)), s.shape, kind: s.kind)
        }
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        b.append(contentsOf: unet.inventory, under: Self.prefixes.unet)
        b.append(contentsOf: lqEncoderInventory, under: Self.prefixes.lqEncoder)
        b.append(contentsOf: daffInventory, under: Self.prefixes.unet)
        b.append(contentsOf: vae.inventory, under: Self.prefixes.vae)
        b.append(contentsOf: textEncoder.inventory, under: Self.prefixes.textEncoder)
        b.append(contentsOf: textEncoder2.inventory, under: Self.prefixes.textEncoder2)
        return b.specs
    }

    public var summary: String {
        "SDXL UNet (\(unet.summary)); VAE and LQ encoder (\(vae.summary)); DAFF hidden \(daff.hiddenSize), \(daff.numHeads) heads, "
            + "\(daff.depth) double + \(daff.depthSingleBlocks) single blocks; text encoders width \(textEncoder.hiddenSize) + \(textEncoder2.hiddenSize); "
            + "DAEM not in the pipeline (its placement is unknown)"
    }

    /// The tensors under `prefix.`, renamed without it.
    static func table(_ t: ShapeTable, under prefix: String, excluding: [String] = []) -> ShapeTable {
        var d = [String: [Int]]()
        for (k, v) in t.shapes where k.hasPrefix(prefix + ".") {
            let rest = String(k.dropFirst(prefix.count + 1))
            if !excluding.contains(where: { rest.hasPrefix($0) }) { d[rest] = v }
        }
        return ShapeTable(shapes: d)
    }

    /// Each part detected by its own family under its prefix; the DAFF's sizes from its tensors.
    static let signature = KeySignature(["unet.conv_in.weight", "unet.information_transformer_layers.latent_in.weight",
                                         "unet.denoise_encoder.conv_in.weight", "vae.decoder.conv_out.weight",
                                         "text_encoder.text_model.final_layer_norm.weight", "text_encoder_2.text_projection.weight"])

    public static func detect(_ t: ShapeTable) -> Detection<UniLDiffConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        let unetTable = table(t, under: "unet", excluding: ["denoise_encoder.", "condition_embedding.", "information_transformer_layers.", "spatial_ch_projs."])
        guard case .found(let unet, let n1) = SDXLUNetConfig.detect(unetTable),
              case .found(let vae, let n2) = SDXLVAEConfig.detect(table(t, under: "vae")),
              case .found(let te1, let n3) = CLIPTextConfig.detect(table(t, under: "text_encoder")),
              case .found(let te2, let n4) = CLIPTextConfig.detect(table(t, under: "text_encoder_2")),
              let h = t.dim("unet.information_transformer_layers.latent_in.weight", 0),
              let hd = t.dim("unet.information_transformer_layers.double_blocks.0.img_attn.norm.query_norm.scale", 0), hd > 0,
              let m = t.dim("unet.information_transformer_layers.double_blocks.0.img_mlp.0.weight", 0), h > 0 else {
            return .absent(missing: signature.conditions.map(\.name))
        }
        let daff = UniLDiffDAFFConfig(hiddenSize: h, numHeads: h / hd, mlpRatio: Double(m) / Double(h),
                                      depth: t.count(indicesUnder: "unet.information_transformer_layers.double_blocks."),
                                      depthSingleBlocks: t.count(indicesUnder: "unet.information_transformer_layers.single_blocks."))
        let notes = (n1.map { "unet: \($0)" } + n2.map { "vae: \($0)" } + n3.map { "text_encoder: \($0)" } + n4.map { "text_encoder_2: \($0)" })
        return .found(UniLDiffConfig(vae: vae, unet: unet, textEncoder: te1, textEncoder2: te2, daff: daff), notes: notes)
    }
}
