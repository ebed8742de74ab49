/// Finding the weights inside what a checkpoint pickled: a bare state dict, or one wrapped by a
/// training framework (BasicSR `params`/`params_ema`, Lightning `state_dict` with a `net.` or
/// `model.` prefix, DataParallel's `module.` prefix), or nested dicts and lists, which are
/// flattened to dotted names. Whatever is not chosen is listed, one line per entry.
struct WeightSelection {
    var tensors: [(name: String, tensor: TorchTensorRef)] = []
    var wrapper: String?
    var ignored: [String] = []
}

enum Wrappers {
    /// Top-level keys holding weights, in order of preference when several exist. EMA weights
    /// first: they are the ones BasicSR-trained models are evaluated with (as spandrel does).
    static let preferredKeys = ["params_ema", "params-ema", "params", "state_dict", "model_state_dict",
                                "model", "net", "network", "generator"]
    /// Prefixes stripped when every tensor name carries them.
    static let dataParallelPrefix = "module."
    static let lightningPrefixes = ["net.", "model."]
    /// More ignored lines than this are summarised in one.
    static let maxIgnoredLines = 1000

    /// Picks and flattens the weights. `select` (a dotted path from the root) overrides the choice.
    static func select(root: PickleValue, heap: PickleHeap, select: String?, limits: PickleLimits) throws -> WeightSelection {
        var walker = TreeWalker(heap: heap, limits: limits)
        var result = WeightSelection()
        let chosen: PickleValue
        var chosenKey: String?
        var wrapper: String?

        if let select {
            guard let v = try walker.navigate(root, path: select) else {
                let top = walker.children(of: root)?.prefix(20).map { PickleRender.printable($0.key) } ?? []
                throw PickleError("nothing called '\(PickleRender.printable(select))' to select" +
                                  (top.isEmpty ? "" : "; top-level entries: \(top.joined(separator: ", "))"))
            }
            chosen = v
            chosenKey = select.split(separator: ".").last.map(String.init) ?? select
            wrapper = "\(PickleRender.printable(select)) (selected)"
            for (k, v) in walker.children(of: root) ?? [] where k != select && !select.hasPrefix(k + ".") {
                walker.ignore(k, v)
            }
        } else if heap.tensor(root) != nil {
            chosen = root
            wrapper = "single tensor"
        } else if heap.dict(root) != nil, let kids = walker.children(of: root),
                  let key = try preferredKeys.first(where: { k in try kids.first(where: { $0.key == k }).map { try walker.containsTensor($0.value) } ?? false }) {
            chosen = kids.first(where: { $0.key == key })!.value
            chosenKey = key
            wrapper = key
            for (k, v) in kids where k != key { walker.ignore(k, v) }
        } else {
            chosen = root
        }

        var named: [(String, TorchTensorRef)] = []
        if let t = heap.tensor(chosen) {
            named = [(chosenKey ?? "tensor", t)]
        } else {
            var path: [String] = []
            try walker.flatten(chosen, path: &path, depth: 0, into: &named)
        }

        // Strip wrapper prefixes carried by every name.
        var stripped: [String] = []
        func stripAll(_ prefix: String) -> Bool {
            guard !named.isEmpty, named.allSatisfy({ $0.0.hasPrefix(prefix) && $0.0.count > prefix.count }) else { return false }
            named = named.map { (String($0.0.dropFirst(prefix.count)), $0.1) }
            stripped.append(prefix)
            return true
        }
        while stripAll(dataParallelPrefix) {}
        if let k = chosenKey, k == "state_dict" || k == "model_state_dict" {
            for p in lightningPrefixes where stripAll(p) { break }
            while stripAll(dataParallelPrefix) {}
        }
        if !stripped.isEmpty {
            let desc = stripped.map { "'\($0)'" }.joined(separator: ", ")
            let note = "prefix\(stripped.count > 1 ? "es" : "") \(desc) stripped"
            wrapper = wrapper.map { "\($0) (\(note))" } ?? note
        }

        var seen = Set<String>()
        for (n, _) in named where !seen.insert(n).inserted {
            throw PickleError("two tensors are both named '\(PickleRender.printable(n))' once flattened")
        }
        result.tensors = named
        result.wrapper = wrapper
        result.ignored = walker.ignoredLines()
        return result
    }
}

/// Bounded walks over the pickle heap: every walk counts the nodes it visits and its depth, so
/// shared sub-structures ("billion laughs") and cycles fail cleanly instead of exploding.
struct TreeWalker {
    let heap: PickleHeap
    let limits: PickleLimits
    private var visited = 0
    private var ignored: [String] = []
    private var ignoredOverflow = 0

    init(heap: PickleHeap, limits: PickleLimits) {
        self.heap = heap
        self.limits = limits
    }

    private mutating func visit(_ depth: Int) throws {
        visited += 1
        guard visited <= limits.maxWalkNodes else {
            throw PickleError("structure expands past \(limits.maxWalkNodes) nodes (shared sub-structures: a 'billion laughs' pickle?)")
        }
        guard depth <= limits.maxNesting else { throw PickleError("nesting deeper than \(limits.maxNesting) levels") }
    }

    /// Named children of a branch: dict entries (string or integer keys), list/tuple items,
    /// the attributes of a Namespace or TorchScript object. nil for leaves.
    func children(of v: PickleValue) -> [(key: String, value: PickleValue)]? {
        guard case .ref(let r) = v else { return nil }
        switch heap[r] {
        case .dict(let d):
            var out: [(String, PickleValue)] = []
            out.reserveCapacity(d.count)
            for i in 0 ..< d.count {
                switch d.keys[i] {
                case .string(let s): out.append((s, d.values[i]))
                case .int(let n): out.append((String(n), d.values[i]))
                default: continue  // other key types cannot name a tensor
                }
            }
            return out
        case .list(let l): return l.items.enumerated().map { (String($0.offset), $0.element) }
        case .tuple(let t): return t.enumerated().map { (String($0.offset), $0.element) }
        case .object(let o) where o.kind == .namespace || o.kind == .torchScriptModule:
            guard let s = o.state else { return [] }
            return children(of: s)
        default:
            return nil
        }
    }

    /// Follows a dotted path; keys may themselves contain dots (the longest match wins).
    mutating func navigate(_ root: PickleValue, path: String) throws -> PickleValue? {
        var current = root
        var rest = Substring(path)
        var depth = 0
        while !rest.isEmpty {
            try visit(depth)
            depth += 1
            guard let kids = children(of: current) else { return nil }
            if let exact = kids.first(where: { $0.key == rest }) {
                current = exact.value
                rest = ""
            } else if let best = kids.filter({ rest.hasPrefix($0.key + ".") }).max(by: { $0.key.count < $1.key.count }) {
                current = best.value
                rest = rest.dropFirst(best.key.count + 1)
            } else {
                return nil
            }
        }
        return current
    }

    /// Whether any tensor lies under `v` (stops at the first one).
    mutating func containsTensor(_ v: PickleValue, depth: Int = 0) throws -> Bool {
        try visit(depth)
        if heap.tensor(v) != nil { return true }
        guard let kids = children(of: v) else { return false }
        for (_, c) in kids where try containsTensor(c, depth: depth + 1) { return true }
        return false
    }

    /// Every tensor under `v` with its dotted name; other leaves are listed as ignored. The
    /// path is kept as components and joined only for what is reported, so a walk costs O(1)
    /// per node however deep it goes.
    mutating func flatten(_ v: PickleValue, path: inout [String], depth: Int, into out: inout [(String, TorchTensorRef)]) throws {
        try visit(depth)
        if let t = heap.tensor(v) {
            out.append((path.joined(separator: "."), t))
            return
        }
        if let o = heap.object(v), o.kind == .unsupportedTensor {
            throw PickleError("tensor '\(PickleRender.printable(path.joined(separator: ".")))' is rebuilt by \(o.className), which irzoo does not support (quantized, sparse or meta tensors)")
        }
        guard let kids = children(of: v) else {
            if !path.isEmpty { ignore(path.joined(separator: "."), v) }
            return
        }
        for (k, c) in kids {
            path.append(k)
            try flatten(c, path: &path, depth: depth + 1, into: &out)
            path.removeLast()
        }
    }

    mutating func ignore(_ path: String, _ v: PickleValue) {
        guard ignored.count < Wrappers.maxIgnoredLines else { ignoredOverflow += 1; return }
        ignored.append("\(PickleRender.printable(path)) (\(summary(v)), ignored)")
    }

    func ignoredLines() -> [String] {
        ignoredOverflow == 0 ? ignored : ignored + ["... and \(ignoredOverflow) more entries ignored"]
    }

    /// "list of 3", "OrderedDict of 2", "argparse.Namespace", "placeholder for pathlib.PosixPath", ...
    func summary(_ v: PickleValue) -> String {
        guard case .ref(let r) = v else { return PickleRender.typeName(v, heap) }
        switch heap[r] {
        case .tuple(let t): return "tuple of \(t.count)"
        case .list(let l): return "list of \(l.items.count)"
        case .set(let s, let frozen): return "\(frozen ? "frozenset" : "set") of \(s.items.count)"
        case .dict(let d): return "\((d.className ?? "dict").split(separator: ".").last!) of \(d.count)"
        case .object(let o) where o.kind == .placeholder: return "placeholder for \(PickleRender.printable(o.className))"
        case .tensor(let t): return "tensor \(t.shape)"
        default: return PickleRender.typeName(v, heap)
        }
    }
}
