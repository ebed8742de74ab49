import Foundation
import IRRuntime
import IRRegistry

/// The DDPM noise schedule of SDXL-family checkpoints (diffusers `scheduler_config.json`):
/// "scaled_linear" betas = linspace(√β₀, √β₁, N)² ("linear": linspace(β₀, β₁, N)),
/// ᾱ = cumprod(1 − β), rounded as diffusers (torch, float32) computes them.
public struct DiffusionSchedule: Sendable {
    /// diffusers' `beta_schedule` values irzoo computes.
    public enum BetaSchedule: String, Sendable, CaseIterable {
        case scaledLinear = "scaled_linear"
        case linear
    }

    public let trainSteps: Int
    public let betaStart: Float
    public let betaEnd: Float
    public let betaSchedule: BetaSchedule
    /// ᾱ_t for t = 0 ..< trainSteps.
    public let alphasCumprod: [Float]

    /// SDXL base and its fine-tunes (RealVisXL_V4.0, which UniLDiff loads): 1000 steps, 0.00085 → 0.012.
    public static let sdxl = DiffusionSchedule(trainSteps: 1000, betaStart: 0.00085, betaEnd: 0.012)

    public init(trainSteps: Int, betaStart: Float, betaEnd: Float, betaSchedule: BetaSchedule = .scaledLinear) {
        self.trainSteps = trainSteps
        self.betaStart = betaStart
        self.betaEnd = betaEnd
        self.betaSchedule = betaSchedule
        let scaled = betaSchedule == .scaledLinear
        // torch.linspace(a, b, n, dtype=float32): a + i·step for the first half, b − (n−1−i)·step after.
        let a = scaled ? betaStart.squareRoot() : betaStart, b = scaled ? betaEnd.squareRoot() : betaEnd
        let n = trainSteps
        let step = (b - a) / Float(max(n - 1, 1))
        var cumprod = [Float](repeating: 0, count: n)
        // torch.cumprod on float32 accumulates in double and rounds each prefix once.
        var acc: Double = 1
        for i in 0..<n {
            let r = i < n / 2 ? a + step * Float(i) : b - step * Float(n - 1 - i)
            acc *= Double(1 - (scaled ? r * r : r))
            cumprod[i] = Float(acc)
        }
        alphasCumprod = cumprod
    }

    /// DDPMScheduler.add_noise: √ᾱ_t · original + √(1 − ᾱ_t) · noise.
    public func addNoise(_ ctx: ComputeContext, original: Tensor, noise: Tensor, timestep t: Int) throws -> Tensor {
        guard (0..<trainSteps).contains(t) else {
            throw ModelError("add_noise: timestep \(t) is outside 0...\(trainSteps - 1)")
        }
        guard original.shape == noise.shape else {
            throw ModelError("add_noise: latent \(original.shape) and noise \(noise.shape) differ in shape")
        }
        let ab = alphasCumprod[t]
        return try ctx.add(try ctx.mul(original, ab.squareRoot()), try ctx.mul(noise, (1 - ab).squareRoot()))
    }
}

/// How a run's timesteps are spread over the training steps (diffusers `timestep_spacing`).
public enum TimestepSpacing: String, Sendable, CaseIterable {
    /// (steps−1−i)·⌊T/steps⌋ + steps_offset: SDXL's config (with steps_offset 1).
    case leading
    /// round(T − i·T/steps) − 1 (round half to even, as numpy).
    case trailing
    /// linspace(0, T−1, steps) reversed: fractional timesteps, σ interpolated linearly.
    case linspace
}

/// diffusers' EulerDiscreteScheduler (epsilon prediction, no churn, linear sigma interpolation,
/// no Karras sigmas) for one run of `steps` steps:
///
///     σ(t) = √((1 − ᾱ_t)/ᾱ_t) tabulated for integer t, interpolated linearly in between
///     σ_i = σ(timesteps_i), σ_steps = 0
///     model input = x / √(σ_i² + 1)
///     x ← x + ε̂ · (σ_{i+1} − σ_i)          (derivative (x − (x − σ_i ε̂))/σ_i, as diffusers computes it)
///
/// `initNoiseSigma` (what pipelines scale fresh noise by) is √(σ_max² + 1) for "leading" and
/// σ_max for "trailing" and "linspace".
public struct EulerDiscreteSampler: Sendable {
    public let schedule: DiffusionSchedule
    public let spacing: TimestepSpacing
    public let timesteps: [Float]
    /// steps + 1 values, the last 0.
    public let sigmas: [Float]
    public let initNoiseSigma: Float

    public init(schedule: DiffusionSchedule = .sdxl, steps: Int, spacing: TimestepSpacing = .leading,
                stepsOffset: Int = 1) throws {
        let t = schedule.trainSteps
        guard steps >= 1 && steps <= t else {
            throw ModelError("the sampler needs 1...\(t) steps, got \(steps)")
        }
        self.schedule = schedule
        self.spacing = spacing
        var ts: [Float]
        switch spacing {
        case .leading:
            let ratio = t / steps
            ts = (0..<steps).reversed().map { Float($0 * ratio + stepsOffset) }
        case .trailing:
            let ratio = Double(t) / Double(steps)
            ts = (0..<steps).map { Float((Double(t) - Double($0) * ratio).rounded(.toNearestOrEven)) - 1 }
        case .linspace:
            // np.linspace in float64 (the last point exactly T − 1), cast to float32, reversed.
            let stepSize = steps > 1 ? Double(t - 1) / Double(steps - 1) : 0
            ts = (0..<steps).map { $0 == steps - 1 ? Float(t - 1) : Float(Double($0) * stepSize) }.reversed()
        }
        guard ts.allSatisfy({ $0 >= 0 && $0 <= Float(t - 1) }) else {
            throw ModelError("steps_offset \(stepsOffset) puts a timestep outside 0...\(t - 1)")
        }
        timesteps = ts
        let table = schedule.alphasCumprod.map { ((1 - $0) / $0).squareRoot() }
        // np.interp(t, arange(T), σ) in float64, rounded to float32 (exact at integer t).
        var s = ts.map { x -> Float in
            let lo = min(Int(x), t - 1), hi = min(lo + 1, t - 1)
            let f = Double(x) - Double(lo)
            return f == 0 ? table[lo] : Float(Double(table[lo]) + (Double(table[hi]) - Double(table[lo])) * f)
        }
        let maxSigma = s.max() ?? 0
        s.append(0)
        sigmas = s
        initNoiseSigma = spacing == .leading ? Float((Double(maxSigma) * Double(maxSigma) + 1).squareRoot()) : maxSigma
    }

    public var steps: Int { timesteps.count }

    /// scale_model_input: x / √(σ_i² + 1).
    public func scaleModelInput(_ ctx: ComputeContext, _ x: Tensor, step i: Int) throws -> Tensor {
        let s = sigmas[i]
        return try ctx.div(x, .scalar((s * s + 1).squareRoot()))
    }

    /// One Euler step from step i to i + 1 with the noise prediction ε̂.
    public func step(_ ctx: ComputeContext, epsilon: Tensor, step i: Int, sample x: Tensor) throws -> Tensor {
        guard epsilon.shape == x.shape else {
            throw ModelError("Euler step: noise prediction \(epsilon.shape) and latent \(x.shape) differ in shape")
        }
        let sigma = sigmas[i]
        let predictedOriginal = try ctx.sub(x, try ctx.mul(epsilon, sigma))
        let derivative = try ctx.div(try ctx.sub(x, predictedOriginal), .scalar(sigma))
        return try ctx.add(x, try ctx.mul(derivative, sigmas[i + 1] - sigma))
    }

    /// The whole loop: for each step, `denoise(scaled input, timestep, step index)` returns the
    /// (already guided) noise prediction; `progress(step, steps)` after each step.
    public func sample(_ ctx: ComputeContext, from start: Tensor,
                       denoise: (Tensor, Float, Int) throws -> Tensor,
                       progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        var x = start
        for i in 0..<steps {
            let eps = try denoise(try scaleModelInput(ctx, x, step: i), timesteps[i], i)
            x = try step(ctx, epsilon: eps, step: i, sample: x)
            progress?(i + 1, steps)
        }
        return x
    }

    /// UniLDiff's (FaithDiff's) start point: the LQ latent noised to t = 999 by DDPMScheduler,
    /// with noise scaled first by `initNoiseSigma` (the pipeline's prepare_latents does that).
    /// The noise is an input: Swift has no torch RNG, so goldens feed torch's draw in, and a CLI
    /// run draws its own seeded Gaussian (same distribution, different numbers than torch).
    public func startFromLowQuality(_ ctx: ComputeContext, lqLatent: Tensor, noise: Tensor, timestep: Int = 999) throws -> Tensor {
        try schedule.addNoise(ctx, original: lqLatent, noise: try ctx.mul(noise, initNoiseSigma), timestep: timestep)
    }

    /// The same start with irzoo's own seeded standard-normal noise (`SeededNormal`, SplitMix64 +
    /// Box–Muller): reproducible across runs and platforms, but not torch's numbers for that seed.
    public func startFromLowQuality(_ ctx: ComputeContext, lqLatent: Tensor, seed: UInt64, timestep: Int = 999) throws -> Tensor {
        let noise = try Tensor(shape: lqLatent.shape, values: SeededNormal.values(seed: seed, count: lqLatent.count))
        return try startFromLowQuality(ctx, lqLatent: lqLatent, noise: noise, timestep: timestep)
    }
}

extension ComputeContext {
    /// Classifier-free guidance: uncond + scale · (cond − uncond).
    public func classifierFreeGuidance(unconditional u: Tensor, conditional c: Tensor, scale: Float) throws -> Tensor {
        guard u.shape == c.shape else {
            throw ModelError("guidance: unconditional \(u.shape) and conditional \(c.shape) predictions differ in shape")
        }
        return try add(u, try mul(try sub(c, u), scale))
    }
}
