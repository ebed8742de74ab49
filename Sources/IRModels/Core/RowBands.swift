import IRRuntime

extension ComputeContext {
    /// Pixels per band (at least `minimumBandRows` rows) when `inRowBands` cuts a large map.
    static let bandPixels = 65536
    static let minimumBandRows = 64

    /// Runs `body` on horizontal bands of the NCHW map `x` and stitches the results into one
    /// [N, outChannels, H, W] map. For chains of per-pixel ops (1x1 convs, channel norms, gates)
    /// with at most `halo` rows of vertical reach (a 3x3 depthwise conv: 1): every band carries
    /// `halo` extra rows of input on each side (fewer at the image's border), so each output is
    /// computed from the same values as on the whole map. Why: the chain's wide intermediates
    /// (GDFN's 2.66x-wide hidden map) then exist for one band at a time, so memory follows the
    /// band, not the image. The halo rows are computed twice (2·halo / 64 rows: 3% at most), and
    /// each band's result is copied into the output once.
    ///
    /// `body(band)` maps a band with its halo to [1, outChannels, same rows, W]; the rows computed
    /// without their full neighbourhood are dropped. A map of at most two bands runs whole
    /// (`body(x)`), unless `bandRows` forces the band height (tests).
    func inRowBands(_ x: Tensor, outChannels: Int, halo: Int, _ body: (Tensor) throws -> Tensor) throws -> Tensor {
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let rows = max(1, bandRows ?? max(ComputeContext.minimumBandRows, ComputeContext.bandPixels / max(w, 1)))
        if bandRows == nil ? h <= 2 * rows : h <= rows { return try body(x) }
        let out = try empty([n, outChannels, h, w])
        let dst = out.mutablePointer
        for item in 0..<n {
            let image = n == 1 ? x : try x.rows(item, 1)
            for y0 in stride(from: 0, to: h, by: rows) {
                let count = min(rows, h - y0)
                let lo = max(0, y0 - halo), hi = min(h, y0 + count + halo)
                let band = lo == 0 && hi == h ? image : try narrow(image, dim: 2, start: lo, length: hi - lo)
                let part = try body(band)
                guard part.shape == [1, outChannels, hi - lo, w] else {
                    throw RuntimeError("rowBands", "a band gave \(part.shape), expected \([1, outChannels, hi - lo, w])")
                }
                let plane = count * w, partPlane = (hi - lo) * w
                let src = part.pointer + (y0 - lo) * w
                let base = dst + item * outChannels * h * w + y0 * w
                parallelFor(outChannels, grain: max(1, 16384 / max(plane, 1))) { r in
                    for c in r { (base + c * h * w).update(from: src + c * partPlane, count: plane) }
                }
            }
        }
        return out
    }
}
