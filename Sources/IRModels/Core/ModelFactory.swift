import IRTensor
import IRRuntime
import IRRegistry

/// Builds the Swift model of a registered family from its config and weights.
public enum ModelFactory {
    /// Families with a Swift forward pass.
    public static let runnableFamilies: [String] = [SymUNetConfig.family, SESymUNetConfig.family, CLIPVisionConfig.family,
                                                    AnyIRConfig.family, PromptIRConfig.family, RestormerConfig.family,
                                                    NAFNetConfig.family, DehazeFormerConfig.family, RetinexFormerConfig.family,
                                                    CLIPTextConfig.family, SDXLVAEConfig.family, SDXLUNetConfig.family,
                                                    UniRestorerConfig.family, UniRestorerLoRAConfig.family, UniLDiffConfig.family,
                                                    RRDBNetConfig.family, SRVGGConfig.family]

    /// Families whose f16/bf16 weights are widened per layer run instead of at load (`WeightWidening`).
    public static let perLayerWidening: Set<String> = [SDXLVAEConfig.family, SDXLUNetConfig.family, UniLDiffConfig.family]

    public static func canRun(family: String) -> Bool { runnableFamilies.contains(family) }

    /// Builds the model for `config` from tensors under upstream names (after the registry's
    /// layout mapping, as an installed .irw holds them). The tensors are first checked against the
    /// config's inventory: any missing, unexpected or mis-shaped tensor refuses the build with the
    /// whole report (`InventoryMismatchError`). `source` names the weights in messages.
    public static func make(config: ModelConfig, records: [TensorRecord], source: String,
                            context: ComputeContext = ComputeContext()) throws -> Model {
        guard canRun(family: config.family) else {
            throw ModelError("\(source): family '\(config.family)' has no Swift model (runnable: \(runnableFamilies.joined(separator: ", ")))")
        }
        let report = InventoryCheck.check(expected: config.inventory, tensors: records)
        guard report.isExact else {
            throw InventoryMismatchError(modelID: config.family, file: source, report: report)
        }
        // SDXL's half-precision files stay half precision in memory; their layers widen on use.
        let widening: WeightWidening = perLayerWidening.contains(config.family) ? .perLayer : .atLoad
        return try make(config: config, weights: try Weights(records: records, widening: widening), context: context)
    }

    /// `make(config:records:)` for a family id and its config JSON (as the store records them).
    public static func make(family: String, config json: JSON, records: [TensorRecord], source: String,
                            context: ComputeContext = ComputeContext()) throws -> Model {
        guard let f = ArchitectureFamily.named(family) else {
            throw ModelError("\(source): unknown architecture family '\(family)'")
        }
        // A config with kept LoRA factors (`irzoo import --keep-lora`) merges them here first.
        let stored = try KeptLoRA.split(json)
        return try make(config: try f.decode(stored.config), records: try KeptLoRA.merged(records, alpha: stored.alpha),
                        source: source, context: context)
    }

    /// Builds from weights already checked (or given directly, e.g. by tests); each tensor is
    /// still checked by shape as it is read.
    public static func make(config: ModelConfig, weights: Weights, context: ComputeContext = ComputeContext()) throws -> Model {
        if let c = config.typed(SymUNetConfig.self) { return try SymUNet(config: c, weights: weights, context: context) }
        if let c = config.typed(SESymUNetConfig.self) { return try SESymUNet(config: c, weights: weights, context: context) }
        if let c = config.typed(CLIPVisionConfig.self) { return try CLIPVisionModel(config: c, weights: weights, context: context) }
        if let c = config.typed(AnyIRConfig.self) { return try AnyIRModel(config: c, weights: weights, context: context) }
        if let c = config.typed(PromptIRConfig.self) { return try PromptIRModel(config: c, weights: weights, context: context) }
        if let c = config.typed(RestormerConfig.self) { return try RestormerModel(config: c, weights: weights, context: context) }
        if let c = config.typed(NAFNetConfig.self) { return try NAFNetModel(config: c, weights: weights, context: context) }
        if let c = config.typed(DehazeFormerConfig.self) { return try DehazeFormerModel(config: c, weights: weights, context: context) }
        if let c = config.typed(RetinexFormerConfig.self) { return try RetinexFormerModel(config: c, weights: weights, context: context) }
        if let c = config.typed(CLIPTextConfig.self) { return try CLIPTextModel(config: c, weights: weights, context: context) }
        if let c = config.typed(SDXLVAEConfig.self) { return try AutoencoderKLModel(config: c, weights: weights, context: context) }
        if let c = config.typed(SDXLUNetConfig.self) { return try SDXLUNetModel(config: c, weights: weights, context: context) }
        if let c = config.typed(UniRestorerConfig.self) { return try UniRestorerModel(config: c, weights: weights, context: context) }
        if let c = config.typed(UniLDiffConfig.self) { return try UniLDiffModel(config: c, weights: weights, context: context) }
        if let c = config.typed(UniRestorerLoRAConfig.self) { return try UniRestorerLoRAExperts.model(config: c, weights: weights, context: context) }
        if let c = config.typed(RRDBNetConfig.self) { return try RRDBNetModel(config: c, weights: weights, context: context) }
        if let c = config.typed(SRVGGConfig.self) { return try SRVGGModel(config: c, weights: weights, context: context) }
        throw ModelError("family '\(config.family)' has no Swift model (runnable: \(runnableFamilies.joined(separator: ", ")))")
    }
}
