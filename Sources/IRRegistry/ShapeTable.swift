/// Name -> shape lookups that config detection reads hyperparameters from.
public struct ShapeTable: Sendable {
    public let shapes: [String: [Int]]

    public init<T: MappableTensor>(_ tensors: [T]) {
        var d = [String: [Int]](minimumCapacity: tensors.count)
        for t in tensors { d[t.name] = t.shape }
        shapes = d
    }

    public init(shapes: [String: [Int]]) { self.shapes = shapes }

    public subscript(_ name: String) -> [Int]? { shapes[name] }

    public func has(_ name: String) -> Bool { shapes[name] != nil }

    /// Dimension `axis` of `name`, when the tensor exists with that many axes.
    public func dim(_ name: String, _ axis: Int) -> Int? {
        guard let s = shapes[name], axis < s.count else { return nil }
        return s[axis]
    }

    /// How many consecutive indices `prefix0.`, `prefix1.`, ... exist (names like `encoders.0.3.x`
    /// give 1 + the highest index directly under `prefix`). Gaps end the count.
    public func count(indicesUnder prefix: String) -> Int {
        var present = Set<Int>()
        for name in shapes.keys where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), let i = Int(rest[rest.startIndex..<dot]), i >= 0 else { continue }
            present.insert(i)
        }
        var n = 0
        while present.contains(n) { n += 1 }
        return n
    }

    /// Names among `names` that are absent.
    public func missing(_ names: [String]) -> [String] { names.filter { shapes[$0] == nil } }
}
