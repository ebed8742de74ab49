import IRTensor

/// GLOBAL, REDUCE, NEWOBJ, INST/OBJ, BUILD and persistent ids: the opcodes that run code in
/// Python's unpickler. Here each builds an inert record chosen by the global's allow-list kind;
/// nothing is imported or called, and arguments are checked against what torch would accept.
extension PickleMachine {
    func resolveGlobal(module: String, name: String, offset: Int) throws -> PickleValue {
        guard !module.isEmpty, !name.isEmpty, module.utf8.count <= 1024, name.utf8.count <= 1024 else {
            throw PickleError("malformed global name")
        }
        if let kind = PickleAllowList.kind(module: module, name: name, torchScript: torchScript) {
            let g = PickleGlobal(module: PickleAllowList.canonicalModule(module), name: name, kind: kind, offset: offset)
            return try make(.global(g), items: [])
        }
        let qualified = PickleRender.printable("\(module).\(name)")
        guard permissive else {
            // A whole pickled model (torch.save(model)) names its classes; say what to do instead.
            let hint = module.hasPrefix("torch.nn.modules") || module == "__main__"
                ? "; this looks like a whole pickled model: save its state_dict() instead" : ""
            throw PickleError("refused global \(qualified): not on irzoo's allow-list (nothing was imported or called; --permissive reads it as an inert placeholder outside the weights\(hint))", offset: offset)
        }
        let g = PickleGlobal(module: module, name: name, kind: .placeholder, offset: offset)
        notePlaceholder(g)
        return try make(.global(g), items: [])
    }

    func reduce(_ callable: PickleValue, _ argsValue: PickleValue) throws -> PickleValue {
        guard let args = heap.tuple(argsValue) else {
            throw PickleError("REDUCE arguments must be a tuple, got \(describeType(argsValue))")
        }
        return try call(callable, args, opcode: "REDUCE")
    }

    /// INST and OBJ: classes are instantiated, functions called.
    func instantiate(_ cls: PickleValue, args: [PickleValue], opcode: String) throws -> PickleValue {
        if let g = heap.global(cls), Self.classKinds.contains(where: { $0 == g.kind }) {
            return try newObject(g, args, kwargs: [])
        }
        return try call(cls, args, opcode: opcode)
    }

    private static let classKinds: [PickleGlobalKind] = [
        .namespace, .attributeDict, .torchScriptClass, .orderedDict, .counter, .set, .frozenset, .placeholder,
    ]

    // MARK: - Calls

    func call(_ callable: PickleValue, _ args: [PickleValue], opcode: String) throws -> PickleValue {
        guard let g = heap.global(callable) else {
            if let o = heap.object(callable), o.kind == .placeholder {
                return try object(o.className, .placeholder, args)
            }
            throw PickleError("\(opcode) on \(describeType(callable)): only allow-listed functions can be called")
        }
        // Computed only when used: this runs once per tensor.
        var name: String { PickleRender.printable(g.qualifiedName) }
        func bad(_ expected: String) -> PickleError {
            PickleError("bad arguments to \(name): expected \(expected), got (\(args.map(describeType).joined(separator: ", ")))")
        }
        switch g.kind {
        case .rebuildTensor(let version):
            return try rebuildTensor(version: version, args, bad)
        case .rebuildParameter:
            guard (3...4).contains(args.count), isTensorLike(args[0]) else {
                throw bad("(tensor, requires_grad, backward_hooks[, state])")
            }
            return args[0]
        case .rebuildFromType:
            guard args.count == 4, let f = heap.global(args[0]), let t = heap.global(args[1]), t.kind == .tensorClass,
                  let inner = heap.tuple(args[2]) else {
                throw bad("(rebuild function, tensor class, args, state)")
            }
            switch f.kind {
            case .rebuildTensor, .rebuildParameter, .rebuildUnsupported:
                return try call(args[0], inner, opcode: opcode)
            default:
                throw bad("a torch._utils._rebuild_* function first")
            }
        case .rebuildUnsupported:
            return try object(name, .unsupportedTensor, args)
        case .torchSize:
            guard args.count == 1, let dims = heap.sequence(args[0]), dims.allSatisfy({ $0.int != nil }) else {
                throw bad("(tuple of ints)")
            }
            return try make(.tuple(dims), items: dims)
        case .torchDevice:
            guard (1...2).contains(args.count), args[0].string != nil else { throw bad("(type[, index])") }
            return try object(name, .torchDevice, args)
        case .torchLayout:
            guard args.count == 1, args[0].string != nil else { throw bad("(layout name)") }
            return try object(name, .torchLayout, args)
        case .orderedDict, .counter, .attributeDict:
            guard args.count <= 1 else { throw bad("() or (mapping or pairs)") }
            return try newDict(className: name, contents: args.first, bad)
        case .set, .frozenset:
            guard args.count <= 1 else { throw bad("() or (iterable)") }
            var items: [PickleValue] = []
            if let src = args.first {
                if case .ref(let r) = src, case .set(let s, _) = heap[r] { items = s.items }
                else if let seq = heap.sequence(src) { items = seq }
                else { throw bad("() or (iterable)") }
            }
            return try make(.set(PickleList(items), frozen: g.kind == .frozenset), items: items)
        case .bytesType:
            switch args.count {
            case 0: return .bytes(ByteViewFactory.make([]))
            case 1:
                guard case .bytes = args[0] else { throw bad("(bytes)") }
                return args[0]
            case 2:
                guard let s = args[0].string, let enc = args[1].string else { throw bad("(str, encoding)") }
                return .bytes(ByteViewFactory.make(try encode(s, enc, name)))
            default: throw bad("(bytes) or (str, encoding)")
            }
        case .codecsEncode:
            guard (1...2).contains(args.count), let s = args[0].string else { throw bad("(str, encoding)") }
            let enc = args.count == 2 ? args[1].string : "utf-8"
            guard let enc else { throw bad("(str, encoding)") }
            return .bytes(ByteViewFactory.make(try encode(s, enc, name)))
        case .complex:
            guard (1...2).contains(args.count), args.allSatisfy(isNumber) else { throw bad("(real[, imag])") }
            return try object(name, .complex, args)
        case .reconstructor:
            // copyreg._reconstructor(cls, object, None) builds a bare instance (protocols 0/1).
            guard args.count == 3, let cls = heap.global(args[0]), let base = heap.global(args[1]),
                  base.kind == .objectClass else {
                throw bad("(allowed class, builtins.object, None)")
            }
            guard case .none = args[2] else { throw bad("(allowed class, builtins.object, None)") }
            return try newObject(cls, [], kwargs: [])
        case .numpyScalar:
            guard (1...2).contains(args.count), heap.object(args[0])?.kind == .numpyDType else { throw bad("(numpy dtype[, bytes])") }
            return try object(name, .numpyScalar, args)
        case .numpyReconstruct:
            guard args.count == 3, heap.global(args[0])?.kind == .numpyNDArray else { throw bad("(numpy.ndarray, shape, typecode)") }
            return try object("numpy.ndarray", .numpyArray, args)
        case .numpyFromBuffer:
            guard args.count == 4, case .bytes = args[0], heap.object(args[1])?.kind == .numpyDType else {
                throw bad("(buffer, dtype, shape, order)")
            }
            return try object("numpy.ndarray", .numpyArray, args)
        case .numpyDType:
            guard (1...3).contains(args.count), args[0].string != nil else { throw bad("(type string[, align, copy])") }
            return try object("numpy.dtype", .numpyDType, args)
        case .namespace:
            guard args.isEmpty else { throw bad("()") }
            return try object(name, .namespace, [])
        case .torchVersion:
            guard args.count == 1, args[0].string != nil else { throw bad("(version string)") }
            return args[0]
        case .jitIdentity:
            guard (1...2).contains(args.count) else { throw bad("(value[, type tag])") }
            return args[0]
        case .placeholder:
            return try object(name, .placeholder, args)
        case .storageType, .torchDType, .tensorClass, .objectClass, .numpyNDArray, .torchScriptClass:
            throw PickleError("\(opcode) on \(name): it may be named but not called")
        }
    }

    // MARK: - NEWOBJ

    func newObject(_ clsValue: PickleValue, _ argsValue: PickleValue, kwargs kwValue: PickleValue?) throws -> PickleValue {
        guard let args = heap.tuple(argsValue) else {
            throw PickleError("NEWOBJ arguments must be a tuple, got \(describeType(argsValue))")
        }
        var kwargs: [PickleValue] = []
        if let kwValue {
            guard let d = heap.dict(kwValue) else { throw PickleError("NEWOBJ_EX keyword arguments must be a dict") }
            for (k, v) in zip(d.keys, d.values) { kwargs.append(k); kwargs.append(v) }
        }
        guard let g = heap.global(clsValue) else {
            if let o = heap.object(clsValue), o.kind == .placeholder {
                return try object(o.className, .placeholder, args)
            }
            throw PickleError("NEWOBJ on \(describeType(clsValue)): only allow-listed classes can be built")
        }
        return try newObject(g, args, kwargs: kwargs)
    }

    private func newObject(_ g: PickleGlobal, _ args: [PickleValue], kwargs: [PickleValue]) throws -> PickleValue {
        var name: String { PickleRender.printable(g.qualifiedName) }
        switch g.kind {
        case .namespace:
            guard args.isEmpty else { throw PickleError("bad arguments to \(name): expected no positional arguments") }
            let o = try object(name, .namespace, [])
            if !kwargs.isEmpty {
                let d = PickleDict()
                try setItems(d, kwargs, opcode: "NEWOBJ_EX")
                heap.object(o)!.state = try make(.dict(d), items: kwargs)
            }
            return o
        case .attributeDict, .orderedDict, .counter:
            guard args.isEmpty || (args.count == 1 && heap.sequence(args[0])?.isEmpty == true) else {
                throw PickleError("bad arguments to \(name): expected ()")
            }
            return try make(.dict(PickleDict(className: name)), items: [])
        case .set, .frozenset:
            return try make(.set(PickleList(), frozen: g.kind == .frozenset), items: [])
        case .torchScriptClass:
            return try object(name, .torchScriptModule, args)
        case .torchVersion:
            guard args.count == 1, args[0].string != nil else { throw PickleError("bad arguments to \(name): expected (version string)") }
            return args[0]
        case .placeholder:
            return try object(name, .placeholder, args)
        default:
            throw PickleError("NEWOBJ on \(name) is not allowed: only plain records (Namespace, AttributeDict, OrderedDict, TorchScript modules) can be built")
        }
    }

    // MARK: - BUILD

    /// BUILD sets an object's state. Allowed on dicts (attributes such as `_metadata`), records
    /// that carry state (Namespace, numpy, TorchScript modules) and tensors (state ignored).
    func build(_ target: PickleValue, _ state: PickleValue) throws {
        if case .ref(let r) = target {
            switch heap[r] {
            case .dict(let d):
                try checkedDepth(r, state)
                d.attributes = state
                return
            case .object(let o):
                switch o.kind {
                case .placeholder:
                    return
                case .namespace, .torchScriptModule, .numpyArray, .numpyDType, .numpyScalar, .unsupportedTensor:
                    try checkedDepth(r, state)
                    o.state = state
                    return
                default:
                    break
                }
            case .tensor:
                return
            default:
                break
            }
        }
        throw PickleError("BUILD on \(describeType(target)) is not allowed")
    }

    private func checkedDepth(_ r: Int, _ state: PickleValue) throws {
        let d = heap.depth(of: state) + 1
        guard d <= limits.maxNesting else { throw PickleError("nesting deeper than \(limits.maxNesting) levels") }
        heap.raiseDepth(of: r, to: d)
    }

    // MARK: - Persistent ids

    func persistent(_ pid: PickleValue) throws -> PickleValue {
        guard let persistentLoad else {
            throw PickleError("persistent id \(describeType(pid)) in a pickle that may not reference storages")
        }
        return try persistentLoad(pid, heap)
    }

    // MARK: - Helpers

    private func rebuildTensor(version: Int, _ args: [PickleValue], _ bad: (String) -> PickleError) throws -> PickleValue {
        let expected: String
        let counts: ClosedRange<Int>
        switch version {
        case 1: expected = "(storage, offset, size, stride)"; counts = 4...4
        case 2: expected = "(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])"; counts = 6...7
        default: expected = "(storage, offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])"; counts = 7...8
        }
        guard counts.contains(args.count), case .ref(let sr) = args[0], case .storage(let storage) = heap[sr],
              let offset = args[1].int, let shape = ints(args[2]), let strides = ints(args[3]) else {
            throw bad(expected)
        }
        var override: (dtype: DType?, size: Int, name: String)?
        if version == 3 {
            guard let g = heap.global(args[6]), case .torchDType(let n) = g.kind, let info = TorchDTypeName.byName[n] else {
                throw bad(expected)
            }
            override = (info.0, info.1, n)
        } else if storage.type.isUntyped {
            throw PickleError("tensor on an untyped storage without a dtype")
        }
        let t = try TorchTensorRef.validated(storage: storage, offset: offset, shape: shape, strides: strides, dtypeOverride: override)
        return try make(.tensor(t), items: [])
    }

    private func ints(_ v: PickleValue) -> [Int]? {
        guard let seq = heap.sequence(v) else { return nil }
        var out: [Int] = []
        out.reserveCapacity(seq.count)
        for e in seq {
            guard case .int(let i) = e else { return nil }
            out.append(i)
        }
        return out
    }

    private func isTensorLike(_ v: PickleValue) -> Bool {
        if heap.tensor(v) != nil { return true }
        return heap.object(v)?.kind == .unsupportedTensor
    }

    private func isNumber(_ v: PickleValue) -> Bool {
        switch v {
        case .int, .float, .bool, .bigInt: return true
        default: return false
        }
    }

    private func object(_ className: String, _ kind: PickleObjectKind, _ args: [PickleValue]) throws -> PickleValue {
        try make(.object(PickleObject(className: className, kind: kind, args: args)), items: args)
    }

    private func newDict(className: String, contents: PickleValue?, _ bad: (String) -> PickleError) throws -> PickleValue {
        let d = PickleDict(className: className)
        var items: [PickleValue] = []
        if let contents {
            if let src = heap.dict(contents) {
                for (k, v) in zip(src.keys, src.values) { items.append(k); items.append(v) }
            } else if let pairs = heap.sequence(contents) {
                for p in pairs {
                    guard let kv = heap.tuple(p) ?? heap.sequence(p), kv.count == 2 else { throw bad("() or (mapping or pairs)") }
                    items.append(kv[0]); items.append(kv[1])
                }
            } else {
                throw bad("() or (mapping or pairs)")
            }
        }
        let v = try make(.dict(d), items: items)
        try setItems(d, items, opcode: "REDUCE")
        return v
    }

    private func encode(_ s: String, _ encoding: String, _ name: String) throws -> [UInt8] {
        switch encoding.lowercased() {
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1":
            var out: [UInt8] = []
            out.reserveCapacity(s.unicodeScalars.count)
            for u in s.unicodeScalars {
                guard u.value <= 0xFF else { throw PickleError("\(name): character U+\(String(u.value, radix: 16)) does not fit latin-1") }
                out.append(UInt8(u.value))
            }
            return out
        case "utf-8", "utf8":
            return Array(s.utf8)
        case "ascii":
            guard s.utf8.allSatisfy({ $0 < 0x80 }) else { throw PickleError("\(name): string is not ASCII") }
            return Array(s.utf8)
        default:
            throw PickleError("\(name): unsupported encoding '\(PickleRender.printable(encoding))'")
        }
    }
}

/// Heap-backed byte views for bytes the machine builds itself (not slices of the pickle).
enum ByteViewFactory {
    static func make(_ bytes: [UInt8]) -> ByteView { ByteBuffer.copying(bytes).whole }
}
