/// One tensor that identifies a family, and the rank it must have (any when nil).
public struct KeyCondition: Sendable, ExpressibleByStringLiteral {
    public let name: String
    public let rank: Int?

    public init(_ name: String, rank: Int? = nil) {
        self.name = name
        self.rank = rank
    }

    public init(stringLiteral name: String) { self.init(name) }
}

/// Detection as data (after spandrel's `KeyCondition`): the tensors whose presence, each with
/// its rank, says a state_dict is of a family. Every config's `detect` starts here; what the
/// shapes then say about the hyperparameters is the family's own reading.
public struct KeySignature: Sendable {
    public let conditions: [KeyCondition]

    public init(_ conditions: [KeyCondition]) { self.conditions = conditions }

    /// The same conditions on names under `prefix` (a tower inside a larger network).
    public func prefixed(_ prefix: String) -> KeySignature {
        KeySignature(conditions.map { KeyCondition(prefix + $0.name, rank: $0.rank) })
    }

    /// Nil when `t` has every identifying tensor with its rank; else the absent names (empty when
    /// all are present but one has another rank), for `Detection.absent`.
    public func mismatch(_ t: ShapeTable) -> [String]? {
        let missing = t.missing(conditions.map(\.name))
        guard missing.isEmpty else { return missing }
        for c in conditions { if let rank = c.rank, t[c.name]?.count != rank { return [] } }
        return nil
    }
}
