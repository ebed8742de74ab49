import Glibc

/// Image quality numbers, computed in Double the way skimage's `peak_signal_noise_ratio` does.
public enum ImageMetrics {
    /// PSNR in dB of `estimate` against `reference` (same length, values on a `dataRange` scale).
    /// Identical inputs give +infinity.
    public static func psnr(_ estimate: [Float], _ reference: [Float], dataRange: Double = 1) throws -> Double {
        guard estimate.count == reference.count, !estimate.isEmpty else {
            throw ImageIOError(file: nil, reason: "PSNR needs two images of the same size (\(estimate.count) vs \(reference.count) values)")
        }
        var sum = 0.0
        for i in 0..<estimate.count {
            let d = Double(estimate[i]) - Double(reference[i])
            sum += d * d
        }
        let mse = sum / Double(estimate.count)
        return mse == 0 ? .infinity : 10 * log10(dataRange * dataRange / mse)
    }

    /// PSNR of two images' colour planes (alpha is not compared).
    public static func psnr(_ estimate: PNGImage, _ reference: PNGImage) throws -> Double {
        guard estimate.width == reference.width, estimate.height == reference.height,
              estimate.colorChannels == reference.colorChannels else {
            throw ImageIOError(file: nil, reason: "PSNR needs images of the same size and channels "
                + "(\(estimate.width)x\(estimate.height)x\(estimate.colorChannels) vs \(reference.width)x\(reference.height)x\(reference.colorChannels))")
        }
        return try psnr(estimate.color, reference.color)
    }
}

extension ImageMetrics {
    /// SSIM of `estimate` against `reference`, planar `[channels][height][width]`, as scikit-image's
    /// `structural_similarity(..., data_range=dataRange, gaussian_weights=True, sigma=1.5,
    /// use_sample_covariance=False, channel_axis=0)` computes it (Wang et al. 2004, the form the
    /// restoration papers report): local statistics under an 11-tap Gaussian (scipy's `gaussian_filter`,
    /// truncate 3.5, 'reflect' borders that repeat the edge sample), the SSIM map averaged without the
    /// 5-pixel border, then over channels. Both sides need at least 11 pixels.
    public static func ssim(_ estimate: [Float], _ reference: [Float], channels: Int, height: Int, width: Int,
                            dataRange: Double = 1) throws -> Double {
        let plane = height * width
        guard channels >= 1, estimate.count == channels * plane, reference.count == estimate.count else {
            throw ImageIOError(file: nil, reason: "SSIM needs two images of the same size (\(estimate.count) vs \(reference.count) values)")
        }
        let sigma = 1.5, radius = Int(3.5 * sigma + 0.5)
        guard height >= 2 * radius + 1, width >= 2 * radius + 1 else {
            throw ImageIOError(file: nil, reason: "SSIM needs images of at least \(2 * radius + 1)x\(2 * radius + 1) pixels (got \(width)x\(height))")
        }
        var taps = (-radius...radius).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
        let total = taps.reduce(0, +)
        taps = taps.map { $0 / total }
        let c1 = (0.01 * dataRange) * (0.01 * dataRange), c2 = (0.03 * dataRange) * (0.03 * dataRange)
        var sum = 0.0
        for c in 0..<channels {
            let x = (0..<plane).map { Double(estimate[c * plane + $0]) }
            let y = (0..<plane).map { Double(reference[c * plane + $0]) }
            let blur = { (v: [Double]) in gaussianBlur(v, height: height, width: width, taps: taps) }
            let ux = blur(x), uy = blur(y)
            let uxx = blur(zip(x, x).map(*)), uyy = blur(zip(y, y).map(*)), uxy = blur(zip(x, y).map(*))
            var mapSum = 0.0
            for i in radius..<(height - radius) {
                for j in radius..<(width - radius) {
                    let k = i * width + j
                    let vx = uxx[k] - ux[k] * ux[k], vy = uyy[k] - uy[k] * uy[k], vxy = uxy[k] - ux[k] * uy[k]
                    let a = (2 * ux[k] * uy[k] + c1) * (2 * vxy + c2)
                    let b = (ux[k] * ux[k] + uy[k] * uy[k] + c1) * (vx + vy + c2)
                    mapSum += a / b
                }
            }
            sum += mapSum / Double((height - 2 * radius) * (width - 2 * radius))
        }
        return sum / Double(channels)
    }

    /// Separable correlation with `taps`, rows then columns, borders mirrored with the edge
    /// sample repeated (scipy.ndimage's 'reflect': d c b a | a b c d | d c b a).
    static func gaussianBlur(_ v: [Double], height: Int, width: Int, taps: [Double]) -> [Double] {
        let r = taps.count / 2
        func mirror(_ i: Int, _ n: Int) -> Int { i < 0 ? -i - 1 : (i >= n ? 2 * n - i - 1 : i) }
        var rows = [Double](repeating: 0, count: v.count)
        for i in 0..<height {
            for j in 0..<width {
                var s = 0.0
                for t in -r...r { s += taps[t + r] * v[i * width + mirror(j + t, width)] }
                rows[i * width + j] = s
            }
        }
        var out = [Double](repeating: 0, count: v.count)
        for i in 0..<height {
            for j in 0..<width {
                var s = 0.0
                for t in -r...r { s += taps[t + r] * rows[mirror(i + t, height) * width + j] }
                out[i * width + j] = s
            }
        }
        return out
    }
}
