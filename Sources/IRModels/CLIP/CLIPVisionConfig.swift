import IRRegistry

/// A CLIP ViT vision tower in Hugging Face naming (`vision_model.*`, q/k/v split, the
/// `pre_layrnorm` spelling). Field names are HF's `vision_config` names. OpenAI's layout is
/// mapped onto these names by the manifest's rules (fused `in_proj` split q, k, v).
public struct CLIPVisionConfig: ArchitectureConfig {
    public static let family = "clip-vision"

    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var patchSize: Int
    public var imageSize: Int
    public var channels: Int
    /// Output size of `visual_projection` (no bias); nil for a tower without one.
    public var projectionDim: Int?
    public var layerNormEps: Double
    public var hiddenAct: String

    enum CodingKeys: String, CodingKey, CaseIterable {
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case layers = "num_hidden_layers"
        case heads = "num_attention_heads"
        case patchSize = "patch_size"
        case imageSize = "image_size"
        case channels = "num_channels"
        case projectionDim = "projection_dim"
        case layerNormEps = "layer_norm_eps"
        case hiddenAct = "hidden_act"
    }

    public init(hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int, patchSize: Int, imageSize: Int,
                channels: Int = 3, projectionDim: Int? = nil, layerNormEps: Double = 1e-5, hiddenAct: String = "quick_gelu") {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.heads = heads
        self.patchSize = patchSize
        self.imageSize = imageSize
        self.channels = channels
        self.projectionDim = projectionDim
        self.layerNormEps = layerNormEps
        self.hiddenAct = hiddenAct
    }

    /// OpenAI CLIP ViT-L/14 at 224 px (`openai/clip-vit-large-patch14`).
    public static let vitL14 = CLIPVisionConfig(hiddenSize: 1024, intermediateSize: 4096, layers: 24, heads: 16,
                                                patchSize: 14, imageSize: 224, projectionDim: 768)

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "clip-vision config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        layers = try c.decode(Int.self, forKey: .layers)
        heads = try c.decode(Int.self, forKey: .heads)
        patchSize = try c.decode(Int.self, forKey: .patchSize)
        imageSize = try c.decode(Int.self, forKey: .imageSize)
        channels = try c.decodeIfPresent(Int.self, forKey: .channels) ?? 3
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim)
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? 1e-5
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "quick_gelu"
    }

    public var gridSize: Int { imageSize / patchSize }
    /// CLS plus one token per patch.
    public var tokens: Int { gridSize * gridSize + 1 }
    public var headDim: Int { hiddenSize / heads }

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "hidden_size", hiddenSize)
        try ConfigLimits.check(f, "intermediate_size", intermediateSize, max: ConfigLimits.maxChannels * 4)
        try ConfigLimits.check(f, "num_hidden_layers", layers, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "num_attention_heads", heads)
        try ConfigLimits.check(f, "patch_size", patchSize, max: 1024)
        try ConfigLimits.check(f, "image_size", imageSize, max: 8192)
        try ConfigLimits.check(f, "num_channels", channels, max: 64)
        if let p = projectionDim { try ConfigLimits.check(f, "projection_dim", p) }
        guard hiddenSize % heads == 0 else { throw ConfigError(f, "num_attention_heads", "\(heads) heads do not divide \(hiddenSize)") }
        guard imageSize % patchSize == 0 else { throw ConfigError(f, "image_size", "\(imageSize) is not a multiple of patch_size \(patchSize)") }
        guard layerNormEps > 0, layerNormEps < 1 else { throw ConfigError(f, "layer_norm_eps", "\(layerNormEps) is outside (0, 1)") }
        guard ["quick_gelu", "gelu"].contains(hiddenAct) else { throw ConfigError(f, "hidden_act", "'\(hiddenAct)' is not quick_gelu or gelu") }
    }

    /// The standalone model: `vision_model.*`, plus `visual_projection.weight` when it has one.
    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        b.append(contentsOf: towerInventory, under: "vision_model")
        if let p = projectionDim { b.linear("visual_projection", out: p, in: hiddenSize, bias: false) }
        return b.specs
    }

    /// The tower alone, names relative to `vision_model.` (SE-SymUNet nests it in `clip_model.`).
    public var towerInventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let d = hiddenSize
        b.add("embeddings.class_embedding", [d])
        b.conv("embeddings.patch_embedding", out: d, in: channels, kernel: patchSize, bias: false)
        b.add("embeddings.position_embedding.weight", [tokens, d])
        b.layerNorm("pre_layrnorm", d)
        for l in 0..<layers {
            b.scope("encoder.layers.\(l)") { b in
                for p in ["k_proj", "v_proj", "q_proj", "out_proj"] { b.linear("self_attn.\(p)", out: d, in: d, bias: true) }
                b.layerNorm("layer_norm1", d)
                b.linear("mlp.fc1", out: intermediateSize, in: d, bias: true)
                b.linear("mlp.fc2", out: d, in: intermediateSize, bias: true)
                b.layerNorm("layer_norm2", d)
            }
        }
        b.layerNorm("post_layernorm", d)
        return b.specs
    }

    public var summary: String {
        "ViT \(imageSize) px, patch \(patchSize), width \(hiddenSize), \(layers) layers, \(heads) heads, MLP \(intermediateSize), \(hiddenAct)"
            + (projectionDim.map { ", projection \($0)" } ?? "")
    }

    public static func detect(_ t: ShapeTable) -> Detection<CLIPVisionConfig> {
        detectTower(t, prefix: "vision_model.", projection: "visual_projection.weight")
    }

    /// Reads a tower under `prefix`. Heads are not recorded in any shape: CLIP towers use
    /// 64-wide heads, so hidden/64 is assumed and said in the notes (`--config` overrides).
    static let towerSignature = KeySignature([KeyCondition("embeddings.patch_embedding.weight", rank: 4),
                                              KeyCondition("embeddings.position_embedding.weight", rank: 2),
                                              "embeddings.class_embedding", KeyCondition("encoder.layers.0.mlp.fc1.weight", rank: 2)])

    static func detectTower(_ t: ShapeTable, prefix: String, projection: String?) -> Detection<CLIPVisionConfig> {
        let tower = towerSignature.prefixed(prefix)
        if let missing = tower.mismatch(t) { return .absent(missing: missing) }
        let signature = tower.conditions.map(\.name)
        let patch = t[signature[0]]!, pos = t[signature[1]]!, fc1 = t[signature[3]]!
        let hidden = patch[0], p = patch[2]
        var grid = 0
        while (grid + 1) * (grid + 1) <= pos[0] - 1 { grid += 1 }
        guard grid * grid == pos[0] - 1 else { return .absent(missing: [signature[1] + " with 1 + a square number of rows"]) }
        let layers = t.count(indicesUnder: prefix + "encoder.layers.")
        var notes = [String]()
        let heads: Int
        if hidden % 64 == 0 {
            heads = hidden / 64
            notes.append("CLIP attention heads are not recorded in the weights: assumed \(heads) (width \(hidden) / 64)")
        } else {
            heads = 1
            notes.append("CLIP attention heads are not recorded in the weights and width \(hidden) is not a multiple of 64: assumed 1 head; pass --config to set it")
        }
        let config = CLIPVisionConfig(hiddenSize: hidden, intermediateSize: fc1[0], layers: layers, heads: heads,
                                      patchSize: p, imageSize: grid * p, channels: patch[1],
                                      projectionDim: projection.flatMap { t.dim($0, 0) })
        return .found(config, notes: notes)
    }
}
