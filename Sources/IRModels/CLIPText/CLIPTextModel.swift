import IRRuntime
import IRRegistry

/// What a CLIP text encoder gives SDXL and anyone else.
public struct CLIPTextOutput {
    /// `hidden_states[-2]` [B, N, D]: the output of the second-to-last layer, no final LayerNorm
    /// (SDXL concatenates both encoders' penultimate states into its [B, 77, 2048] context).
    public let penultimate: Tensor
    /// `last_hidden_state` [B, N, D]: the last layer's output after `final_layer_norm`.
    public let lastHidden: Tensor
    /// `pooler_output` [B, D]: `lastHidden` at the end-of-text position of each row.
    public let pooled: Tensor
    /// `text_embeds` [B, P] = text_projection(pooled), for models with a projection (SDXL's
    /// `text_embeds` from the bigG encoder).
    public let projected: Tensor?
    /// The pooled position of each row.
    public let poolIndices: [Int]
}

/// transformers' CLIPTextModel / CLIPTextModelWithProjection on the CPU: token plus position
/// embedding, causal pre-LN layers (the CLIP vision tower's `CLIPEncoderLayer`), final LayerNorm.
public final class CLIPTextModel: Model {
    public let config: CLIPTextConfig
    public let context: ComputeContext
    let tokenEmbedding: Tensor
    let positionEmbedding: Tensor
    let layers: [CLIPEncoderLayer]
    let finalNorm: LayerNormLayer
    let projection: LinearLayer?

    /// `weights` holds the HF names (`text_model.*`, `text_projection.weight`).
    public init(config c: CLIPTextConfig, weights: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        let w = weights.scoped("text_model"), d = c.hiddenSize
        tokenEmbedding = try w.tensor("embeddings.token_embedding.weight", shape: [c.vocabSize, d])
        positionEmbedding = try w.tensor("embeddings.position_embedding.weight", shape: [c.maxPositions, d])
        layers = try (0..<c.layers).map {
            try CLIPEncoderLayer(w.scoped("encoder.layers.\($0)"), hidden: d, intermediate: c.intermediateSize, heads: c.heads,
                                 eps: c.layerNormEps, hiddenAct: c.hiddenAct, causal: true)
        }
        finalNorm = try LayerNormLayer(w, "final_layer_norm", d, eps: Float(c.layerNormEps))
        projection = try c.projectionDim.map { try LinearLayer(weights, "text_projection", out: $0, in: d, bias: false) }
    }

    public var family: String { CLIPTextConfig.family }
    /// Token ids arrive as a [B, N] tensor, not an image: no channels to check.
    public var inputChannels: Int { 1 }
    public var outputKind: ModelOutputKind { .tokens }
    public var minimumSide: Int { 1 }
    public var tiling: TilingSupport { .unsupported("a text encoder takes token ids, not an image") }

    /// The tokenizer that goes with these weights (its pad token is the config's).
    public func tokenizer(mergesText: [UInt8], source: String) throws -> CLIPTokenizer {
        try CLIPTokenizer(mergesText: mergesText, padToken: config.padToken, contextLength: config.maxPositions, source: source)
    }

    /// The encoder's outputs for rows of token ids (one length, at most `max_position_embeddings`).
    public func encode(ids: [[Int32]], progress: ProgressHandler? = nil) throws -> CLIPTextOutput {
        let b = ids.count, d = config.hiddenSize
        guard b >= 1, let n = ids.first?.count, n >= 1 else { throw ModelError("\(family): no token ids to encode") }
        guard ids.allSatisfy({ $0.count == n }) else { throw ModelError("\(family): token rows differ in length \(ids.map(\.count))") }
        guard n <= config.maxPositions else {
            throw ModelError("\(family): \(n) tokens per row, the model has \(config.maxPositions) positions")
        }
        if let bad = ids.joined().first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw ModelError("\(family): token id \(bad) is outside the vocabulary of \(config.vocabSize)")
        }
        let ctx = context
        var h = try ctx.empty([b, n, d])
        let out = h.mutablePointer, tok = tokenEmbedding.pointer, pos = positionEmbedding.pointer
        for (r, row) in ids.enumerated() {
            for (t, id) in row.enumerated() {
                let dst = out + (r * n + t) * d, e = tok + Int(id) * d, p = pos + t * d
                for j in 0..<d { dst[j] = e[j] + p[j] }
            }
        }
        var penultimate = h
        for (i, layer) in layers.enumerated() {
            h = try layer(ctx, h)
            if i == layers.count - 2 { penultimate = h }
            progress?(i + 1, layers.count)
        }
        let last = try finalNorm(ctx, h)
        let indices = ids.map(poolIndex)
        let pooled = try ctx.empty([b, d])
        for (r, t) in indices.enumerated() {
            (pooled.mutablePointer + r * d).update(from: last.pointer + (r * n + t) * d, count: d)
        }
        let projected = try projection.map { try $0(ctx, pooled) }
        return CLIPTextOutput(penultimate: penultimate, lastHidden: last, pooled: pooled, projected: projected, poolIndices: indices)
    }

    /// transformers' rule: with `eos_token_id` 2 (the original CLIP configs) the argmax of the
    /// ids (the first highest, <|endoftext|> 49407); otherwise the first position holding
    /// `eos_token_id` (position 0 when there is none, as torch's argmax of an all-false row).
    func poolIndex(_ row: [Int32]) -> Int {
        if config.eosTokenID == 2 {
            var best = 0
            for (i, id) in row.enumerated() where id > row[best] { best = i }
            return best
        }
        return row.firstIndex(of: Int32(config.eosTokenID)) ?? 0
    }

    /// Token ids as a float tensor [B, N] (whole numbers) → `penultimate` [B, N, D], what SDXL uses.
    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkAux(aux)
        guard input.rank == 2 else { throw ModelError("\(family) expects token ids [B, N], got shape \(input.shape)") }
        let (b, n) = (input.shape[0], input.shape[1])
        var rows = [[Int32]](repeating: [], count: b)
        for r in 0..<b {
            for t in 0..<n {
                let v = input.pointer[r * n + t]
                guard v == v.rounded(), abs(v) < 16_777_216 else { throw ModelError("\(family): token id \(v) is not a whole number") }
                rows[r].append(Int32(v))
            }
        }
        return try encode(ids: rows, progress: progress).penultimate
    }
}
