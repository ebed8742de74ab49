import IRTensor

/// A diffusers `scheduler_config.json` read as `EulerDiscreteScheduler` reads it (diffusers
/// 0.42, `schedulers/scheduling_euler_discrete.py`), for the settings irzoo's sampler follows:
/// `num_train_timesteps`, `beta_start`, `beta_end`, `beta_schedule`, `timestep_spacing`,
/// `steps_offset` and `prediction_type`, each defaulting as the class does when absent. A
/// setting irzoo does not implement (another scheduler class, Karras or exponential sigmas,
/// zero-SNR rescaling, v-prediction) is refused by name rather than sampled differently.
public struct EulerSchedulerConfig: Sendable, Equatable {
    public static let className = "EulerDiscreteScheduler"

    public var trainSteps: Int
    public var betaStart: Float
    public var betaEnd: Float
    public var betaSchedule: DiffusionSchedule.BetaSchedule
    public var spacing: TimestepSpacing
    public var stepsOffset: Int
    /// Only "epsilon" is sampled today; kept to be reported.
    public var predictionType: String

    /// `source` names the file in errors.
    public init(json: JSON, source: String) throws {
        func fail(_ why: String) -> ModelError { ModelError("\(source): \(why)") }
        guard let o = json.objectValue else { throw fail("not a JSON object") }
        if let cls = o["_class_name"], cls.stringValue != Self.className {
            throw fail("the scheduler is \(cls.stringValue ?? cls.serialized()); irzoo samples with \(Self.className) only")
        }
        func number(_ key: String, _ fallback: Double) throws -> Double {
            guard let v = o[key], !v.isNull else { return fallback }
            guard let d = v.numberValue?.double, d.isFinite else { throw fail("\"\(key)\" must be a number") }
            return d
        }
        func int(_ key: String, _ fallback: Int) throws -> Int {
            guard let v = o[key], !v.isNull else { return fallback }
            guard let i = v.intValue else { throw fail("\"\(key)\" must be an integer") }
            return i
        }
        func string(_ key: String, _ fallback: String) throws -> String {
            guard let v = o[key], !v.isNull else { return fallback }
            guard let s = v.stringValue else { throw fail("\"\(key)\" must be a string") }
            return s
        }
        func off(_ key: String) throws {
            guard let v = o[key], !v.isNull else { return }
            guard v.boolValue == false else { throw fail("\"\(key)\": \(v.serialized()) is not supported (irzoo's Euler sampler has it off)") }
        }
        // EulerDiscreteScheduler's own defaults (not SDXL's: a config lists SDXL's explicitly).
        trainSteps = try int("num_train_timesteps", 1000)
        guard (2...100_000).contains(trainSteps) else { throw fail("\"num_train_timesteps\" \(trainSteps) is outside 2...100000") }
        let start = try number("beta_start", 0.0001), end = try number("beta_end", 0.02)
        guard start > 0, end > start, end < 1 else { throw fail("\"beta_start\" \(start) and \"beta_end\" \(end) must satisfy 0 < start < end < 1") }
        betaStart = Float(start)
        betaEnd = Float(end)
        let schedule = try string("beta_schedule", "linear")
        guard let b = DiffusionSchedule.BetaSchedule(rawValue: schedule) else {
            throw fail("\"beta_schedule\" '\(schedule)' is not supported (irzoo computes \(DiffusionSchedule.BetaSchedule.allCases.map { $0.rawValue }.joined(separator: ", ")))")
        }
        betaSchedule = b
        if let t = o["trained_betas"], !t.isNull { throw fail("\"trained_betas\" is not supported") }
        let spacingName = try string("timestep_spacing", "linspace")
        guard let sp = TimestepSpacing(rawValue: spacingName) else {
            throw fail("\"timestep_spacing\" '\(spacingName)' is not one of \(TimestepSpacing.allCases.map { $0.rawValue }.joined(separator: ", "))")
        }
        spacing = sp
        stepsOffset = try int("steps_offset", 0)
        guard stepsOffset >= 0 && stepsOffset < trainSteps else { throw fail("\"steps_offset\" \(stepsOffset) is outside 0...\(trainSteps - 1)") }
        predictionType = try string("prediction_type", "epsilon")
        guard predictionType == "epsilon" else {
            throw fail("\"prediction_type\" '\(predictionType)' is not supported (irzoo's sampler predicts epsilon)")
        }
        for key in ["use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "rescale_betas_zero_snr"] { try off(key) }
        for (key, wanted) in [("interpolation_type", "linear"), ("timestep_type", "discrete"), ("final_sigmas_type", "zero")] {
            let v = try string(key, wanted)
            guard v == wanted else { throw fail("\"\(key)\" '\(v)' is not supported (irzoo's sampler uses '\(wanted)')") }
        }
    }

    public var schedule: DiffusionSchedule {
        DiffusionSchedule(trainSteps: trainSteps, betaStart: betaStart, betaEnd: betaEnd, betaSchedule: betaSchedule)
    }

    /// The sampler for a run of `steps` steps.
    public func sampler(steps: Int) throws -> EulerDiscreteSampler {
        try EulerDiscreteSampler(schedule: schedule, steps: steps, spacing: spacing, stepsOffset: stepsOffset)
    }

    /// One line for a run's report.
    public var summary: String {
        "\(Self.className): \(betaSchedule.rawValue) betas \(betaStart)...\(betaEnd) over \(trainSteps), \(spacing.rawValue) spacing, steps_offset \(stepsOffset), \(predictionType)"
    }
}
