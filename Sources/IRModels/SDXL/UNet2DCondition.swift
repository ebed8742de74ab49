import IRRuntime
import IRRegistry

/// What the SDXL UNet is conditioned on besides the noisy latent.
public struct SDXLConditioning {
    /// One timestep per batch item, or one for the whole batch.
    public var timesteps: [Float]
    /// [B, tokens, cross_attention_dim]: concat of both text encoders' penultimate hidden states.
    public var encoderHiddenStates: Tensor
    /// [B, text_embeds_dim]: the pooled, projected text embedding of the second text encoder.
    public var textEmbeds: Tensor
    /// [B, 6]: original size (h, w), crop top-left (y, x), target size (h, w).
    public var timeIds: Tensor

    public init(timesteps: [Float], encoderHiddenStates: Tensor, textEmbeds: Tensor, timeIds: Tensor) {
        self.timesteps = timesteps
        self.encoderHiddenStates = encoderHiddenStates
        self.textEmbeds = textEmbeds
        self.timeIds = timeIds
    }
}

/// diffusers `TimestepEmbedding`: linear_1 → SiLU → linear_2.
struct TimestepMLP {
    let linear1: LinearLayer, linear2: LinearLayer

    init(_ w: Weights, _ name: String, in inFeatures: Int, out: Int) throws {
        linear1 = try LinearLayer(w, name + ".linear_1", out: out, in: inFeatures, bias: true)
        linear2 = try LinearLayer(w, name + ".linear_2", out: out, in: out, bias: true)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try linear2(ctx, try ctx.silu(try linear1(ctx, x)))
    }
}

/// SDXL's UNet (diffusers `UNet2DConditionModel`, text_time added conditioning), exactly as
/// diffusers 0.42 computes it in float32: noise prediction for a latent at a timestep.
///
/// `run` takes the latent as input and the conditioning as aux inputs `timestep` ([1] or [B]),
/// `encoder_hidden_states`, `text_embeds`, `time_ids`; `predict` is the typed entry point.
public final class SDXLUNetModel: Model {
    public let config: SDXLUNetConfig
    public let context: ComputeContext

    struct DownLevel {
        let resnets: [ResnetBlock2D]
        let attentions: [SpatialTransformer]
        let down: Downsample2D?
    }

    struct UpLevel {
        let resnets: [ResnetBlock2D]
        let attentions: [SpatialTransformer]
        let up: Upsample2D?
    }

    let convIn: Conv2dLayer
    let timeEmbedding: TimestepMLP
    let addEmbedding: TimestepMLP
    let downs: [DownLevel]
    let midResnets: [ResnetBlock2D]
    let midAttention: SpatialTransformer
    let ups: [UpLevel]
    let normOut: GroupNormLayer
    let convOut: Conv2dLayer

    public init(config c: SDXLUNetConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        let g = c.normNumGroups, eps = Float(c.normEps), temb = c.timeEmbedDim, L = c.layersPerBlock
        let c0 = c.blockOutChannels[0], n = c.levels
        convIn = try Conv2dLayer(w, "conv_in", out: c0, in: c.inChannels, kernel: 3, padding: 1, bias: true)
        timeEmbedding = try TimestepMLP(w, "time_embedding", in: c0, out: temb)
        addEmbedding = try TimestepMLP(w, "add_embedding", in: c.projectionClassEmbeddingsInputDim, out: temb)
        func transformer(_ name: String, _ ch: Int, depth: Int, heads: Int) throws -> SpatialTransformer {
            try SpatialTransformer(w, name, channels: ch, depth: depth, heads: heads, contextDim: c.crossAttentionDim, groups: g, eps: eps)
        }
        var prev = c0
        var downs = [DownLevel]()
        for (i, ch) in c.blockOutChannels.enumerated() {
            let s = "down_blocks.\(i)"
            let resnets = try (0..<L).map {
                try ResnetBlock2D(w, "\(s).resnets.\($0)", in: $0 == 0 ? prev : ch, out: ch, groups: g, eps: eps, tembChannels: temb)
            }
            let attentions = c.hasAttention(down: i) ? try (0..<L).map {
                try transformer("\(s).attentions.\($0)", ch, depth: c.transformerLayersPerBlock[i], heads: c.attentionHeadDim[i])
            } : []
            let down = i < n - 1 ? try Downsample2D(w, "\(s).downsamplers.0", channels: ch, asymmetricPad: false) : nil
            downs.append(DownLevel(resnets: resnets, attentions: attentions, down: down))
            prev = ch
        }
        self.downs = downs
        let top = c.blockOutChannels[n - 1]
        midResnets = try (0..<2).map {
            try ResnetBlock2D(w, "mid_block.resnets.\($0)", in: top, out: top, groups: g, eps: eps, tembChannels: temb)
        }
        midAttention = try transformer("mid_block.attentions.0", top, depth: c.transformerLayersPerBlock[n - 1], heads: c.attentionHeadDim[n - 1])
        let rev = Array(c.blockOutChannels.reversed())
        var ups = [UpLevel]()
        for i in 0..<n {
            let s = "up_blocks.\(i)", out = rev[i], input = rev[min(i + 1, n - 1)], prevOut = i == 0 ? rev[0] : rev[i - 1]
            let resnets = try (0...L).map { j in
                try ResnetBlock2D(w, "\(s).resnets.\(j)", in: (j == 0 ? prevOut : out) + (j == L ? input : out), out: out,
                                  groups: g, eps: eps, tembChannels: temb)
            }
            let attentions = c.hasAttention(up: i) ? try (0...L).map {
                try transformer("\(s).attentions.\($0)", out, depth: c.transformerLayersPerBlock[n - 1 - i], heads: c.attentionHeadDim[n - 1 - i])
            } : []
            let up = i < n - 1 ? try Upsample2D(w, "\(s).upsamplers.0", channels: out) : nil
            ups.append(UpLevel(resnets: resnets, attentions: attentions, up: up))
        }
        self.ups = ups
        normOut = try GroupNormLayer(w, "conv_norm_out", channels: c0, groups: g, eps: eps)
        convOut = try Conv2dLayer(w, "conv_out", out: c.outChannels, in: c0, kernel: 3, padding: 1, bias: true)
    }

    public var family: String { SDXLUNetConfig.family }
    public var inputChannels: Int { config.inChannels }
    public var minimumSide: Int { 1 }
    public static let auxNames = ["timestep", "encoder_hidden_states", "text_embeds", "time_ids"]
    public var auxInputNames: [String] { Self.auxNames }
    public var tiling: TilingSupport {
        .unsupported("each latent tile needs its own time_ids (crop position), which a generic tiler cannot supply; tile in the sampler")
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkAux(aux)
        func need(_ name: String) throws -> Tensor {
            guard let t = aux[name] else { throw ModelError("sdxl-unet needs the aux input '\(name)' (it takes \(Self.auxNames.joined(separator: ", ")))") }
            return t
        }
        let cond = SDXLConditioning(timesteps: try need("timestep").scalars, encoderHiddenStates: try need("encoder_hidden_states"),
                                    textEmbeds: try need("text_embeds"), timeIds: try need("time_ids"))
        return try predict(input, cond, progress: progress)
    }

    /// The time embedding plus the text_time added embedding: [B, time_embed_dim].
    func embedding(batch b: Int, _ cond: SDXLConditioning) throws -> Tensor {
        let c = config, ctx = context
        let ts = cond.timesteps.count == 1 ? [Float](repeating: cond.timesteps[0], count: b) : cond.timesteps
        let sinusoid = try ctx.timestepEmbedding(ts, dim: c.blockOutChannels[0], downscaleFreqShift: 0, flipSinToCos: true)
        let temb = try timeEmbedding(ctx, sinusoid)
        let ids = try ctx.timestepEmbedding(cond.timeIds.scalars, dim: c.additionTimeEmbedDim, downscaleFreqShift: 0, flipSinToCos: true)
        let added = try ctx.concat([cond.textEmbeds, try ids.reshaped([b, 6 * c.additionTimeEmbedDim])], dim: 1)
        return try ctx.add(temb, try addEmbedding(ctx, added))
    }

    private func checkConditioning(_ x: Tensor, _ cond: SDXLConditioning) throws {
        let c = config
        guard x.rank == 4, x.shape[0] >= 1, x.shape[1] == c.inChannels, x.shape[2] >= 1, x.shape[3] >= 1 else {
            throw ModelError("sdxl-unet expects a latent [B, \(c.inChannels), h, w], got shape \(x.shape)")
        }
        let b = x.shape[0]
        guard cond.timesteps.count == 1 || cond.timesteps.count == b else {
            throw ModelError("sdxl-unet: \(cond.timesteps.count) timesteps for a batch of \(b) (give 1 or \(b))")
        }
        let e = cond.encoderHiddenStates.shape
        guard e.count == 3, e[0] == b, e[1] >= 1, e[2] == c.crossAttentionDim else {
            throw ModelError("sdxl-unet: encoder_hidden_states must be [\(b), tokens, \(c.crossAttentionDim)], got \(e)")
        }
        guard cond.textEmbeds.shape == [b, c.textEmbedsDim] else {
            throw ModelError("sdxl-unet: text_embeds must be [\(b), \(c.textEmbedsDim)], got \(cond.textEmbeds.shape)")
        }
        guard cond.timeIds.shape == [b, 6] else {
            throw ModelError("sdxl-unet: time_ids must be [\(b), 6], got \(cond.timeIds.shape)")
        }
    }

    /// The noise prediction for `sample` [B, in, h, w] (UNet2DConditionModel(...).sample).
    /// `afterConvIn` rewrites the conv_in output before the down blocks (UniLDiff's DAFF injection).
    public func predict(_ sample: Tensor, _ cond: SDXLConditioning, afterConvIn: ((Tensor) throws -> Tensor)? = nil,
                        progress: ProgressHandler? = nil) throws -> Tensor {
        try checkConditioning(sample, cond)
        let ctx = context, ehs = cond.encoderHiddenStates
        let total = downs.count + 1 + ups.count
        var done = 0
        let step = { done += 1; progress?(done, total) }
        let emb = try embedding(batch: sample.shape[0], cond)
        var h = try convIn(ctx, sample)
        if let afterConvIn { h = try afterConvIn(h) }
        var skips = [h]
        for level in downs {
            for (j, resnet) in level.resnets.enumerated() {
                h = try resnet(ctx, h, temb: emb)
                if !level.attentions.isEmpty { h = try level.attentions[j](ctx, h, context: ehs) }
                skips.append(h)
            }
            if let down = level.down {
                h = try down(ctx, h)
                skips.append(h)
            }
            step()
        }
        h = try midResnets[1](ctx, try midAttention(ctx, try midResnets[0](ctx, h, temb: emb), context: ehs), temb: emb)
        step()
        for level in ups {
            for (j, resnet) in level.resnets.enumerated() {
                let skip = skips.removeLast()
                h = try resnet(ctx, try ctx.concat([h, skip], dim: 1), temb: emb)
                if !level.attentions.isEmpty { h = try level.attentions[j](ctx, h, context: ehs) }
            }
            if let up = level.up {
                // diffusers passes the next skip's size when the side is not a multiple of 2^levels.
                let next = skips[skips.count - 1]
                h = try up(ctx, h, size: Size2(next.shape[2], next.shape[3]))
            }
            step()
        }
        return try convOut(ctx, try ctx.silu(try normOut(ctx, h)))
    }
}
