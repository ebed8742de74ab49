import Foundation

extension ComputeContext {
    /// Sinusoidal timestep embedding, [T] → [T, dim], in float32 step by step as both upstream
    /// formulas compute it (the frequencies correctly rounded):
    /// freq_k = exp(−ln(maxPeriod)·k / (half − downscaleFreqShift)), arg = (timeFactor·t)·freq_k·scale,
    /// then [sin, cos] (or [cos, sin] with `flipSinToCos`), zero-padded when `dim` is odd.
    /// - diffusers `get_timestep_embedding` (SDXL UNet: flipSinToCos true, shift 0): the defaults
    ///   downscaleFreqShift 1, scale 1, timeFactor 1.
    /// - FLUX-style `timestep_embedding` (UniLDiff DAFF): downscaleFreqShift 0, flipSinToCos true, timeFactor 1000.
    public func timestepEmbedding(_ timesteps: [Float], dim: Int, maxPeriod: Float = 10000, downscaleFreqShift: Float = 1,
                                  scale: Float = 1, flipSinToCos: Bool = false, timeFactor: Float = 1) throws -> Tensor {
        let op = "timestepEmbedding"
        try require(dim >= 2 && dim <= 1 << 24, op, "dim must be in 2...\(1 << 24), got \(dim)")
        let half = dim / 2
        try require(Float(half) - downscaleFreqShift != 0, op, "half dimension \(half) minus the frequency shift is zero")
        let out = try zeros([timesteps.count, dim])
        let logP = Float(-Foundation.log(Double(maxPeriod)))
        let denom = Float(half) - downscaleFreqShift
        // exp in double, rounded once: the correctly rounded float frequency. torch's float exp is
        // off by one ulp for a few k on some builds, which the large arguments (1000·t) amplify;
        // see Tools/gen_op_goldens.py.
        let freqs = (0..<half).map { Float(Foundation.exp(Double(logP * Float($0) / denom))) }
        let p = out.mutablePointer
        for (r, t0) in timesteps.enumerated() {
            let t = timeFactor == 1 ? t0 : timeFactor * t0
            for k in 0..<half {
                var a = t * freqs[k]
                if scale != 1 { a = scale * a }
                let (first, second) = flipSinToCos ? (Foundation.cos(a), Foundation.sin(a)) : (Foundation.sin(a), Foundation.cos(a))
                p[r * dim + k] = first
                p[r * dim + half + k] = second
            }
        }
        return out
    }
}
