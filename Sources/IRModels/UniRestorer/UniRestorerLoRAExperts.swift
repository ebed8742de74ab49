import IRRuntime
import IRRegistry

/// UniRestorer-LoRA (reconstructed, `UniRestorerLoRAConfig`): the full model's router and routing
/// over a pool of one base Restormer and LoRA experts. An expert's weights are made when it is
/// first routed to: every conv `W + (alpha / r) · view(B @ A)` (`LoRAMerge.mergedWeight`, the
/// import-time merge's math), its own norms and temperatures, the base's tensors for the rest.
/// The base's own tensors stay in place in the .irw mapping; only a routed expert's merged
/// convs are new memory.
public enum UniRestorerLoRAExperts {
    public static func model(config: UniRestorerLoRAConfig, weights: Weights,
                             context: ComputeContext = ComputeContext()) throws -> UniRestorerModel {
        try config.validate()
        return try UniRestorerModel(config: try config.routingConfig(), weights: weights, context: context,
                                    family: UniRestorerLoRAConfig.family) { name in
            try expertWeights(name, config: config, weights: weights)
        }
    }

    /// The Restormer weights of pool entry `name` (`base` or `experts.N`).
    static func expertWeights(_ name: String, config: UniRestorerLoRAConfig, weights: Weights) throws -> Weights {
        let base = weights.scoped(UniRestorerLoRAConfig.baseScope)
        if name == UniRestorerLoRAConfig.baseScope { return base }
        let expert = weights.scoped(name)
        let scale = config.loraAlpha / Double(config.loraRank)
        var tensors = [String: Tensor]()
        for spec in config.base.inventory {
            let w = try base.tensor(spec.name, shape: spec.shape)
            if spec.shape.count == 4, spec.name.hasSuffix(".weight") {
                let site = String(spec.name.dropLast(".weight".count))
                let (aShape, bShape) = UniRestorerLoRAConfig.loraShapes(weight: spec.shape, rank: config.loraRank)
                let a = try expert.tensor(site + ".lora_A", shape: aShape), b = try expert.tensor(site + ".lora_B", shape: bShape)
                let merged = LoRAMerge.mergedWeight(values(w), a: values(a), aShape: aShape, b: values(b), bShape: bShape, scale: scale)
                tensors[spec.name] = try Tensor(shape: spec.shape, values: merged)
            } else if UniRestorerLoRAConfig.isExpertOwn(spec.name) {
                tensors[spec.name] = try expert.tensor(spec.name, shape: spec.shape)
            } else {
                tensors[spec.name] = w
            }
        }
        return Weights(tensors: tensors)
    }

    static func values(_ t: Tensor) -> [Float] { Array(UnsafeBufferPointer(start: t.pointer, count: t.count)) }
}
