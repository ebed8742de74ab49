import IRRuntime
import IRRegistry

/// One pre-LN encoder layer of CLIP (HF `CLIPEncoderLayer`, vision and text towers alike):
/// `h += out_proj(MHA(layer_norm1(h)))`, then `h += fc2(act(fc1(layer_norm2(h))))`. The text
/// tower attends causally (each token sees itself and the tokens before it).
struct CLIPEncoderLayer {
    let heads: Int
    let scale: Float
    let causal: Bool
    let activation: Activation
    let norm1: LayerNormLayer, norm2: LayerNormLayer
    let q: LinearLayer, k: LinearLayer, v: LinearLayer, out: LinearLayer
    let fc1: LinearLayer, fc2: LinearLayer

    init(_ w: Weights, config c: CLIPVisionConfig) throws {
        try self.init(w, hidden: c.hiddenSize, intermediate: c.intermediateSize, heads: c.heads,
                      eps: c.layerNormEps, hiddenAct: c.hiddenAct, causal: false)
    }

    init(_ w: Weights, hidden d: Int, intermediate: Int, heads: Int, eps: Double, hiddenAct: String, causal: Bool) throws {
        self.heads = heads
        self.causal = causal
        scale = Float(1 / Double(d / heads).squareRoot())
        activation = hiddenAct == "gelu" ? .gelu : .quickGELU
        norm1 = try LayerNormLayer(w, "layer_norm1", d, eps: Float(eps))
        norm2 = try LayerNormLayer(w, "layer_norm2", d, eps: Float(eps))
        q = try LinearLayer(w, "self_attn.q_proj", out: d, in: d, bias: true)
        k = try LinearLayer(w, "self_attn.k_proj", out: d, in: d, bias: true)
        v = try LinearLayer(w, "self_attn.v_proj", out: d, in: d, bias: true)
        out = try LinearLayer(w, "self_attn.out_proj", out: d, in: d, bias: true)
        fc1 = try LinearLayer(w, "mlp.fc1", out: intermediate, in: d, bias: true)
        fc2 = try LinearLayer(w, "mlp.fc2", out: d, in: intermediate, bias: true)
    }

    func callAsFunction(_ ctx: ComputeContext, _ input: Tensor) throws -> Tensor {
        let n = try norm1(ctx, input)
        let a = try ctx.multiHeadAttention(q: try q(ctx, n), k: try k(ctx, n), v: try v(ctx, n), heads: heads, scale: scale,
                                           causal: causal)
        let h = try ctx.add(input, try out(ctx, a))
        let m = try fc2(ctx, try ctx.activation(try fc1(ctx, try norm2(ctx, h)), activation))
        return try ctx.add(h, m)
    }
}

/// The CLIP ViT vision tower in HF naming (`embeddings.*`, `pre_layrnorm`, `encoder.layers.N.*`),
/// returning `last_hidden_state`: the last layer's output for every token (CLS first), without
/// `post_layernorm` (HF applies that to the pooled CLS token only) and without any projection.
/// `pooled` gives the image embedding instead (CLS → post LayerNorm → projection, no L2 norm):
/// open_clip's `VisionTransformer` output, which DA-CLIP's controller in UniRestorer returns.
/// OpenAI's and open_clip's layouts reach the same names through the registry's key mapping.
struct CLIPVisionTower {
    let config: CLIPVisionConfig
    let patchEmbedding: Tensor
    let classEmbedding: Tensor
    let positionEmbedding: Tensor
    let preNorm: LayerNormLayer
    let layers: [CLIPEncoderLayer]
    let postNorm: LayerNormLayer

    /// `w` is scoped to the tower (`vision_model`, or `clip_model.vision_model` inside SE-SymUNet).
    init(_ w: Weights, config c: CLIPVisionConfig) throws {
        config = c
        let d = c.hiddenSize
        patchEmbedding = try w.tensor("embeddings.patch_embedding.weight", shape: [d, c.channels, c.patchSize, c.patchSize])
        classEmbedding = try w.tensor("embeddings.class_embedding", shape: [d])
        positionEmbedding = try w.tensor("embeddings.position_embedding.weight", shape: [c.tokens, d])
        preNorm = try LayerNormLayer(w, "pre_layrnorm", d, eps: Float(c.layerNormEps))
        layers = try (0..<c.layers).map { try CLIPEncoderLayer(w.scoped("encoder.layers.\($0)"), config: c) }
        postNorm = try LayerNormLayer(w, "post_layernorm", d, eps: Float(c.layerNormEps))
    }

    /// last_hidden_state [B, N, D] → the CLS token after `post_layernorm`, times `projection`ᵀ
    /// ([P, D], nn.Linear layout; open_clip's `x @ proj` arrives transposed) → [B, P].
    func pooled(_ ctx: ComputeContext, hidden: Tensor, projection: Tensor) throws -> Tensor {
        let (b, n, d) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
        let cls = try ctx.empty([b, d])
        for i in 0..<b { (cls.mutablePointer + i * d).update(from: hidden.pointer + i * n * d, count: d) }
        return try ctx.linear(try postNorm(ctx, cls), weight: projection)
    }

    /// Normalised pixels [B, C, S, S] → last_hidden_state [B, 1 + (S/p)², D].
    func encode(_ ctx: ComputeContext, pixels: Tensor, step: () -> Void = {}) throws -> Tensor {
        let s = config.imageSize
        guard pixels.rank == 4, pixels.shape[1] == config.channels, pixels.shape[2] == s, pixels.shape[3] == s else {
            throw ModelError("CLIP vision tower expects pixels [B, \(config.channels), \(s), \(s)], got \(pixels.shape)")
        }
        let b = pixels.shape[0], d = config.hiddenSize, g = config.gridSize
        let patches = try ctx.conv2d(pixels, weight: patchEmbedding, stride: Size2(config.patchSize))
        let patchTokens = try ctx.transpose(try patches.reshaped([b, d, g * g]), 1, 2)
        let cls = try ctx.empty([b, 1, d])
        for i in 0..<b { (cls.mutablePointer + i * d).update(from: classEmbedding.pointer, count: d) }
        var h = try ctx.add(try ctx.concat([cls, patchTokens], dim: 1), positionEmbedding)
        h = try preNorm(ctx, h)
        for layer in layers {
            h = try layer(ctx, h)
            step()
        }
        return h
    }
}

/// The CLIP ViT vision tower as a model of its own (`clip-vit-l-14`): an RGB image in [0, 1] of
/// any size in, SE-SymUNet's preprocessing, `last_hidden_state` [B, N, D] out.
public final class CLIPVisionModel: Model {
    public let config: CLIPVisionConfig
    public let context: ComputeContext
    public let preprocess: CLIPPreprocess
    let tower: CLIPVisionTower

    /// `weights` holds the HF names (`vision_model.*`; a projection, if any, is not used).
    public init(config: CLIPVisionConfig, weights: Weights, context: ComputeContext = ComputeContext()) throws {
        try config.validate()
        self.config = config
        self.context = context
        preprocess = CLIPPreprocess(size: config.imageSize)
        tower = try CLIPVisionTower(weights.scoped("vision_model"), config: config)
    }

    public var family: String { CLIPVisionConfig.family }
    public var inputChannels: Int { config.channels }
    public var outputKind: ModelOutputKind { .tokens }
    public var minimumSide: Int { 1 }
    public var tiling: TilingSupport {
        .unsupported("the CLIP vision tower resizes the whole image to \(config.imageSize) px and returns tokens, not an image")
    }

    /// The preprocessed pixels [B, C, S, S] exactly as they enter the tower.
    public func pixels(_ image: Tensor) throws -> Tensor {
        try checkImageInput(image)
        return try preprocess(context, image)
    }

    /// last_hidden_state for already preprocessed pixels [B, C, S, S].
    public func encode(pixels: Tensor, progress: ProgressHandler? = nil) throws -> Tensor {
        var done = 0
        return try tower.encode(context, pixels: pixels) {
            done += 1
            progress?(done, config.layers)
        }
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkAux(aux)
        return try encode(pixels: try pixels(input), progress: progress)
    }
}
