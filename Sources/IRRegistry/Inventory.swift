import IRTensor

/// One tensor a model expects, under its upstream name.
public struct ParameterSpec: Sendable, Hashable, CustomStringConvertible {
    /// Parameters are trained weights; buffers are state the forward pass reads (BatchNorm
    /// running statistics). Published parameter counts include only the former.
    public enum Kind: String, Sendable, Hashable { case parameter, buffer }

    public var name: String
    public var shape: [Int]
    public var kind: Kind

    public init(_ name: String, _ shape: [Int], kind: Kind = .parameter) {
        self.name = name
        self.shape = shape
        self.kind = kind
    }

    public var elementCount: Int { ShapeMath.elementCount(shape) ?? 0 }
    public var description: String { "\(name) \(shape)" }
}

extension Array where Element == ParameterSpec {
    /// Sum of element counts of the `.parameter` entries (the number papers quote).
    public var parameterCount: Int { reduce(0) { $0 + ($1.kind == .parameter ? $1.elementCount : 0) } }
    /// Sum over every entry, buffers included.
    public var valueCount: Int { reduce(0) { $0 + $1.elementCount } }
}

/// Builds inventories: names under a growing prefix, in declaration order.
public struct InventoryBuilder {
    public private(set) var specs: [ParameterSpec] = []
    private var prefixes: [String] = []

    public init() {}

    private var prefix: String { prefixes.joined() }

    public mutating func add(_ name: String, _ shape: [Int], kind: ParameterSpec.Kind = .parameter) {
        specs.append(ParameterSpec(prefix + name, shape, kind: kind))
    }

    /// Runs `body` with `scope + "."` appended to every name it adds.
    public mutating func scope(_ scope: String, _ body: (inout InventoryBuilder) -> Void) {
        prefixes.append(scope + ".")
        body(&self)
        prefixes.removeLast()
    }

    public mutating func append(contentsOf other: [ParameterSpec], under scope: String) {
        for s in other { specs.append(ParameterSpec(prefix + scope + "." + s.name, s.shape, kind: s.kind)) }
    }

    // Shared layer shapes (PyTorch layouts: conv [out, in/groups, kh, kw], linear [out, in]).

    public mutating func conv(_ name: String, out: Int, in inChannels: Int, kernel: Int, groups: Int = 1, bias: Bool) {
        add(name + ".weight", [out, inChannels / groups, kernel, kernel])
        if bias { add(name + ".bias", [out]) }
    }

    public mutating func linear(_ name: String, out: Int, in inFeatures: Int, bias: Bool) {
        add(name + ".weight", [out, inFeatures])
        if bias { add(name + ".bias", [out]) }
    }

    public mutating func layerNorm(_ name: String, _ dim: Int, bias: Bool = true) {
        add(name + ".weight", [dim])
        if bias { add(name + ".bias", [dim]) }
    }
}

/// What import found against what the model declares: every problem at once.
public struct InventoryReport: Sendable, CustomStringConvertible {
    public struct Mismatch: Sendable, Equatable {
        public var name: String
        public var expected: [Int]
        public var found: [Int]
        public var foundDType: DType
    }

    public var missing: [ParameterSpec]
    public var unexpected: [TensorShape]
    public var mismatched: [Mismatch]
    public var matched: Int

    public var isExact: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }

    /// "2 missing, 1 unexpected, 3 mis-shaped" (or "all 453 tensors match").
    public var summary: String {
        if isExact { return "all \(matched) tensors match" }
        var parts = [String]()
        if !missing.isEmpty { parts.append("\(missing.count) missing") }
        if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected") }
        if !mismatched.isEmpty { parts.append("\(mismatched.count) mis-shaped") }
        return parts.joined(separator: ", ") + " (\(matched) match)"
    }

    /// One line per problem: expected vs found.
    public var lines: [String] { lines(limit: Int.max) }

    /// At most `limit` lines per kind of problem (missing, unexpected, mis-shaped), each kind cut
    /// short ending in "... and N more <kind>": a checkpoint of another architecture can have
    /// hundreds of each.
    public func lines(limit: Int) -> [String] {
        func firstLines<T>(_ items: [T], _ kind: String, _ line: (T) -> String) -> [String] {
            let shown = items.prefix(max(0, limit)).map(line)
            return items.count > shown.count ? shown + ["... and \(items.count - shown.count) more \(kind)"] : shown
        }
        return firstLines(missing, "missing") { "missing     \($0.name): expected \($0.shape)" }
            + firstLines(unexpected, "unexpected") { "unexpected  \($0.name): found \($0.shape) \($0.dtype.rawValue)" }
            + firstLines(mismatched, "mis-shaped") { m in
                m.expected == m.found
                    ? "wrong dtype \(m.name): expected a floating-point tensor, found \(m.foundDType.rawValue)"
                    : "mis-shaped  \(m.name): expected \(m.expected), found \(m.found)"
            }
    }

    public var description: String { ([summary] + lines).joined(separator: "\n") }
}

/// Checks a mapped tensor table against a model's inventory.
public enum InventoryCheck {
    public static func check(expected: [ParameterSpec], found: [TensorShape]) -> InventoryReport {
        var byName = [String: TensorShape](minimumCapacity: found.count)
        for f in found { byName[f.name] = f }
        var missing = [ParameterSpec](), mismatched = [InventoryReport.Mismatch]()
        var expectedNames = Set<String>(minimumCapacity: expected.count)
        var matched = 0
        for spec in expected {
            expectedNames.insert(spec.name)
            guard let f = byName[spec.name] else { missing.append(spec); continue }
            if f.shape != spec.shape || !f.dtype.isFloatingPoint {
                mismatched.append(.init(name: spec.name, expected: spec.shape, found: f.shape, foundDType: f.dtype))
            } else {
                matched += 1
            }
        }
        let unexpected = found.filter { !expectedNames.contains($0.name) }
        return InventoryReport(missing: missing, unexpected: unexpected, mismatched: mismatched, matched: matched)
    }

    public static func check<T: MappableTensor>(expected: [ParameterSpec], tensors: [T]) -> InventoryReport {
        check(expected: expected, found: tensors.map { TensorShape(name: $0.name, shape: $0.shape, dtype: $0.dtype) })
    }
}

/// Import refused because the tensors do not fit the model: carries the whole report.
/// The CLI gives it an exit code of its own.
public struct InventoryMismatchError: Error, CustomStringConvertible, Sendable {
    public let modelID: String
    public let file: String
    public let report: InventoryReport

    public init(modelID: String, file: String, report: InventoryReport) {
        self.modelID = modelID
        self.file = file
        self.report = report
    }

    public var description: String {
        "\(file): does not fit \(modelID): \(report.summary)\n" + report.lines.map { "  " + $0 }.joined(separator: "\n")
    }
}
