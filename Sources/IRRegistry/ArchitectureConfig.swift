/// A family's configuration: the hyperparameters its weights' shapes follow. The Swift model
/// (in IRModels) is built from the same value, so the forward pass and the inventory agree.
public protocol ArchitectureConfig: Codable, Equatable, Sendable {
    /// The manifest `family` this config belongs to.
    static var family: String { get }
    /// Throws a `ConfigError` naming the field when the values cannot describe a network.
    func validate() throws
    /// Every tensor the model expects, under upstream names, in state_dict order.
    var inventory: [ParameterSpec] { get }
    /// One line for `irzoo show` ("width 48, blocks 4/6/6 | 8 | 6/6/4, heads 1/2/4 | 8").
    var summary: String { get }
    /// Reads the config off tensor shapes (upstream names, after the layout's rules).
    static func detect(_ table: ShapeTable) -> Detection<Self>
}

/// What shape-based detection concluded for one family.
public enum Detection<Config> {
    /// The family's hyperparameters; `notes` say what the weights could not tell.
    case found(Config, notes: [String])
    /// Not this family: the identifying tensors that were absent.
    case absent(missing: [String])
}

public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let family: String
    public let field: String
    public let reason: String

    public init(_ family: String, _ field: String, _ reason: String) {
        self.family = family
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(family) config: \(field): \(reason)" }
}

/// Limits that keep every inventory shape far from Int overflow, whatever a file or `--config` says.
public enum ConfigLimits {
    public static let maxChannels = 1 << 16
    public static let maxBlocks = 4096
    public static let maxLevels = 8

    public static func check(_ family: String, _ field: String, _ value: Int, min: Int = 1, max: Int = maxChannels) throws {
        guard value >= min && value <= max else {
            throw ConfigError(family, field, "\(value) is outside \(min)...\(max)")
        }
    }

    public static func check(_ family: String, _ field: String, _ values: [Int], count: Int? = nil, min: Int = 1, max: Int = maxChannels) throws {
        if let count, values.count != count {
            throw ConfigError(family, field, "needs \(count) entries, found \(values.count)")
        }
        for (i, v) in values.enumerated() { try check(family, "\(field)[\(i)]", v, min: min, max: max) }
    }

    public static func checkFactor(_ family: String, _ field: String, _ value: Double) throws {
        guard value.isFinite && value > 0 && value <= 64 else {
            throw ConfigError(family, field, "\(value) is outside (0, 64]")
        }
    }
}

/// Restormer's two LayerNorm flavours (channel-wise, per pixel).
public enum LayerNormKind: String, Codable, Sendable {
    case withBias = "WithBias"
    case biasFree = "BiasFree"
}

/// `int(C * factor)` as Python computes it (double product, truncation toward zero).
@inline(__always) public func pythonIntProduct(_ c: Int, _ factor: Double) -> Int {
    Int((Double(c) * factor).rounded(.towardZero))
}

/// The expansion factor that reproduces every observed `(channels, hidden)` pair under
/// `int(channels * factor)`: the common published values first, then ones derived from the data.
public func detectExpansionFactor(_ pairs: [(channels: Int, hidden: Int)]) -> Double? {
    guard let first = pairs.first, first.channels > 0 else { return nil }
    var candidates: [Double] = [2.66, 2.0, 4.0, 3.0, 1.0, 1.5, 2.5, 8.0 / 3.0]
    for p in pairs where p.channels > 0 {
        candidates.append(Double(p.hidden) / Double(p.channels))
        candidates.append((Double(p.hidden) + 0.5) / Double(p.channels))
    }
    return candidates.first { f in pairs.allSatisfy { pythonIntProduct($0.channels, f) == $0.hidden } }
}
