/// Weights of a TorchScript archive (how OpenAI ships CLIP): `data.pkl` pickles the module
/// object tree (`__torch__.*` objects whose BUILD state is their attribute dict). The code files
/// `code/__torch__/….py` declare each class's `__parameters__` and `__buffers__`; walking the
/// tree with them reproduces `torch.jit.load(f).state_dict()` names and order: per module its
/// parameters, then its buffers (attribute order), then its submodules.
enum TorchScriptModules {
    struct ClassInfo {
        var parameters: Set<String> = []
        var buffers: Set<String> = []
        var isModule = false
    }

    static let maxCodeBytes = 16 << 20

    /// Reads every class declaration under `code/`. Keys are qualified names
    /// ("__torch__.torch.nn.modules.linear.Linear"), as data.pkl's globals spell them.
    static func classInfo(_ zip: ZipArchive, codePrefix: String) throws -> [String: ClassInfo] {
        var classes: [String: ClassInfo] = [:]
        // Code files are small; a huge one is skipped (its classes then keep every tensor
        // attribute) rather than inflated.
        for e in zip.entries where e.name.hasPrefix(codePrefix) && e.name.hasSuffix(".py") && e.uncompressedSize <= maxCodeBytes {
            let module = e.name.dropFirst(codePrefix.count).dropLast(3).replacingSlashesWithDots()
            let text = String(decoding: try zip.data(of: e).bytes, as: UTF8.self)
            var current: String?
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasPrefix("class ") {
                    // class Name(Base):
                    let decl = line.dropFirst(6)
                    let name = decl.prefix { $0 != "(" && $0 != ":" }
                    current = "\(module).\(name)"
                    var info = ClassInfo()
                    info.isModule = decl.dropFirst(name.count).hasPrefix("(Module)")
                    classes[current!] = info
                } else if let c = current, line.hasPrefix("  __parameters__ = [") {
                    classes[c]?.parameters = Set(quotedNames(line))
                } else if let c = current, line.hasPrefix("  __buffers__ = [") {
                    classes[c]?.buffers = Set(quotedNames(line))
                } else if !line.hasPrefix(" ") {
                    current = nil
                }
            }
        }
        return classes
    }

    /// The double-quoted strings of a line such as `  __parameters__ = ["weight", "bias", ]`.
    static func quotedNames<S: StringProtocol>(_ line: S) -> [String] {
        line.split(separator: "\"", omittingEmptySubsequences: false).enumerated()
            .filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    static func select(root: PickleValue, heap: PickleHeap, classes: [String: ClassInfo],
                       select: String?, limits: PickleLimits) throws -> WeightSelection {
        guard let rootObject = heap.object(root), rootObject.kind == .torchScriptModule else {
            throw PickleError("TorchScript data.pkl holds a \(PickleRender.typeName(root, heap)), not a module object")
        }
        var walker = TreeWalker(heap: heap, limits: limits)
        var start = rootObject
        if let select {
            guard let v = try walker.navigate(root, path: select), let o = heap.object(v), o.kind == .torchScriptModule else {
                throw PickleError("no submodule '\(PickleRender.printable(select))' to select in the TorchScript module tree")
            }
            start = o
        }
        var walk = ModuleWalk(heap: heap, classes: classes, limits: limits)
        try walk.visit(start, prefix: "", depth: 0)
        var result = WeightSelection()
        result.tensors = walk.tensors
        result.ignored = walk.ignored
        result.wrapper = "TorchScript module \(PickleRender.printable(rootObject.className))" +
            (select.map { ", submodule '\(PickleRender.printable($0))' (selected)" } ?? "")
        var seen = Set<String>()
        for (n, _) in result.tensors where !seen.insert(n).inserted {
            throw PickleError("two tensors are both named '\(PickleRender.printable(n))'")
        }
        return result
    }

    private struct ModuleWalk {
        let heap: PickleHeap
        let classes: [String: ClassInfo]
        let limits: PickleLimits
        var tensors: [(name: String, tensor: TorchTensorRef)] = []
        var ignored: [String] = []
        var visited = 0

        mutating func visit(_ object: PickleObject, prefix: String, depth: Int) throws {
            visited += 1
            guard visited <= limits.maxWalkNodes else { throw PickleError("module tree expands past \(limits.maxWalkNodes) nodes") }
            guard depth <= limits.maxNesting else { throw PickleError("module tree deeper than \(limits.maxNesting) levels") }
            guard let state = object.state, let attrs = heap.dict(state) else { return }
            let info = classes[object.className]
            var pairs: [(String, PickleValue)] = []
            for i in 0 ..< attrs.count {
                if case .string(let k) = attrs.keys[i] { pairs.append((k, attrs.values[i])) }
            }
            func emit(_ name: String, _ v: PickleValue) throws {
                if let t = heap.tensor(v) {
                    tensors.append((prefix + name, t))
                } else if let o = heap.object(v), o.kind == .unsupportedTensor {
                    throw PickleError("tensor '\(PickleRender.printable(prefix + name))' is rebuilt by \(o.className), which irzoo does not support")
                }
            }
            if let info {
                for (k, v) in pairs where info.parameters.contains(k) { try emit(k, v) }
                for (k, v) in pairs where info.buffers.contains(k) { try emit(k, v) }
                for (k, v) in pairs where heap.tensor(v) != nil && !info.parameters.contains(k) && !info.buffers.contains(k) {
                    ignored.append("\(PickleRender.printable(prefix + k)) (tensor attribute, not a parameter or buffer, ignored)")
                }
            } else {
                // No class declaration found: every tensor attribute counts.
                for (k, v) in pairs { try emit(k, v) }
            }
            for (k, v) in pairs {
                guard let child = heap.object(v), child.kind == .torchScriptModule else { continue }
                if let ci = classes[child.className], !ci.isModule { continue }
                try visit(child, prefix: "\(prefix)\(k).", depth: depth + 1)
            }
        }
    }
}

extension Substring {
    func replacingSlashesWithDots() -> String {
        String(map { $0 == "/" ? "." : $0 })
    }
}
