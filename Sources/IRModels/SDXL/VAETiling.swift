import IRRuntime

/// Tiled encode and decode for images and latents too big to run whole: the input is cut into
/// overlapping tiles (`TilePlan`), each runs alone and the results are blended with linear ramps
/// over the overlap, so activations are bounded by the tile size.
///
/// Approximate, like every tiled VAE (diffusers' `enable_tiling` too): each tile's GroupNorms and
/// the mid-block attention see only that tile's statistics and pixels. An input that fits one
/// tile runs whole and gives exactly the untiled answer.
extension AutoencoderKLModel {
    /// `decode` on latent tiles of `plan.tile` latent pixels (overlap in latent pixels).
    public func decodeTiled(_ latent: Tensor, plan: TilePlan, progress: ProgressHandler? = nil) throws -> Tensor {
        try blendTiles(latent, plan: plan, scaleUp: downsamplingFactor, scaleDown: 1, progress: progress) { try self.decode($0) }
    }

    /// `encode` (the mean) on image tiles of `plan.tile` pixels; tile and overlap must be multiples
    /// of the downsampling factor (8) so tiles land on latent pixels.
    public func encodeTiled(_ image: Tensor, plan: TilePlan, progress: ProgressHandler? = nil) throws -> Tensor {
        let f = downsamplingFactor
        guard plan.tile % f == 0 && plan.overlap % f == 0 else {
            throw ModelError("sdxl-vae tiled encode needs a tile and overlap that are multiples of \(f), got \(plan.tile) and \(plan.overlap)")
        }
        return try blendTiles(image, plan: plan, scaleUp: 1, scaleDown: f, progress: progress) { try self.encode($0) }
    }

    private func blendTiles(_ x: Tensor, plan: TilePlan, scaleUp: Int, scaleDown: Int, progress: ProgressHandler?,
                            _ body: (Tensor) throws -> Tensor) throws -> Tensor {
        try TiledInference.blend(x, plan: plan, scaleUp: scaleUp, scaleDown: scaleDown, context: context, what: "sdxl-vae",
                                 progress: progress, body)
    }
}
