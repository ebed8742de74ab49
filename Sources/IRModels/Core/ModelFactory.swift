import IRTensor
import IRRuntime
import IRRegistry

/// Builds the Swift model of a registered family (`Families`) from its config and weights.
public enum ModelFactory {
    /// Families with a Swift forward pass: every registered one.
    public static var runnableFamilies: [String] { Families.all.map(\.id) }

    /// Families whose f16/bf16 weights are widened per layer run instead of at load (`WeightWidening`).
    public static var perLayerWidening: Set<String> { Set(Families.all.filter { $0.widening == .perLayer }.map(\.id)) }

    public static func canRun(family: String) -> Bool { Families.named(family) != nil }

    /// Builds the model for `config` from tensors under upstream names (after the registry's
    /// layout mapping, as an installed .irw holds them). The tensors are first checked against the
    /// config's inventory: any missing, unexpected or mis-shaped tensor refuses the build with the
    /// whole report (`InventoryMismatchError`). `source` names the weights in messages.
    public static func make(config: ModelConfig, records: [TensorRecord], source: String,
                            context: ComputeContext = ComputeContext()) throws -> Model {
        guard let family = Families.named(config.family) else {
            throw ModelError("\(source): family '\(config.family)' has no Swift model (runnable: \(runnableFamilies.joined(separator: ", ")))")
        }
        let report = InventoryCheck.check(expected: config.inventory, tensors: records)
        guard report.isExact else {
            throw InventoryMismatchError(modelID: config.family, file: source, report: report)
        }
        // SDXL's half-precision files stay half precision in memory; their layers widen on use.
        return try family.model(config, weights: try Weights(records: records, widening: family.widening), context: context)
    }

    /// `make(config:records:)` for a family id and its config JSON (as the store records them).
    public static func make(family: String, config json: JSON, records: [TensorRecord], source: String,
                            context: ComputeContext = ComputeContext()) throws -> Model {
        guard let f = Families.named(family) else {
            throw ModelError("\(source): unknown architecture family '\(family)'")
        }
        // A config with kept LoRA factors (`irzoo import --keep-lora`) merges them here first.
        let stored = try KeptLoRA.split(json)
        return try make(config: try f.architecture.decode(stored.config), records: try KeptLoRA.merged(records, alpha: stored.alpha),
                        source: source, context: context)
    }

    /// Builds from weights already checked (or given directly, e.g. by tests); each tensor is
    /// still checked by shape as it is read.
    public static func make(config: ModelConfig, weights: Weights, context: ComputeContext = ComputeContext()) throws -> Model {
        guard let family = Families.named(config.family) else {
            throw ModelError("family '\(config.family)' has no Swift model (runnable: \(runnableFamilies.joined(separator: ", ")))")
        }
        return try family.model(config, weights: weights, context: context)
    }
}
