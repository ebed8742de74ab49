import IRRuntime

/// UniLDiff's denoiser: the SDXL UNet with the DAFF injected after conv_in, under classifier-free
/// guidance, driven by the Euler sampler (upstream pipeline_FaithDiff_tlc.py), whole or in latent tiles:
///
///     [ε_u; ε_c] = UNet([x; x]/√(σ²+1), t, [negative; positive] text, conv_in → DAFF(·, t, [lq; lq]))
///     ε̂ = ε_u + guidance · (ε_c − ε_u);   x ← Euler step
///
/// The same LQ feature serves both halves; the text conditioning is the SDXL pair
/// (encoder_hidden_states, text_embeds, time_ids) for the negative prompt ("" upstream) and the
/// positive one, stacked in that order.
public final class UniLDiffDenoiser {
    public let unet: SDXLUNetModel
    public let daff: DAFFInjection
    public let guidance: Float

    public init(unet: SDXLUNetModel, daff: DAFFInjection, guidance: Float = 5) throws {
        guard unet.config.blockOutChannels.first == daff.config.latentChannels else {
            throw ModelError("UniLDiff: the UNet's conv_in gives \(unet.config.blockOutChannels.first ?? 0) channels but the DAFF expects \(daff.config.latentChannels)")
        }
        self.unet = unet
        self.daff = daff
        self.guidance = guidance
    }

    /// The guided noise prediction for the scaled latent `x` [1, C, h, w] at timestep `t`.
    /// text: [negative; positive] conditioning (batch 2, its timesteps ignored);
    /// lqFeature: the LQ encoder output [1, 512, h, w].
    public func guidedEpsilon(_ ctx: ComputeContext, scaledLatent x: Tensor, timestep t: Float,
                              text: SDXLConditioning, lqFeature lq: Tensor) throws -> Tensor {
        guard x.rank == 4, x.shape[0] == 1, lq.rank == 4, lq.shape[0] == 1 else {
            throw ModelError("UniLDiff denoises one latent at a time with one LQ feature, got \(x.shape) and \(lq.shape)")
        }
        let pair = try ctx.concat([x, x], dim: 0)
        let lqPair = try ctx.concat([lq, lq], dim: 0)
        var cond = text
        cond.timesteps = [t]
        let eps = try unet.predict(pair, cond, afterConvIn: { h in
            try self.daff(ctx, sample: h, timesteps: [t], lqFeature: lqPair)
        })
        return try ctx.classifierFreeGuidance(unconditional: try eps.rows(0, 1), conditional: try eps.rows(1, 1), scale: guidance)
    }

    /// The Euler run in latent tiles (`LatentTileGrid`, upstream's tiled loop): each step runs on
    /// every tile of the current latent with that tile's LQ feature and time ids, and the stepped
    /// tiles are blended into the next latent. `timeIds(top, left)` gives a tile's [2, 6] time ids.
    public func sampleTiled(_ ctx: ComputeContext, sampler: EulerDiscreteSampler, from start: Tensor, text: SDXLConditioning,
                            lqFeature: Tensor, grid: LatentTileGrid, timeIds: (Int, Int) throws -> Tensor,
                            progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        guard start.rank == 4, lqFeature.rank == 4, start.shape[2] == lqFeature.shape[2], start.shape[3] == lqFeature.shape[3] else {
            throw ModelError("UniLDiff: the latent \(start.shape) and the LQ feature \(lqFeature.shape) differ in size")
        }
        let (th, tw) = (grid.tileHeight, grid.tileWidth)
        var x = start
        for i in 0..<sampler.steps {
            let blend = try LatentTileGrid.Blend(grid: grid, shape: x.shape)
            for origin in grid.origins {
                let tile = try ctx.crop(x, top: origin.top, left: origin.left, height: th, width: tw)
                let lq = try ctx.crop(lqFeature, top: origin.top, left: origin.left, height: th, width: tw)
                var cond = text
                cond.timeIds = try timeIds(origin.top, origin.left)
                let eps = try guidedEpsilon(ctx, scaledLatent: try sampler.scaleModelInput(ctx, tile, step: i),
                                            timestep: sampler.timesteps[i], text: cond, lqFeature: lq)
                try blend.add(try sampler.step(ctx, epsilon: eps, step: i, sample: tile), at: origin)
            }
            x = try blend.finish(ctx)
            progress?(i + 1, sampler.steps)
        }
        return x
    }

    /// The whole Euler run from `start` (see `EulerDiscreteSampler.startFromLowQuality`).
    public func sample(_ ctx: ComputeContext, sampler: EulerDiscreteSampler, from start: Tensor, text: SDXLConditioning,
                       lqFeature: Tensor, progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        try sampler.sample(ctx, from: start, denoise: { x, t, _ in
            try self.guidedEpsilon(ctx, scaledLatent: x, timestep: t, text: text, lqFeature: lqFeature)
        }, progress: progress)
    }
}
