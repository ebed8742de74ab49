import IRRuntime

/// Sizes of one DAEM block (upstream `DecoderBlock` as FaithDiff's UNet builds it in `full(dim:)`).
public struct DAEMConfig: Sendable, Equatable {
    public var dim: Int
    public var heads: Int
    public var ffnExpansionFactor: Double
    public var rank: Int
    public var experts: Int
    /// Width of the frequency embedding the router reads.
    public var frequencyDim: Int

    public init(dim: Int, heads: Int = 4, ffnExpansionFactor: Double = 4, rank: Int = 2, experts: Int = 4,
                frequencyDim: Int = 1280) {
        self.dim = dim
        self.heads = heads
        self.ffnExpansionFactor = ffnExpansionFactor
        self.rank = rank
        self.experts = experts
        self.frequencyDim = frequencyDim
    }

    /// Upstream's `decoder_moe_blocks.N` at width `dim` (1280, 1280, 640, 320 in the UNet variant).
    public static func full(dim: Int) -> DAEMConfig { DAEMConfig(dim: dim) }
}

/// Restormer's MDTA on one input (`shared`): bias-free 1×1 qkv, 3×3 depthwise, channel attention.
struct ChannelSelfAttention {
    let heads: Int
    let temperature: Tensor
    let qkv: Conv2dLayer, qkvDepthwise: Conv2dLayer, projectOut: Conv2dLayer

    init(_ w: Weights, dim: Int, heads: Int) throws {
        self.heads = heads
        temperature = try w.tensor("temperature", shape: [heads, 1, 1])
        qkv = try Conv2dLayer(w, "qkv", out: 3 * dim, in: dim, kernel: 1, bias: false)
        qkvDepthwise = try Conv2dLayer(w, "qkv_dwconv", out: 3 * dim, in: 3 * dim, kernel: 3, padding: 1, groups: 3 * dim, bias: false)
        projectOut = try Conv2dLayer(w, "project_out", out: dim, in: dim, kernel: 1, bias: false)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        let m = try qkvDepthwise(ctx, try qkv(ctx, x))
        let parts = try ctx.chunk(m, 3, dim: 1)
        return try projectOut(ctx, try ctx.channelAttention(q: parts[0], k: parts[1], v: parts[2], temperature: temperature, heads: heads))
    }
}

/// The `mixer`: MDTA-style cross attention, q from x (1×1 + 3×3 depthwise), k and v from y
/// (1×1 + 7×7 depthwise), all bias-free.
struct ChannelCrossAttention {
    let heads: Int
    let temperature: Tensor
    let q: Conv2dLayer, qDepthwise: Conv2dLayer, kv: Conv2dLayer, kvDepthwise: Conv2dLayer, projectOut: Conv2dLayer

    init(_ w: Weights, dim: Int, heads: Int) throws {
        self.heads = heads
        temperature = try w.tensor("temperature", shape: [heads, 1, 1])
        q = try Conv2dLayer(w, "q", out: dim, in: dim, kernel: 1, bias: false)
        qDepthwise = try Conv2dLayer(w, "q_dwconv", out: dim, in: dim, kernel: 3, padding: 1, groups: dim, bias: false)
        kv = try Conv2dLayer(w, "kv", out: 2 * dim, in: dim, kernel: 1, bias: false)
        kvDepthwise = try Conv2dLayer(w, "kv_dwconv", out: 2 * dim, in: 2 * dim, kernel: 7, padding: 3, groups: 2 * dim, bias: false)
        projectOut = try Conv2dLayer(w, "project_out", out: dim, in: dim, kernel: 1, bias: false)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, _ y: Tensor) throws -> Tensor {
        let query = try qDepthwise(ctx, try q(ctx, x))
        let kvMap = try ctx.chunk(try kvDepthwise(ctx, try kv(ctx, y)), 2, dim: 1)
        return try projectOut(ctx, try ctx.channelAttention(q: query, k: kvMap[0], v: kvMap[1], temperature: temperature, heads: heads))
    }
}

/// One DAEM block (upstream `DecoderBlock` in FaithDiff/models/moe.py), on [B, dim, H, W]:
///
///     y = LN0(x);  s = shared(proj0(y));  a = adapter(proj1(y), freq_emb, s)
///     x = mixer(a, s) + x;  x = x + GDFN(LN1(x))
///
/// LN: Restormer WithBias channel LayerNorm (eps 1e-5); GDFN bias-free with expansion 4.
/// Reconstruction note: the block is implemented standalone. The paper puts DAEM in the VAE
/// decoder fed by skip-connected encoder features, but no public code does (the only code wires
/// these blocks into the UNet, disabled), so where it sits and what it reads is unknown.
public final class DAEMBlock {
    public let config: DAEMConfig
    let norm0Weight: Tensor, norm0Bias: Tensor, norm1Weight: Tensor, norm1Bias: Tensor
    let sharedProjection: Conv2dLayer, adapterProjection: Conv2dLayer
    let shared: ChannelSelfAttention
    let mixer: ChannelCrossAttention
    let ffn: GatedDconvFeedForward
    let adapter: DAEMAdapter

    public init(_ w: Weights, config c: DAEMConfig) throws {
        guard c.dim % c.heads == 0 else { throw ModelError("DAEM: \(c.dim) channels do not split into \(c.heads) heads") }
        config = c
        norm0Weight = try w.tensor("norms.0.body.weight", shape: [c.dim])
        norm0Bias = try w.tensor("norms.0.body.bias", shape: [c.dim])
        norm1Weight = try w.tensor("norms.1.body.weight", shape: [c.dim])
        norm1Bias = try w.tensor("norms.1.body.bias", shape: [c.dim])
        sharedProjection = try Conv2dLayer(w, "proj.0", out: c.dim, in: c.dim, kernel: 1, bias: true)
        adapterProjection = try Conv2dLayer(w, "proj.1", out: c.dim, in: c.dim, kernel: 1, bias: true)
        shared = try ChannelSelfAttention(w.scoped("shared"), dim: c.dim, heads: c.heads)
        mixer = try ChannelCrossAttention(w.scoped("mixer"), dim: c.dim, heads: c.heads)
        ffn = try GatedDconvFeedForward(w.scoped("ffn"), channels: c.dim, expansionFactor: c.ffnExpansionFactor, bias: false)
        adapter = try DAEMAdapter(w.scoped("adapter"), dim: c.dim, rank: c.rank, experts: c.experts, frequencyDim: c.frequencyDim)
    }

    /// The shared (MDTA) and adapter (routed expert) branches before the mixer, and the expert
    /// each sample was routed to. The adapter output carries the routing probability as a factor;
    /// the block output does not (the mixer L2-normalises its bias-free query), so tests read it here.
    public func branches(_ ctx: ComputeContext, _ x: Tensor, frequencyEmbedding f: Tensor) throws -> (shared: Tensor, adapter: Tensor, experts: [Int]) {
        let y = try ctx.channelLayerNorm(x, weight: norm0Weight, bias: norm0Bias, eps: 1e-5)
        let s = try shared(ctx, try sharedProjection(ctx, y))
        let (a, experts) = try adapter(ctx, try adapterProjection(ctx, y), frequencyEmbedding: f, shared: s)
        return (s, a, experts)
    }

    /// x: [B, dim, H, W]; frequencyEmbedding: [B, frequencyDim]. Returns the block's output and
    /// the expert each sample was routed to.
    public func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, frequencyEmbedding f: Tensor) throws -> (output: Tensor, experts: [Int]) {
        guard x.rank == 4, x.shape[1] == config.dim else {
            throw ModelError("DAEM block expects [B, \(config.dim), H, W], got \(x.shape)")
        }
        guard f.shape == [x.shape[0], config.frequencyDim] else {
            throw ModelError("DAEM block expects a frequency embedding [\(x.shape[0]), \(config.frequencyDim)], got \(f.shape)")
        }
        let (s, a, experts) = try branches(ctx, x, frequencyEmbedding: f)
        let mixed = try ctx.add(try mixer(ctx, a, s), x)
        let n = try ctx.channelLayerNorm(mixed, weight: norm1Weight, bias: norm1Bias, eps: 1e-5)
        return (try ctx.add(mixed, try ffn(ctx, n)), experts)
    }
}

/// `FrequencyEmbedding(dim)` (upstream `moefreq_embed`): mean over pixels of GELU(3×3 depthwise
/// Laplacian(x)), then Linear dim → 2·dim, GELU, Linear → dim. The Laplacian kernel is a
/// parameter (trainable upstream despite the intent), read from the weights.
public struct DAEMFrequencyEmbedding {
    public let dim: Int
    let highPass: Conv2dLayer
    let mlpIn: LinearLayer, mlpOut: LinearLayer

    public init(_ w: Weights, dim: Int) throws {
        self.dim = dim
        highPass = try Conv2dLayer(w, "high_conv.0.conv", out: dim, in: dim, kernel: 3, padding: 1, groups: dim, bias: false)
        mlpIn = try LinearLayer(w, "mlp.0", out: 2 * dim, in: dim, bias: true)
        mlpOut = try LinearLayer(w, "mlp.2", out: dim, in: 2 * dim, bias: true)
    }

    /// x: [B, dim, H, W] → [B, dim].
    public func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        guard x.rank == 4, x.shape[1] == dim else {
            throw ModelError("frequency embedding expects [B, \(dim), H, W], got \(x.shape)")
        }
        let pooled = try ctx.adaptiveAvgPool2d(try ctx.gelu(try highPass(ctx, x)), outputSize: 1).reshaped([x.shape[0], dim])
        return try mlpOut(ctx, try ctx.gelu(try mlpIn(ctx, pooled)))
    }
}
