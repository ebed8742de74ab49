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
