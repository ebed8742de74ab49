import IRRegistry

/// SE-SymUNet: SymUNet plus CLIP-guided cross-attention at the bottleneck and every decoder
/// level (guidance f += α·CA(f, z), refinement z += α·CA(z, f)), with a CLIP ViT vision tower
/// stored in the checkpoint under `clip_model.vision_model.*`.
///
/// Field names follow upstream's yml, except `clip` (upstream names a hub model instead) and
/// the two `pos_embed_*` fields: upstream draws each module's positional embedding from torch's
/// global RNG at every forward, which no runtime can reproduce, so irzoo needs a stated default.
public struct SESymUNetConfig: ArchitectureConfig {
    public static let family = "se-symunet"

    /// What the eight guidance/refinement modules add to their image tokens when `--aux`
    /// supplies no `pos_embed` for them.
    public enum PosEmbedDefault: String, Codable, Sendable {
        /// Standard normal values from irzoo's own seeded generator (docs/ARCHITECTURES.md),
        /// the distribution upstream trained with, but reproducible.
        case seededNormal = "seeded-normal"
        /// No positional term at all.
        case zeros
    }

    public var backbone: SymUNetConfig
    public var crossAttentionInnerDims: [Int]
    public var middleCrossAttentionInnerDim: Int
    public var crossAttentionHeads: [Int]
    public var middleCrossAttentionHeads: Int
    public var patchSizes: [Int]
    public var middlePatchSize: Int
    public var clip: CLIPVisionConfig
    public var posEmbedDefault: PosEmbedDefault
    public var posEmbedSeed: UInt64

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
        case crossAttentionInnerDims = "cross_attn_inner_dims"
        case middleCrossAttentionInnerDim = "middle_cross_attn_inner_dim"
        case crossAttentionHeads = "cross_attn_heads"
        case middleCrossAttentionHeads = "middle_cross_attn_heads"
        case patchSizes = "patch_sizes"
        case middlePatchSize = "middle_patch_size"
        case clip
        case posEmbedDefault = "pos_embed_default"
        case posEmbedSeed = "pos_embed_seed"
    }

    public init(backbone: SymUNetConfig, crossAttentionInnerDims: [Int], middleCrossAttentionInnerDim: Int,
                crossAttentionHeads: [Int], middleCrossAttentionHeads: Int, patchSizes: [Int], middlePatchSize: Int,
                clip: CLIPVisionConfig, posEmbedDefault: PosEmbedDefault = .seededNormal, posEmbedSeed: UInt64 = 0) {
        self.backbone = backbone
        self.crossAttentionInnerDims = crossAttentionInnerDims
        self.middleCrossAttentionInnerDim = middleCrossAttentionInnerDim
        self.crossAttentionHeads = crossAttentionHeads
        self.middleCrossAttentionHeads = middleCrossAttentionHeads
        self.patchSizes = patchSizes
        self.middlePatchSize = middlePatchSize
        self.clip = clip
        self.posEmbedDefault = posEmbedDefault
        self.posEmbedSeed = posEmbedSeed
    }

    /// The published configuration with the ViT-L/14 tower (its projection is not part of SE-SymUNet).
    public static let published: SESymUNetConfig = {
        var clip = CLIPVisionConfig.vitL14
        clip.projectionDim = nil
        return SESymUNetConfig(backbone: .published, crossAttentionInnerDims: [1024, 1024, 1024],
                               middleCrossAttentionInnerDim: 1024, crossAttentionHeads: [1, 2, 4],
                               middleCrossAttentionHeads: 8, patchSizes: [4, 4, 4], middlePatchSize: 2, clip: clip)
    }()

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "se-symunet config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        backbone = SymUNetConfig(
            imageChannels: try c.decodeIfPresent(Int.self, forKey: .imageChannels) ?? 3,
            width: try c.decode(Int.self, forKey: .width),
            encoderBlocks: try c.decode([Int].self, forKey: .encoderBlocks),
            middleBlocks: try c.decode(Int.self, forKey: .middleBlocks),
            decoderBlocks: try c.decode([Int].self, forKey: .decoderBlocks),
            heads: try c.decode([Int].self, forKey: .heads),
            middleHeads: try c.decode(Int.self, forKey: .middleHeads),
            ffnExpansionFactor: try c.decode(Double.self, forKey: .ffnExpansionFactor),
            bias: try c.decode(Bool.self, forKey: .bias),
            layerNorm: try c.decode(LayerNormKind.self, forKey: .layerNorm))
        crossAttentionInnerDims = try c.decode([Int].self, forKey: .crossAttentionInnerDims)
        middleCrossAttentionInnerDim = try c.decode(Int.self, forKey: .middleCrossAttentionInnerDim)
        crossAttentionHeads = try c.decode([Int].self, forKey: .crossAttentionHeads)
        middleCrossAttentionHeads = try c.decode(Int.self, forKey: .middleCrossAttentionHeads)
        patchSizes = try c.decode([Int].self, forKey: .patchSizes)
        middlePatchSize = try c.decode(Int.self, forKey: .middlePatchSize)
        clip = try c.decode(CLIPVisionConfig.self, forKey: .clip)
        posEmbedDefault = try c.decodeIfPresent(PosEmbedDefault.self, forKey: .posEmbedDefault) ?? .seededNormal
        posEmbedSeed = try c.decodeIfPresent(UInt64.self, forKey: .posEmbedSeed) ?? 0
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(backbone.imageChannels, forKey: .imageChannels)
        try c.encode(backbone.width, forKey: .width)
        try c.encode(backbone.encoderBlocks, forKey: .encoderBlocks)
        try c.encode(backbone.middleBlocks, forKey: .middleBlocks)
        try c.encode(backbone.decoderBlocks, forKey: .decoderBlocks)
        try c.encode(backbone.heads, forKey: .heads)
        try c.encode(backbone.middleHeads, forKey: .middleHeads)
        try c.encode(backbone.ffnExpansionFactor, forKey: .ffnExpansionFactor)
        try c.encode(backbone.bias, forKey: .bias)
        try c.encode(backbone.layerNorm, forKey: .layerNorm)
        try c.encode(crossAttentionInnerDims, forKey: .crossAttentionInnerDims)
        try c.encode(middleCrossAttentionInnerDim, forKey: .middleCrossAttentionInnerDim)
        try c.encode(crossAttentionHeads, forKey: .crossAttentionHeads)
        try c.encode(middleCrossAttentionHeads, forKey: .middleCrossAttentionHeads)
        try c.encode(patchSizes, forKey: .patchSizes)
        try c.encode(middlePatchSize, forKey: .middlePatchSize)
        try c.encode(clip, forKey: .clip)
        try c.encode(posEmbedDefault, forKey: .posEmbedDefault)
        try c.encode(posEmbedSeed, forKey: .posEmbedSeed)
    }

    public var levels: Int { backbone.levels }

    /// One guidance/refinement pair: where it sits and its sizes.
    public struct CrossAttentionSite: Sendable, Equatable {
        /// Module path of the guidance module ("middle_guide_attention", "decoder_guide_attentions.0").
        public var guidePath: String
        /// Module path of the refinement module.
        public var refinePath: String
        public var imageChannels: Int
        public var patchSize: Int
        public var innerDim: Int
        public var heads: Int
        /// Feature-map downscale relative to the padded input (8 for the published bottleneck).
        public var stride: Int
        /// Width of one image token, C·p².
        public var patchDim: Int { imageChannels * patchSize * patchSize }
    }

    /// The sites in upstream's forward (and pos_embed draw) order: middle, then decoders 0, 1, ...
    public var sites: [CrossAttentionSite] {
        var out = [CrossAttentionSite(guidePath: "middle_guide_attention", refinePath: "middle_refine_attention",
                                      imageChannels: backbone.middleChannels, patchSize: middlePatchSize,
                                      innerDim: middleCrossAttentionInnerDim, heads: middleCrossAttentionHeads,
                                      stride: 1 << levels)]
        for d in 0..<levels {
            let j = levels - 1 - d
            out.append(CrossAttentionSite(guidePath: "decoder_guide_attentions.\(d)", refinePath: "decoder_refine_attentions.\(d)",
                                          imageChannels: backbone.channels(level: j), patchSize: patchSizes[j],
                                          innerDim: crossAttentionInnerDims[j], heads: crossAttentionHeads[j], stride: 1 << j))
        }
        return out
    }

    public func validate() throws {
        let f = Self.family
        try backbone.validate()
        try clip.validate()
        try ConfigLimits.check(f, "cross_attn_inner_dims", crossAttentionInnerDims, count: levels)
        try ConfigLimits.check(f, "cross_attn_heads", crossAttentionHeads, count: levels)
        try ConfigLimits.check(f, "patch_sizes", patchSizes, count: levels, max: 64)
        try ConfigLimits.check(f, "middle_cross_attn_inner_dim", middleCrossAttentionInnerDim)
        try ConfigLimits.check(f, "middle_cross_attn_heads", middleCrossAttentionHeads)
        try ConfigLimits.check(f, "middle_patch_size", middlePatchSize, max: 64)
        for (i, s) in sites.enumerated() {
            let field = i == 0 ? "middle_cross_attn_heads" : "cross_attn_heads[\(levels - i)]"
            guard s.innerDim % s.heads == 0 else { throw ConfigError(f, field, "\(s.heads) heads do not divide inner dim \(s.innerDim)") }
            // Padded sides are multiples of padMultiple; the token grid must tile the map exactly.
            guard (backbone.padMultiple / s.stride) % s.patchSize == 0 else {
                throw ConfigError(f, i == 0 ? "middle_patch_size" : "patch_sizes[\(levels - i)]",
                                  "patch \(s.patchSize) does not divide the \(backbone.padMultiple / s.stride)-pixel padding step at that level")
            }
            try ConfigLimits.check(f, "patch dim of \(s.guidePath)", s.patchDim, max: ConfigLimits.maxChannels * 64)
        }
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        b.append(contentsOf: clip.towerInventory, under: "clip_model.vision_model")
        let sites = self.sites
        let z = clip.hiddenSize
        backbone.addBackbone(&b, decoderExtras: { b in
            for s in sites.dropFirst() { b.scope(s.guidePath) { Self.addGuide(&$0, s, textDim: z) } }
            for s in sites.dropFirst() { b.scope(s.refinePath) { Self.addRefine(&$0, s, textDim: z) } }
        }, middleExtras: { b in
            b.scope(sites[0].guidePath) { Self.addGuide(&$0, sites[0], textDim: z) }
            b.scope(sites[0].refinePath) { Self.addRefine(&$0, sites[0], textDim: z) }
        })
        return b.specs
    }

    /// The upstream modules' own parameters, without the CLIP tower (67,432,643 when published).
    public var ownParameterCount: Int {
        inventory.filter { !$0.name.hasPrefix("clip_model.") }.parameterCount
    }

    private static func addCrossAttention(_ b: inout InventoryBuilder, query: Int, context: Int, inner: Int) {
        b.layerNorm("attention.norm_query", query)
        b.layerNorm("attention.norm_context", context)
        b.linear("attention.to_q", out: inner, in: query, bias: false)
        b.linear("attention.to_k", out: inner, in: context, bias: false)
        b.linear("attention.to_v", out: inner, in: context, bias: false)
        b.linear("attention.to_out.0", out: query, in: inner, bias: true)
    }

    private static func addGuide(_ b: inout InventoryBuilder, _ s: CrossAttentionSite, textDim: Int) {
        b.add("alpha", [])
        addCrossAttention(&b, query: s.patchDim, context: textDim, inner: s.innerDim)
    }

    private static func addRefine(_ b: inout InventoryBuilder, _ s: CrossAttentionSite, textDim: Int) {
        b.add("alpha", [])
        addCrossAttention(&b, query: textDim, context: s.patchDim, inner: s.innerDim)
    }

    public var summary: String {
        backbone.summary + "; cross-attention inner \(crossAttentionInnerDims.map(String.init).joined(separator: "/")) | \(middleCrossAttentionInnerDim), "
            + "heads \(crossAttentionHeads.map(String.init).joined(separator: "/")) | \(middleCrossAttentionHeads), "
            + "patches \(patchSizes.map(String.init).joined(separator: "/")) | \(middlePatchSize); CLIP \(clip.summary); "
            + "pos_embed default \(posEmbedDefault.rawValue)" + (posEmbedDefault == .seededNormal ? " (seed \(posEmbedSeed))" : "")
    }

    /// The guidance cross-attention on top of a SymUNet's signature.
    static let signature = KeySignature(["middle_guide_attention.alpha", "middle_refine_attention.alpha",
                                         "middle_guide_attention.attention.to_q.weight", "middle_guide_attention.attention.norm_query.weight"])

    public static func detect(_ t: ShapeTable) -> Detection<SESymUNetConfig> {
        var missing = signature.mismatch(t) ?? []
        let backbone: SymUNetConfig
        switch SymUNetConfig.detect(t) {
        case .absent(let m): missing += m
            return .absent(missing: missing)
        case .found(let c, _): backbone = c
        }
        guard missing.isEmpty else { return .absent(missing: missing) }
        var clip: CLIPVisionConfig
        var notes: [String]
        switch CLIPVisionConfig.detectTower(t, prefix: "clip_model.vision_model.", projection: nil) {
        case .absent(let m): return .absent(missing: m)
        case .found(let c, let n): clip = c; notes = n
        }
        clip.projectionDim = nil
        let levels = backbone.levels

        // Patch size from the guidance query width C·p²; inner dim from to_q's rows.
        func site(_ path: String, channels: Int) -> (patch: Int, inner: Int)? {
            guard let pd = t.dim(path + ".attention.norm_query.weight", 0),
                  let inner = t.dim(path + ".attention.to_q.weight", 0), channels > 0, pd % channels == 0 else { return nil }
            var p = 1
            while (p + 1) * (p + 1) <= pd / channels { p += 1 }
            return p * p * channels == pd ? (p, inner) : nil
        }
        guard let mid = site("middle_guide_attention", channels: backbone.middleChannels) else {
            return .absent(missing: ["middle_guide_attention.attention.norm_query.weight of width C·p²"])
        }
        var inner = [Int](repeating: 0, count: levels), patches = [Int](repeating: 0, count: levels)
        for d in 0..<levels {
            let j = levels - 1 - d
            guard let s = site("decoder_guide_attentions.\(d)", channels: backbone.channels(level: j)) else {
                return .absent(missing: ["decoder_guide_attentions.\(d).attention.norm_query.weight"])
            }
            inner[j] = s.inner
            patches[j] = s.patch
        }
        // Cross-attention heads leave no trace in the shapes. Upstream's published values equal
        // the Restormer heads of each level, so those are assumed where they divide the inner dim.
        let heads = (0..<levels).map { inner[$0] % backbone.heads[$0] == 0 ? backbone.heads[$0] : 1 }
        let midHeads = mid.inner % backbone.middleHeads == 0 ? backbone.middleHeads : 1
        notes.append("cross-attention heads are not recorded in the weights: assumed \(heads.map(String.init).joined(separator: "/")) | \(midHeads) (the Restormer heads of each level, as published)")
        let config = SESymUNetConfig(backbone: backbone, crossAttentionInnerDims: inner, middleCrossAttentionInnerDim: mid.inner,
                                     crossAttentionHeads: heads, middleCrossAttentionHeads: midHeads, patchSizes: patches,
                                     middlePatchSize: mid.patch, clip: clip)
        return .found(config, notes: notes)
    }
}
