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

    /// Runs `body` per tile of `x`; the output is `scaleUp / scaleDown` times the input's size.
    private func blendTiles(_ x: Tensor, plan: TilePlan, scaleUp: Int, scaleDown: Int, progress: ProgressHandler?,
                            _ body: (Tensor) throws -> Tensor) throws -> Tensor {
        guard x.rank == 4 else { throw ModelError("sdxl-vae tiled run expects [B, C, H, W], got \(x.shape)") }
        let (b, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let rows = plan.starts(h), cols = plan.starts(w)
        if rows.count * cols.count == 1 {
            let y = try body(x)
            progress?(1, 1)
            return y
        }
        let ctx = context
        let th = min(plan.tile, h), tw = min(plan.tile, w)
        let (H, W) = (h * scaleUp / scaleDown, w * scaleUp / scaleDown)
        let (oth, otw) = (th * scaleUp / scaleDown, tw * scaleUp / scaleDown)
        // The blend ramps in output pixels: the overlap scaled like the image.
        let outPlan = try TilePlan(tile: max(oth, otw), overlap: plan.overlap * scaleUp / scaleDown)
        var blend = try TileBlend(batch: b, height: H, width: W)
        var done = 0
        for y0 in rows {
            let oy = y0 * scaleUp / scaleDown
            let rw = (0..<oth).map { outPlan.weight($0, start: oy, size: oth, length: H) }
            for x0 in cols {
                let ox = x0 * scaleUp / scaleDown
                let cw = (0..<otw).map { outPlan.weight($0, start: ox, size: otw, length: W) }
                let y = try body(try ctx.crop(x, top: y0, left: x0, height: th, width: tw))
                guard y.rank == 4, y.shape[2] == oth, y.shape[3] == otw else {
                    throw ModelError("sdxl-vae returned \(y.shape) for a tile of \(th)x\(tw)")
                }
                try blend.add(y, top: oy, left: ox, rows: rw, cols: cw)
                done += 1
                progress?(done, rows.count * cols.count)
            }
        }
        return try blend.finish()
    }
}
