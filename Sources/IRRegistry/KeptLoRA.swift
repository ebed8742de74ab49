import IRTensor

/// `irzoo import --keep-lora`: a layout's ConvLoRA sites stored apart (`<s>.conv.weight`,
/// `<s>.lora_A`, `<s>.lora_B` as in the source) instead of merged at import. The stored config
/// records the alpha under `configKey`; when the model is built the factors are merged into fresh
/// f32 weights in memory with `LoRAMerge` (the same math as the import-time merge), so the
/// inventory check and the network see exactly what a merged import holds.
public enum KeptLoRA {
    /// The config member naming the kept factors' alpha. Not a field of any family's config:
    /// `split` takes it off before the family decodes the rest.
    public static let configKey = "kept_lora_alpha"

    /// The tensors of `input` under `layout` with the LoRA merge left out, and how many sites
    /// were kept; nil when the layout merges nothing (then there is nothing to keep).
    public static func unmerged<T: MappableTensor>(_ input: [T], layout: SourceLayout) throws -> (mapped: MappedTensors<T>, alpha: Double, sites: Int)? {
        guard let rule = layout.loraMerge else { return nil }
        var plain = layout
        plain.loraMerge = nil
        let mapped = try KeyMapper.apply(plain, to: input)
        let sites = mapped.tensors.filter { $0.name.hasSuffix(LoRAMerge.factorA) }.count
        return (mapped, rule.alpha, sites)
    }

    /// A stored config without `configKey`, and the alpha it held (nil when LoRA was merged at import).
    public static func split(_ config: JSON) throws -> (config: JSON, alpha: Double?) {
        guard case .object(var members) = config, let value = members[configKey] else { return (config, nil) }
        members[configKey] = nil
        guard case .number(let n) = value else {
            throw KeyMappingError(tensor: "*", reason: "config member '\(configKey)' must be a number, found \(value.serialized())")
        }
        return (.object(members), n.double)
    }

    /// The records with their kept ConvLoRA sites merged (in memory), or unchanged when `alpha` is nil.
    public static func merged(_ records: [TensorRecord], alpha: Double?) throws -> [TensorRecord] {
        guard let alpha else { return records }
        return try LoRAMerge.apply(records, alpha: alpha).tensors
    }
}
