import IRTensor

/// A family's config behind one type, with its canonical JSON (sorted keys, every field
/// spelled out) so configs compare, print and store the same way whatever their family.
public struct ModelConfig: Sendable, Equatable, CustomStringConvertible {
    public let family: String
    public let value: any ArchitectureConfig
    /// The canonical JSON: what `irzoo show` prints and the store records.
    public let json: JSON

    public init<C: ArchitectureConfig>(_ config: C) throws {
        try config.validate()
        family = C.family
        value = config
        json = try StrictJSONDecoding.encode(config)
    }

    public var inventory: [ParameterSpec] { value.inventory }
    public var summary: String { value.summary }
    public var description: String { "\(family) \(json.serialized())" }

    /// The typed config when it is of family `C`.
    public func typed<C: ArchitectureConfig>(_ type: C.Type) -> C? { value as? C }

    public static func == (a: ModelConfig, b: ModelConfig) -> Bool { a.family == b.family && a.json == b.json }
}

/// One family's registry half: how to decode and detect its config. The list of families is
/// not kept here (IRModels registers each family once, beside its model) but handed in as a
/// `FamilyCatalog`, so the registry stays generic and IRRegistry never imports IRModels.
public struct ArchitectureFamily: Sendable {
    public let id: String
    let decodeJSON: @Sendable (JSON) throws -> ModelConfig
    let detectShapes: @Sendable (ShapeTable) throws -> (config: ModelConfig, notes: [String])?
    let missingSignature: @Sendable (ShapeTable) -> [String]

    public init<C: ArchitectureConfig>(_ type: C.Type) {
        id = C.family
        decodeJSON = { try ModelConfig(StrictJSONDecoding.decode(C.self, from: $0)) }
        detectShapes = { table in
            guard case .found(let c, let notes) = C.detect(table) else { return nil }
            return (try ModelConfig(c), notes)
        }
        missingSignature = { table in
            if case .absent(let m) = C.detect(table) { return m }
            return []
        }
    }

    /// Decodes and validates a config of this family; errors name the field.
    public func decode(_ json: JSON) throws -> ModelConfig {
        do { return try decodeJSON(json) } catch let e as ConfigError { throw e } catch {
            throw ConfigError(id, "config", DecodingErrorText.describe(error))
        }
    }

    /// The config read off the shapes, or nil when this family's identifying tensors are absent.
    /// Throws a `ConfigError` when they are present but the shapes describe no valid network.
    public func detect(_ table: ShapeTable) throws -> (config: ModelConfig, notes: [String])? { try detectShapes(table) }

    /// The identifying tensors that are absent (empty when they are all present).
    public func missingIdentifyingTensors(_ table: ShapeTable) -> [String] { missingSignature(table) }
}

/// The families a zoo's manifests are typed with, in detection order (`ModelResolver.detect`
/// asks them in this order; ties between exact matches go to the earlier one).
public struct FamilyCatalog: Sendable {
    public let all: [ArchitectureFamily]

    public init(_ families: [ArchitectureFamily]) { all = families }

    public func named(_ id: String) -> ArchitectureFamily? { all.first { $0.id == id } }
}
