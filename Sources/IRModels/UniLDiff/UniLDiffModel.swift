import IRRuntime
import IRRegistry

/// The prompt pair as token ids, one row of `max_position_embeddings` ids per text encoder
/// (the two pad differently: CLIP-L with <|endoftext|>, bigG with "!").
public struct UniLDiffPromptIDs: Sendable, Equatable {
    public var negative: (clipL: [Int32], bigG: [Int32])
    public var positive: (clipL: [Int32], bigG: [Int32])

    public init(negative: (clipL: [Int32], bigG: [Int32]), positive: (clipL: [Int32], bigG: [Int32])) {
        self.negative = negative
        self.positive = positive
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.negative.clipL == b.negative.clipL && a.negative.bigG == b.negative.bigG
            && a.positive.clipL == b.positive.clipL && a.positive.bigG == b.positive.bigG
    }
}

/// UniLDiff as one restorer (pipeline_FaithDiff_tlc.py, its latent tiling included):
///
///     x = 2·LQ − 1 (reflect-padded right/bottom to the VAE × UNet downsampling)
///     lq = denoise_encoder(x);  z = vae.encode(x).mean · scaling
///     start = DDPM.add_noise(z, noise · init_noise_sigma, 999)
///     text = [negative ""; prompt] through both encoders (penultimate states concatenated,
///            bigG's projected pooled output, time ids (H, W, 0, 0, H, W))
///     N Euler steps of UniLDiffDenoiser (DAFF after conv_in, CFG 5), in latent tiles past 1024 px
///     (the VAE and the LQ encoder in image tiles there too: `latentTile`, `imageTile`)
///     out = (vae.decode(latent / scaling) + 1) / 2, cropped back, unclamped
///
/// `run` reads the prompt, steps and seed from the properties below (`irzoo run --prompt --steps
/// --seed`); the aux input `noise` replaces the seeded draw (goldens feed torch's noise). DAEM is
/// not part of the pipeline: where it sits in the decoder is not known (docs/UNILDIFF.md).
public final class UniLDiffModel: Model {
    public let config: UniLDiffConfig
    public let context: ComputeContext
    public let vae: AutoencoderKLModel
    public let lqEncoder: UniLDiffLQEncoder
    public let textEncoder: CLIPTextModel
    public let textEncoder2: CLIPTextModel
    public let denoiser: UniLDiffDenoiser
    let padding: RightBottomReflectPadding

    /// Token ids of the negative and positive prompt; nil runs with both prompts empty, which
    /// needs no tokenizer ("" is <|startoftext|> <|endoftext|> then padding).
    public var prompt: UniLDiffPromptIDs?
    public var steps = 20
    public var seed: UInt64 = 0
    /// The upstream default start point, t = 999.
    public var startTimestep = 999
    /// Latent tile side for the tiled sampling (upstream's 1024-pixel tiles: 128 latent pixels),
    /// overlap 0.5 (`LatentTileGrid`). A latent that fits one tile samples whole.
    public var latentTile = 128
    /// Images with a side over this many pixels run the VAE encoder, the LQ encoder and the VAE
    /// decoder in tiles of this size (overlap `imageTileOverlap`, linear ramps, `TiledInference.blend`),
    /// so no activation is larger than a tile's. Both multiples of the VAE's downsampling factor.
    public var imageTile = 1024
    public var imageTileOverlap = 128

    public static let noiseAuxName = "noise"

    public init(config c: UniLDiffConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try c.validate()
        config = c
        self.context = context
        let p = UniLDiffConfig.prefixes
        vae = try AutoencoderKLModel(config: c.vae, weights: w.scoped(p.vae), context: context)
        lqEncoder = try UniLDiffLQEncoder(w.scoped(p.lqEncoder), config: c.vae)
        textEncoder = try CLIPTextModel(config: c.textEncoder, weights: w.scoped(p.textEncoder), context: context)
        textEncoder2 = try CLIPTextModel(config: c.textEncoder2, weights: w.scoped(p.textEncoder2), context: context)
        let unet = try SDXLUNetModel(config: c.unet, weights: w.scoped(p.unet), context: context)
        let daffConfig = DAFFConfig(latentChannels: c.latentWidth, conditioningChannels: c.conditioningChannels,
                                    hidden: c.daff.hiddenSize, heads: c.daff.numHeads, mlpRatio: c.daff.mlpRatio,
                                    doubleBlocks: c.daff.depth, singleBlocks: c.daff.depthSingleBlocks)
        denoiser = try UniLDiffDenoiser(unet: unet, daff: try DAFFInjection(w.scoped(p.unet), config: daffConfig))
        padding = RightBottomReflectPadding(multiple: (1 << (c.vae.levels - 1)) * (1 << (c.unet.levels - 1)))
    }

    public var family: String { UniLDiffConfig.family }
    public var inputChannels: Int { config.vae.inChannels }
    public var minimumSide: Int { padding.minimumSide }
    public var auxInputNames: [String] { [Self.noiseAuxName] }
    public var tiling: TilingSupport {
        .unsupported("UniLDiff tiles itself: it samples in latent tiles of \(latentTile * vae.downsamplingFactor) px, as upstream does, and runs its VAE in tiles of \(imageTile) px")
    }

    /// Memory: one pass's activations stop growing at a tile (the VAE's and the UNet's); what
    /// grows with the image is the whole latent, the LQ feature and the blend sums at 1/f².
    public func activePixels(height: Int, width: Int) -> Int {
        let side = min(imageTile, latentTile * vae.downsamplingFactor)
        return min(height, side) * min(width, side)
    }

    public var wholeImageBytesPerPixel: Int {
        let f = vae.downsamplingFactor
        // LQ feature (and its tile blend) + latent, its blend sums and the noise, in float32.
        return (2 * config.vae.blockOutChannels[config.vae.levels - 1] + 6 * config.vae.latentChannels) * 4 / (f * f) + 1
    }

    /// The memory probe runs one Euler step: a pass's buffers are the same for every step.
    public func memoryProbe(_ x: Tensor) throws {
        let kept = steps
        steps = 1
        defer { steps = kept }
        _ = try run(x, aux: [:], progress: nil)
    }

    /// Sets `prompt` from text with CLIP's BPE merges (each encoder's own pad token).
    public func setPrompt(_ text: String, negative: String = "", mergesText: [UInt8], source: String) throws {
        let t1 = try textEncoder.tokenizer(mergesText: mergesText, source: source)
        let t2 = try textEncoder2.tokenizer(mergesText: mergesText, source: source)
        prompt = UniLDiffPromptIDs(negative: (t1.encodePadded(negative), t2.encodePadded(negative)),
                                   positive: (t1.encodePadded(text), t2.encodePadded(text)))
    }

    /// The empty prompt's ids without a tokenizer: start, end, then the encoder's pad id.
    func emptyIDs(_ m: CLIPTextModel) -> [Int32] {
        let pad: Int32 = m.config.padToken == "!" ? 0 : CLIPTokenizer.endOfText
        return [CLIPTokenizer.startOfText, CLIPTokenizer.endOfText] + Array(repeating: pad, count: m.config.maxPositions - 2)
    }

    /// SDXL's conditioning for [negative; positive] at an image of height × width.
    public func textConditioning(height: Int, width: Int) throws -> SDXLConditioning {
        let ids = prompt ?? UniLDiffPromptIDs(negative: (emptyIDs(textEncoder), emptyIDs(textEncoder2)),
                                              positive: (emptyIDs(textEncoder), emptyIDs(textEncoder2)))
        let a = try textEncoder.encode(ids: [ids.negative.clipL, ids.positive.clipL])
        let b = try textEncoder2.encode(ids: [ids.negative.bigG, ids.positive.bigG])
        guard let pooled = b.projected else { throw ModelError("unildiff: text_encoder_2 has no text_projection") }
        let hidden = try context.concat([a.penultimate, b.penultimate], dim: 2)
        let (h, w) = (Float(height), Float(width))
        let timeIds = try Tensor(shape: [2, 6], values: Array(repeating: [h, w, 0, 0, h, w], count: 2).flatMap { $0 })
        return SDXLConditioning(timesteps: [], encoderHiddenStates: hidden, textEmbeds: pooled, timeIds: timeIds)
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkAux(aux)
        guard input.rank == 4, input.shape[0] == 1, input.shape[1] == inputChannels else {
            throw ModelError("unildiff restores one RGB image [1, \(inputChannels), H, W] at a time, got shape \(input.shape)")
        }
        let ctx = context
        let x = try ctx.affine(try padding.pad(ctx, input), scale: 2, shift: -1)
        let f = vae.downsamplingFactor
        guard imageTile % f == 0, imageTileOverlap % f == 0, imageTileOverlap >= 0, imageTileOverlap < imageTile else {
            throw ModelError("unildiff: image tiles of \(imageTile) px with overlap \(imageTileOverlap) px must be multiples of \(f), the overlap smaller")
        }
        let pixelTiles = try TilePlan(tile: imageTile, overlap: imageTileOverlap)
        let lqFeature = try TiledInference.blend(x, plan: pixelTiles, scaleDown: f, context: ctx, what: "unildiff LQ encoder") {
            try self.lqEncoder(ctx, $0)
        }
        let latent = try ctx.mul(try vae.encodeTiled(x, plan: pixelTiles), vae.scalingFactor)
        let sampler = try EulerDiscreteSampler(steps: steps)
        let start: Tensor
        if let noise = aux[Self.noiseAuxName] {
            guard noise.shape == latent.shape else {
                throw ModelError("aux noise has shape \(noise.shape), the latent of this image is \(latent.shape)")
            }
            start = try sampler.startFromLowQuality(ctx, lqLatent: latent, noise: noise, timestep: startTimestep)
        } else {
            start = try sampler.startFromLowQuality(ctx, lqLatent: latent, seed: seed, timestep: startTimestep)
        }
        let (height, width) = (x.shape[2], x.shape[3])
        let text = try textConditioning(height: height, width: width)
        let grid = try LatentTileGrid(height: latent.shape[2], width: latent.shape[3], tile: latentTile)
        let restored: Tensor
        if grid.isSingleTile {
            restored = try denoiser.sample(ctx, sampler: sampler, from: start, text: text, lqFeature: lqFeature,
                                           progress: progress.map { p in { p($0, $1) } })
        } else {
            // Upstream's per-tile micro-conditioning: the image size, the tile's origin in latent
            // pixels (sic) as the crop, the nominal tile size in pixels as the target.
            let target = Float(latentTile * f)
            restored = try denoiser.sampleTiled(ctx, sampler: sampler, from: start, text: text, lqFeature: lqFeature, grid: grid,
                                                timeIds: { top, left in
                let row: [Float] = [Float(height), Float(width), Float(top), Float(left), target, target]
                return try Tensor(shape: [2, 6], values: row + row)
            }, progress: progress.map { p in { p($0, $1) } })
        }
        let latentTiles = try TilePlan(tile: imageTile / f, overlap: imageTileOverlap / f)
        let y = try vae.decodeTiled(try ctx.mul(restored, 1 / vae.scalingFactor), plan: latentTiles)
        return try padding.crop(ctx, try ctx.affine(y, scale: 0.5, shift: 0.5), height: input.shape[2], width: input.shape[3])
    }
}
