/// One way a published checkpoint of a model is laid out, and the rules that turn its tensor
/// names into the model's own (upstream) names. Data in the manifest; applied by `KeyMapper`.
///
/// Rules run in this order: strip one prefix, drop, split, rename, then the LoRA merge. Each rule
/// sees the names the previous step produced; drop rules also see the parts a split produces.
public struct SourceLayout: Decodable, Sendable, Equatable {
    /// Short id, e.g. "basicsr", "lightning", "hf", "openai-torchscript".
    public var name: String
    public var description: String
    /// Container formats this layout comes in (`ContainerFormat` raw values, e.g. "torch-zip").
    public var containers: [String]
    /// The sub-dictionary holding the weights ("params", "state_dict"), nil for a bare table.
    public var wrapper: String?
    /// Prefixes stripped from every name that has one (first match only), e.g. "module.", "net.".
    public var stripPrefixes: [String]
    public var drop: [DropRule]
    public var splits: [SplitRule]
    public var renames: [RenameRule]
    /// loralib ConvLoRA sites folded into plain conv weights (`LoRAMerge`), when set.
    public var loraMerge: LoRAMergeRule?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, description, containers, wrapper, stripPrefixes, drop, splits, renames, loraMerge
    }

    public init(name: String, description: String = "", containers: [String] = [], wrapper: String? = nil,
                stripPrefixes: [String] = [], drop: [DropRule] = [], splits: [SplitRule] = [], renames: [RenameRule] = []) {
        self.name = name
        self.description = description
        self.containers = containers
        self.wrapper = wrapper
        self.stripPrefixes = stripPrefixes
        self.drop = drop
        self.splits = splits
        self.renames = renames
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "layout")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decode(String.self, forKey: .description)
        containers = try c.decode([String].self, forKey: .containers)
        wrapper = try c.decodeIfPresent(String.self, forKey: .wrapper)
        stripPrefixes = try c.decodeIfPresent([String].self, forKey: .stripPrefixes) ?? []
        drop = try c.decodeIfPresent([DropRule].self, forKey: .drop) ?? []
        splits = try c.decodeIfPresent([SplitRule].self, forKey: .splits) ?? []
        renames = try c.decodeIfPresent([RenameRule].self, forKey: .renames) ?? []
        loraMerge = try c.decodeIfPresent(LoRAMergeRule.self, forKey: .loraMerge)
    }
}

/// Merge every `<site>.lora_A`/`.lora_B`/`.conv.weight` triple with scale alpha / r (r read off
/// the shapes; alpha is not stored in checkpoints).
public struct LoRAMergeRule: Decodable, Sendable, Equatable {
    public var alpha: Double

    enum CodingKeys: String, CodingKey, CaseIterable { case alpha }

    public init(alpha: Double) { self.alpha = alpha }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "loraMerge rule")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        alpha = try c.decode(Double.self, forKey: .alpha)
        guard alpha.isFinite && alpha > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .alpha, in: c, debugDescription: "alpha must be positive")
        }
    }
}

/// Tensors the model does not use, dropped at import and reported as a group with the reason.
public struct DropRule: Decodable, Sendable, Equatable {
    public var pattern: KeyPattern
    public var reason: String

    enum CodingKeys: String, CodingKey, CaseIterable { case pattern, reason }

    public init(pattern: String, reason: String) throws {
        self.pattern = try KeyPattern(pattern)
        self.reason = reason
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "drop rule")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pattern = try c.decodeKeyPattern(.pattern)
        reason = try c.decode(String.self, forKey: .reason)
    }
}

/// A fused tensor cut into equal parts along axis 0, in the order `into` lists them
/// (e.g. OpenAI's `in_proj_weight` rows q | k | v).
public struct SplitRule: Decodable, Sendable, Equatable {
    public var from: KeyPattern
    public var into: [KeyPattern]

    enum CodingKeys: String, CodingKey, CaseIterable { case from, into }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "split rule")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        from = try c.decodeKeyPattern(.from)
        let texts = try c.decode([String].self, forKey: .into)
        guard texts.count >= 2 else {
            throw DecodingError.dataCorruptedError(forKey: .into, in: c, debugDescription: "a split needs at least two parts")
        }
        into = try texts.map { t in
            do { return try KeyPattern(t) } catch {
                throw DecodingError.dataCorruptedError(forKey: .into, in: c, debugDescription: "\(error)")
            }
        }
        for part in into where !Set(part.placeholders).isSubset(of: Set(from.placeholders)) {
            throw DecodingError.dataCorruptedError(forKey: .into, in: c,
                debugDescription: "'\(part)' uses a placeholder that '\(from)' does not capture")
        }
    }
}

/// A name change; `transpose` swaps the two axes of a 2-D tensor (OpenAI's `visual.proj`, used
/// as x @ proj, becomes HF's `visual_projection.weight`); `squeeze` reads a 1×1 conv kernel
/// [O, I, 1, 1] as a Linear weight [O, I] (the LDM VAE's mid attention q/k/v/proj_out).
public struct RenameRule: Decodable, Sendable, Equatable {
    public var from: KeyPattern
    public var to: KeyPattern
    public var transpose: Bool
    public var squeeze: Bool

    enum CodingKeys: String, CodingKey, CaseIterable { case from, to, transpose, squeeze }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "rename rule")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        from = try c.decodeKeyPattern(.from)
        to = try c.decodeKeyPattern(.to)
        transpose = try c.decodeIfPresent(Bool.self, forKey: .transpose) ?? false
        squeeze = try c.decodeIfPresent(Bool.self, forKey: .squeeze) ?? false
        guard Set(to.placeholders).isSubset(of: Set(from.placeholders)) else {
            throw DecodingError.dataCorruptedError(forKey: .to, in: c,
                debugDescription: "'\(to)' uses a placeholder that '\(from)' does not capture")
        }
    }
}

extension KeyedDecodingContainer {
    func decodeKeyPattern(_ key: Key) throws -> KeyPattern {
        let text = try decode(String.self, forKey: key)
        do { return try KeyPattern(text) } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "\(error)")
        }
    }
}
