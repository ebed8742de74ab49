import IRRegistry
import IRRuntime

/// Every family this build registers, one line each: its config type (upstream field names,
/// validation, inventory, detection off the shapes) and how its model is built. The whole family
/// lives in its folder (`Sources/IRModels/<Family>/`); this list is the one other place it is
/// named. The order is detection order (`ModelResolver.detect` asks the families in turn).
public enum Families {
    public static let all: [Family] = [
        Family(SymUNetConfig.self) { try SymUNet(config: $0, weights: $1, context: $2) },
        Family(SESymUNetConfig.self) { try SESymUNet(config: $0, weights: $1, context: $2) },
        Family(CLIPVisionConfig.self) { try CLIPVisionModel(config: $0, weights: $1, context: $2) },
        Family(AnyIRConfig.self) { try AnyIRModel(config: $0, weights: $1, context: $2) },
        Family(PromptIRConfig.self) { try PromptIRModel(config: $0, weights: $1, context: $2) },
        Family(RestormerConfig.self) { try RestormerModel(config: $0, weights: $1, context: $2) },
        Family(NAFNetConfig.self) { try NAFNetModel(config: $0, weights: $1, context: $2) },
        Family(DehazeFormerConfig.self) { try DehazeFormerModel(config: $0, weights: $1, context: $2) },
        Family(RetinexFormerConfig.self) { try RetinexFormerModel(config: $0, weights: $1, context: $2) },
        Family(CLIPTextConfig.self) { try CLIPTextModel(config: $0, weights: $1, context: $2) },
        Family(SDXLVAEConfig.self, widening: .perLayer) { try AutoencoderKLModel(config: $0, weights: $1, context: $2) },
        Family(SDXLUNetConfig.self, widening: .perLayer) { try SDXLUNetModel(config: $0, weights: $1, context: $2) },
        Family(UniRestorerConfig.self) { try UniRestorerModel(config: $0, weights: $1, context: $2) },
        Family(UniLDiffConfig.self, widening: .perLayer) { try UniLDiffModel(config: $0, weights: $1, context: $2) },
        Family(UniRestorerLoRAConfig.self) { try UniRestorerLoRAExperts.model(config: $0, weights: $1, context: $2) },
        Family(RRDBNetConfig.self) { try RRDBNetModel(config: $0, weights: $1, context: $2) },
        Family(SRVGGConfig.self) { try SRVGGModel(config: $0, weights: $1, context: $2) },
    ]

    /// The registry half of `all`: what `Zoo` types manifests with and `ModelResolver` detects by.
    public static let catalog = FamilyCatalog(all.map(\.architecture))

    public static func named(_ id: String) -> Family? { all.first { $0.id == id } }
}

/// One registered family.
public struct Family: Sendable {
    /// Decoding and detection of its config (IRRegistry's generic half).
    public let architecture: ArchitectureFamily
    /// When f16/bf16 weights become f32: per layer run for the multi-GB SDXL-sized families.
    public let widening: WeightWidening
    private let build: @Sendable (ModelConfig, Weights, ComputeContext) throws -> Model

    public var id: String { architecture.id }

    public init<C: ArchitectureConfig>(_ type: C.Type, widening: WeightWidening = .atLoad,
                                       build: @escaping @Sendable (C, Weights, ComputeContext) throws -> Model) {
        architecture = ArchitectureFamily(type)
        self.widening = widening
        self.build = { config, weights, context in
            guard let c = config.typed(C.self) else {
                throw ModelError("a '\(config.family)' config cannot build a '\(C.family)' model")
            }
            return try build(c, weights, context)
        }
    }

    /// The model of `config` (of this family) from weights under upstream names.
    public func model(_ config: ModelConfig, weights: Weights, context: ComputeContext) throws -> Model {
        try build(config, weights, context)
    }
}

extension Zoo {
    /// The manifests compiled into this binary, typed with this build's `Families`.
    public static func embedded() throws -> Zoo { try embedded(families: Families.catalog) }
}
