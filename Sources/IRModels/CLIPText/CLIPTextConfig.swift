import IRRegistry

/// A CLIP text transformer in Hugging Face naming (`text_model.*`, q/k/v split): transformers'
/// `CLIPTextModel`, or `CLIPTextModelWithProjection` when `projection_dim` is set. SDXL's two
/// text encoders are both of this family (CLIP ViT-L/14 text and OpenCLIP ViT-bigG/14 text);
/// open_clip's naming (fused `in_proj`, `text_projection` as x @ W) is mapped onto these names
/// by the manifest's rules.
///
/// Field names are transformers' `CLIPTextConfig` names, plus `pad_token`: the padding the
/// tokenizer that goes with the weights uses (SDXL's `tokenizer` pads with `<|endoftext|>`, its
/// `tokenizer_2` with `!`, id 0). The encoder attends causally, so padding changes only the
/// hidden states at the padded positions, but SDXL's UNet reads all 77.
public struct CLIPTextConfig: ArchitectureConfig {
    public static let family = "clip-text"

    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var maxPositions: Int
    public var vocabSize: Int
    public var hiddenAct: String
    public var layerNormEps: Double
    /// Output size of `text_projection` (no bias); nil for `CLIPTextModel`.
    public var projectionDim: Int?
    /// transformers' pooling rule: 2 (the value in the original CLIP configs, SDXL's included)
    /// pools at the argmax of the ids (the first <|endoftext|>, the highest id); any other value
    /// pools at the first position holding that id.
    public var eosTokenID: Int
    public var padToken: String

    enum CodingKeys: String, CodingKey, CaseIterable {
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case layers = "num_hidden_layers"
        case heads = "num_attention_heads"
        case maxPositions = "max_position_embeddings"
        case vocabSize = "vocab_size"
        case hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps"
        case projectionDim = "projection_dim"
        case eosTokenID = "eos_token_id"
        case padToken = "pad_token"
    }

    public static let endOfText = "<|endoftext|>"
    /// The pad tokens the CLIP BPE vocabulary supports here: <|endoftext|> (49407) or `!` (0).
    public static let padTokens = [endOfText, "!"]

    public init(hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int, maxPositions: Int = 77,
                vocabSize: Int = 49408, hiddenAct: String = "quick_gelu", layerNormEps: Double = 1e-5,
                projectionDim: Int? = nil, eosTokenID: Int = 2, padToken: String = CLIPTextConfig.endOfText) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.heads = heads
        self.maxPositions = maxPositions
        self.vocabSize = vocabSize
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
        self.projectionDim = projectionDim
        self.eosTokenID = eosTokenID
        self.padToken = padToken
    }

    /// SDXL `text_encoder`: CLIP ViT-L/14 text (openai/clip-vit-large-patch14).
    public static let vitL14 = CLIPTextConfig(hiddenSize: 768, intermediateSize: 3072, layers: 12, heads: 12)
    /// SDXL `text_encoder_2`: OpenCLIP ViT-bigG/14 text with its projection.
    public static let vitBigG14 = CLIPTextConfig(hiddenSize: 1280, intermediateSize: 5120, layers: 32, heads: 20,
                                                 hiddenAct: "gelu", projectionDim: 1280, padToken: "!")

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "clip-text config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        layers = try c.decode(Int.self, forKey: .layers)
        heads = try c.decode(Int.self, forKey: .heads)
        maxPositions = try c.decodeIfPresent(Int.self, forKey: .maxPositions) ?? 77
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? 49408
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "quick_gelu"
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? 1e-5
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim)
        eosTokenID = try c.decodeIfPresent(Int.self, forKey: .eosTokenID) ?? 2
        padToken = try c.decodeIfPresent(String.self, forKey: .padToken) ?? Self.endOfText
    }

    public var headDim: Int { hiddenSize / heads }

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "hidden_size", hiddenSize)
        try ConfigLimits.check(f, "intermediate_size", intermediateSize, max: ConfigLimits.maxChannels * 4)
        try ConfigLimits.check(f, "num_hidden_layers", layers, min: 2, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "num_attention_heads", heads)
        try ConfigLimits.check(f, "max_position_embeddings", maxPositions, min: 2, max: 4096)
        try ConfigLimits.check(f, "vocab_size", vocabSize, min: 1, max: 1 << 20)
        try ConfigLimits.check(f, "eos_token_id", eosTokenID, min: 0, max: 1 << 20)
        if let p = projectionDim { try ConfigLimits.check(f, "projection_dim", p) }
        guard hiddenSize % heads == 0 else { throw ConfigError(f, "num_attention_heads", "\(heads) heads do not divide \(hiddenSize)") }
        guard layerNormEps > 0, layerNormEps < 1 else { throw ConfigError(f, "layer_norm_eps", "\(layerNormEps) is outside (0, 1)") }
        guard ["quick_gelu", "gelu"].contains(hiddenAct) else { throw ConfigError(f, "hidden_act", "'\(hiddenAct)' is not quick_gelu or gelu") }
        guard Self.padTokens.contains(padToken) else {
            throw ConfigError(f, "pad_token", "'\(padToken)' is not one of \(Self.padTokens.joined(separator: ", "))")
        }
    }

    /// `text_model.*`, plus `text_projection.weight` when there is a projection (transformers
    /// state_dict order; `position_ids` is a non-persistent buffer and not listed).
    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        let d = hiddenSize
        b.scope("text_model") { b in
            b.add("embeddings.token_embedding.weight", [vocabSize, d])
            b.add("embeddings.position_embedding.weight", [maxPositions, d])
            for l in 0..<layers {
                b.scope("encoder.layers.\(l)") { b in
                    for p in ["k_proj", "v_proj", "q_proj", "out_proj"] { b.linear("self_attn.\(p)", out: d, in: d, bias: true) }
                    b.layerNorm("layer_norm1", d)
                    b.linear("mlp.fc1", out: intermediateSize, in: d, bias: true)
                    b.linear("mlp.fc2", out: d, in: intermediateSize, bias: true)
                    b.layerNorm("layer_norm2", d)
                }
            }
            b.layerNorm("final_layer_norm", d)
        }
        if let p = projectionDim { b.linear("text_projection", out: p, in: d, bias: false) }
        return b.specs
    }

    public var summary: String {
        "text transformer, width \(hiddenSize), \(layers) layers, \(heads) heads, MLP \(intermediateSize), \(hiddenAct), "
            + "\(maxPositions) positions, vocabulary \(vocabSize), pad \(padToken)"
            + (projectionDim.map { ", projection \($0)" } ?? "")
    }

    /// Width, layers, MLP, positions and vocabulary come from the shapes. Heads (64-wide in both
    /// SDXL encoders), the activation and the pad token do not: they follow the two published
    /// encoders (a projection means OpenCLIP bigG: gelu, pad `!`), said in the notes.
    static let signature = KeySignature([KeyCondition("text_model.embeddings.token_embedding.weight", rank: 2),
                                         KeyCondition("text_model.embeddings.position_embedding.weight", rank: 2),
                                         KeyCondition("text_model.encoder.layers.0.mlp.fc1.weight", rank: 2),
                                         "text_model.final_layer_norm.weight"])

    public static func detect(_ t: ShapeTable) -> Detection<CLIPTextConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        let names = signature.conditions.map(\.name)
        let tok = t[names[0]]!, pos = t[names[1]]!, fc1 = t[names[2]]!
        let hidden = tok[1]
        let layers = t.count(indicesUnder: "text_model.encoder.layers.")
        let projection = t.dim("text_projection.weight", 0)
        var notes = [String]()
        let heads = hidden % 64 == 0 ? hidden / 64 : 1
        notes.append("CLIP attention heads are not recorded in the weights: assumed \(heads) (64-wide heads); pass --config to set them")
        let openCLIP = projection != nil
        notes.append(openCLIP
            ? "a text projection means OpenCLIP (SDXL text_encoder_2): assumed gelu and padding with '!' (id 0)"
            : "no text projection means OpenAI CLIP (SDXL text_encoder): assumed quick_gelu and padding with <|endoftext|>")
        let config = CLIPTextConfig(hiddenSize: hidden, intermediateSize: fc1[0], layers: layers, heads: heads,
                                    maxPositions: pos[0], vocabSize: tok[0], hiddenAct: openCLIP ? "gelu" : "quick_gelu",
                                    projectionDim: projection, padToken: openCLIP ? "!" : endOfText)
        return .found(config, notes: notes)
    }
}
