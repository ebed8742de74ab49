import Foundation
import IRRuntime
import IRRegistry

/// SDXL's VAE (diffusers `AutoencoderKL`), exactly as diffusers 0.42 computes it in float32.
///
/// - `encodeMoments` / `encode`: an image in [−1, 1] → the diagonal Gaussian's mean (the raw latent,
///   not yet × `scalingFactor`), or a sample mean + exp(½·clamp(logvar, −30, 20))·ε with ε drawn
///   from irzoo's own seeded generator (not torch's: samples match diffusers in law, not in value).
/// - `decode`: a raw latent → an image in [−1, 1].
/// - `run` (what `irzoo run` calls), by `mode`: a round trip of an RGB image in [0, 1] (×2−1, encode
///   the mean, decode, /2+0.5 clamped to [0, 1], as diffusers' VaeImageProcessor), or only its
///   encode half (→ mean × scaling_factor) or decode half (÷ scaling_factor →). Sides that are not
///   multiples of 2^(levels−1) (8 for SDXL) are reflect-padded right and bottom and cropped back
///   (the latent to ⌈side/8⌉).
public final class AutoencoderKLModel: Model {
    /// What `run` computes (`irzoo run --vae-mode`).
    public enum Mode: String, CaseIterable, Sendable {
        /// RGB [0, 1] → mean latent → RGB [0, 1].
        case roundtrip
        /// RGB [0, 1] → the diffusion latent: mean × scaling_factor.
        case encode
        /// A diffusion latent (÷ scaling_factor) → RGB [0, 1], clamped.
        case decode
    }

    public let config: SDXLVAEConfig
    public let context: ComputeContext
    public var mode: Mode = .roundtrip
    let encoder: VAEEncoder
    let decoder: VAEDecoder
    let quantConv: Conv2dLayer
    let postQuantConv: Conv2dLayer
    let padding: RightBottomReflectPadding

    public init(config c: SDXLVAEConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        encoder = try VAEEncoder(w, config: c)
        decoder = try VAEDecoder(w, config: c)
        quantConv = try Conv2dLayer(w, "quant_conv", out: 2 * c.latentChannels, in: 2 * c.latentChannels, kernel: 1, bias: true)
        postQuantConv = try Conv2dLayer(w, "post_quant_conv", out: c.latentChannels, in: c.latentChannels, kernel: 1, bias: true)
        padding = RightBottomReflectPadding(multiple: 1 << (c.levels - 1))
    }

    public var family: String { SDXLVAEConfig.family }
    public var inputChannels: Int { mode == .decode ? config.latentChannels : config.inChannels }
    public var minimumSide: Int { mode == .decode ? 1 : padding.minimumSide }
    public var tiling: TilingSupport {
        guard mode == .roundtrip else { return .unsupported("--vae-mode \(mode.rawValue) changes the size by 8; use encodeTiled/decodeTiled") }
        return .approximate("every GroupNorm and the mid-block attention take statistics over the whole feature map, so a tile normalises with its own statistics; seams are blended")
    }
    /// The image size is divided by this to give the latent size.
    public var downsamplingFactor: Int { 1 << (config.levels - 1) }
    public var scalingFactor: Float { Float(config.scalingFactor) }

    /// `quant_conv(encoder(x))`: [B, 2·latent, H/f, W/f], mean channels first, then logvar.
    public func encodeMoments(_ image: Tensor) throws -> Tensor {
        try checkImage(image, channels: config.inChannels, what: "encode")
        guard image.shape[2] % downsamplingFactor == 0 && image.shape[3] % downsamplingFactor == 0 else {
            throw ModelError("sdxl-vae encode needs sides that are multiples of \(downsamplingFactor), got \(image.shape[3])x\(image.shape[2])")
        }
        return try quantConv(context, try encoder(context, image))
    }

    /// The latent distribution's mean (`sample` nil) or a sample drawn with `sample` as the seed.
    public func encode(_ image: Tensor, sample seed: UInt64? = nil) throws -> Tensor {
        let moments = try encodeMoments(image)
        let l = config.latentChannels
        let mean = try context.narrow(moments, dim: 1, start: 0, length: l)
        guard let seed else { return mean }
        let logvar = try context.clamp(try context.narrow(moments, dim: 1, start: l, length: l), min: -30, max: 20)
        let std = try context.map(logvar) { Foundation.exp(0.5 * $0) }
        let noise = try GaussianNoise.tensor(mean.shape, seed: seed)
        return try context.add(mean, try context.mul(std, noise))
    }

    /// A raw latent [B, latent, h, w] (divide a diffusion latent by `scalingFactor` first) → image in [−1, 1].
    public func decode(_ latent: Tensor) throws -> Tensor {
        try checkImage(latent, channels: config.latentChannels, what: "decode")
        return try decoder(context, try postQuantConv(context, latent))
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        let ctx = context
        if mode == .decode {
            let y = try decode(try ctx.mul(input, 1 / scalingFactor))
            progress?(1, 1)
            return try ctx.clamp(try ctx.affine(y, scale: 0.5, shift: 0.5), min: 0, max: 1)
        }
        let x = try ctx.affine(try padding.pad(ctx, input), scale: 2, shift: -1)
        let latent = try encode(x)
        if mode == .encode {
            progress?(1, 1)
            let f = downsamplingFactor
            let z = try ctx.mul(latent, scalingFactor)
            let (h, w) = ((input.shape[2] + f - 1) / f, (input.shape[3] + f - 1) / f)
            return z.shape[2] == h && z.shape[3] == w ? z : try ctx.crop(z, top: 0, left: 0, height: h, width: w)
        }
        progress?(1, 2)
        let y = try ctx.clamp(try ctx.affine(try decode(latent), scale: 0.5, shift: 0.5), min: 0, max: 1)
        progress?(2, 2)
        return try padding.crop(ctx, y, height: input.shape[2], width: input.shape[3])
    }

    private func checkImage(_ x: Tensor, channels: Int, what: String) throws {
        guard x.rank == 4, x.shape[1] == channels, x.shape[0] >= 1, x.shape[2] >= 1, x.shape[3] >= 1 else {
            throw ModelError("sdxl-vae \(what) expects [B, \(channels), H, W], got shape \(x.shape)")
        }
    }
}

/// Standard normal noise from a seed (SplitMix64 + Box–Muller): reproducible across runs and
/// machines, independent of torch's generator.
enum GaussianNoise {
    static func tensor(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var state = seed
        func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return (Double(z >> 11) + 0.5) / Double(1 << 53)
        }
        let n = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: n)
        var i = 0
        while i < n {
            let r = (-2 * Foundation.log(next())).squareRoot(), a = 2 * Double.pi * next()
            values[i] = Float(r * Foundation.cos(a))
            if i + 1 < n { values[i + 1] = Float(r * Foundation.sin(a)) }
            i += 2
        }
        return try Tensor(shape: shape, values: values)
    }
}
