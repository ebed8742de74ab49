import IRTensor

/// The restricted pickle machine: runs pickle opcodes (protocols 0 to 5) over untrusted bytes
/// and builds inert values. It never imports a module or calls a function: GLOBAL looks names
/// up in `PickleAllowList`, REDUCE/NEWOBJ/BUILD build records (`PickleMachine+Calls`), and
/// every size, index and depth is checked against the bytes present and `PickleLimits`.
public final class PickleMachine {
    public let heap: PickleHeap
    public let limits: PickleLimits
    /// Unknown globals become inert placeholders instead of refusing the pickle.
    public let permissive: Bool
    /// Allows `__torch__.*` classes (TorchScript archives).
    public let torchScript: Bool
    /// Resolves persistent ids (BINPERSID/PERSID). nil refuses them all.
    public var persistentLoad: ((PickleValue, PickleHeap) throws -> PickleValue)?
    /// Placeholders made in permissive mode, in order of appearance.
    public private(set) var placeholders: [PickleGlobal] = []

    private var stack: [PickleValue] = []
    /// Stack heights at each open MARK; values below the top mark are fenced off.
    private var marks: [Int] = []
    /// The memo: dense for the indices pickles really use (0, 1, 2, ...), a dictionary beyond.
    /// Dense slots stay within twice the number of entries, so sparse indices cannot inflate it.
    private var memoDense: [PickleValue?] = []
    private var memoSparse: [Int: PickleValue] = [:]
    private var memoCount = 0

    public init(heap: PickleHeap = PickleHeap(), limits: PickleLimits = PickleLimits(),
                permissive: Bool = false, torchScript: Bool = false) {
        self.heap = heap
        self.limits = limits
        self.permissive = permissive
        self.torchScript = torchScript
    }

    /// Runs the pickle starting at byte `start` of `data` up to its STOP. Returns the value and
    /// the offset just after STOP (legacy torch files stack several pickles). Error offsets are
    /// offsets in `data`.
    public func run(_ data: ByteView, from start: Int = 0) throws -> (value: PickleValue, end: Int) {
        stack.removeAll(keepingCapacity: true)
        marks.removeAll()
        memoDense.removeAll(keepingCapacity: true)
        memoSparse.removeAll()
        memoCount = 0
        return try data.withUnsafeBytes { buf in
            var cursor = PickleCursor(buf: buf, view: data, pos: start, maxString: limits.maxStringBytes)
            return try execute(&cursor)
        }
    }

    // MARK: - The opcode loop

    private func execute(_ c: inout PickleCursor) throws -> (value: PickleValue, end: Int) {
        while true {
            try c.enterOpcode()
            let opPos = c.pos
            do {
                let byte = try c.byte()
                guard let op = PickleOpcode(rawValue: byte) else {
                    throw PickleError("unknown opcode 0x\(String(byte, radix: 16))")
                }
                if let result = try step(op, &c) { return (result, c.pos) }
            } catch var e as PickleError {
                if e.offset == nil { e.offset = opPos }
                throw e
            }
        }
    }

    /// Executes one opcode; returns the final value at STOP.
    private func step(_ op: PickleOpcode, _ c: inout PickleCursor) throws -> PickleValue? {
        switch op {
        case .proto:
            let v = try c.byte()
            guard v <= 5 else { throw PickleError("unsupported pickle protocol \(v)") }
        case .frame:
            let n = try c.uint64()
            try c.beginFrame(n)
        case .stop:
            let v = try pop()
            guard marks.isEmpty, stack.isEmpty else {
                throw PickleError("STOP leaves \(stack.count) values and \(marks.count) marks on the stack")
            }
            return v
        case .mark:
            guard marks.count < limits.maxMarks else { throw PickleError("more than \(limits.maxMarks) open MARKs") }
            marks.append(stack.count)
        case .pop:
            if let m = marks.last, m == stack.count { marks.removeLast() } else { _ = try pop() }
        case .popMark:
            _ = try popMark()
        case .dup:
            try push(try top())

        // Scalars.
        case .none: try push(.none)
        case .newtrue: try push(.bool(true))
        case .newfalse: try push(.bool(false))
        case .binint: try push(.int(Int(Int32(bitPattern: try c.uint32()))))
        case .binint1: try push(.int(Int(try c.byte())))
        case .binint2: try push(.int(Int(try c.uint16())))
        case .long1:
            let n = Int(try c.byte())
            try push(PickleInteger.fromTwosComplement(try c.bytes(n)))
        case .long4:
            let n = Int(Int32(bitPattern: try c.uint32()))
            guard n >= 0 else { throw PickleError("LONG4 with a negative byte count \(n)") }
            guard n <= limits.maxIntegerBytes else { throw PickleError("LONG4 of \(n) bytes exceeds the \(limits.maxIntegerBytes)-byte limit") }
            try push(PickleInteger.fromTwosComplement(try c.bytes(n)))
        case .int:
            let line = try c.line()
            if line == Array("01".utf8) { try push(.bool(true)) }
            else if line == Array("00".utf8) { try push(.bool(false)) }
            else { try push(try PickleInteger.fromDecimal(line, maxDigits: limits.maxIntegerBytes * 3)) }
        case .long:
            var line = try c.line()
            if line.last == UInt8(ascii: "L") { line.removeLast() }
            try push(try PickleInteger.fromDecimal(line, maxDigits: limits.maxIntegerBytes * 3))
        case .float:
            let text = String(decoding: try c.line(), as: UTF8.self).trimmingASCIISpaces()
            guard let d = Double(text) else { throw PickleError("FLOAT argument '\(text.prefix(40))' is not a number") }
            try push(.float(d))
        case .binfloat:
            try push(.float(Double(bitPattern: try c.uint64BigEndian())))

        // Strings and bytes.
        case .binunicode: try push(.string(try c.utf8(Int(try c.uint32()))))
        case .shortBinunicode: try push(.string(try c.utf8(Int(try c.byte()))))
        case .binunicode8: try push(.string(try c.utf8(try c.length64())))
        case .binstring:
            let n = Int(Int32(bitPattern: try c.uint32()))
            guard n >= 0 else { throw PickleError("BINSTRING with a negative length \(n)") }
            try push(.string(try c.utf8(n)))
        case .shortBinstring: try push(.string(try c.utf8(Int(try c.byte()))))
        case .string: try push(.string(try PickleText.quotedString(try c.line())))
        case .unicode: try push(.string(try PickleText.rawUnicodeEscape(try c.line())))
        case .binbytes: try push(.bytes(try c.view(Int(try c.uint32()))))
        case .shortBinbytes: try push(.bytes(try c.view(Int(try c.byte()))))
        case .binbytes8, .bytearray8: try push(.bytes(try c.view(try c.length64())))
        case .nextBuffer, .readonlyBuffer:
            throw PickleError("out-of-band buffers (protocol 5 \(op == .nextBuffer ? "NEXT_BUFFER" : "READONLY_BUFFER")) are not supported")

        // Containers.
        case .emptyTuple: try push(try make(.tuple([]), items: []))
        case .tuple: let items = try popMark(); try push(try make(.tuple(items), items: items))
        case .tuple1: let a = try pop(); try push(try make(.tuple([a]), items: [a]))
        case .tuple2:
            let b = try pop(), a = try pop()
            try push(try make(.tuple([a, b]), items: [a, b]))
        case .tuple3:
            let cc = try pop(), b = try pop(), a = try pop()
            try push(try make(.tuple([a, b, cc]), items: [a, b, cc]))
        case .emptyList: try push(try make(.list(PickleList()), items: []))
        case .list: let items = try popMark(); try push(try make(.list(PickleList(items)), items: items))
        case .emptyDict: try push(try make(.dict(PickleDict()), items: []))
        case .dict:
            let items = try popMark()
            let d = PickleDict()
            let v = try make(.dict(d), items: items)
            try setItems(d, items, opcode: "DICT")
            try push(v)
        case .emptySet: try push(try make(.set(PickleList(), frozen: false), items: []))
        case .frozenset:
            let items = try popMark()
            try push(try make(.set(PickleList(try uniqueSetItems(items)), frozen: true), items: items))
        case .append:
            let v = try pop()
            try append(to: try top(), [v], opcode: "APPEND")
        case .appends:
            let items = try popMark()
            try append(to: try top(), items, opcode: "APPENDS")
        case .setitem:
            let v = try pop(), k = try pop()
            try setItems(on: try top(), [k, v], opcode: "SETITEM")
        case .setitems:
            let items = try popMark()
            try setItems(on: try top(), items, opcode: "SETITEMS")
        case .additems:
            let items = try popMark()
            let target = try top()
            guard case .ref(let r) = target, case .set(let s, frozen: false) = heap[r] else {
                throw PickleError("ADDITEMS on \(describeType(target)): only sets take ADDITEMS")
            }
            try raiseDepth(r, items)
            s.items = try uniqueSetItems(s.items + items)

        // Memo.
        case .put: try memoize(at: try PickleText.index(try c.line(), opcode: "PUT"))
        case .binput: try memoize(at: Int(try c.byte()))
        case .longBinput: try memoize(at: Int(try c.uint32()))
        case .memoize: try memoize(at: memoCount)
        case .get: try push(try recall(try PickleText.index(try c.line(), opcode: "GET")))
        case .binget: try push(try recall(Int(try c.byte())))
        case .longBinget: try push(try recall(Int(try c.uint32())))

        // Globals, calls and objects: nothing is imported or called (see PickleMachine+Calls).
        case .global:
            let at = c.opcodePos
            let module = try c.utf8Line(), name = try c.utf8Line()
            try push(try resolveGlobal(module: module, name: name, offset: at))
        case .stackGlobal:
            let nameValue = try pop(), moduleValue = try pop()
            guard let module = moduleValue.string, let name = nameValue.string else {
                throw PickleError("STACK_GLOBAL needs two strings, got \(describeType(moduleValue)) and \(describeType(nameValue))")
            }
            try push(try resolveGlobal(module: module, name: name, offset: c.opcodePos))
        case .inst:
            let at = c.opcodePos
            let module = try c.utf8Line(), name = try c.utf8Line()
            let args = try popMark()
            let cls = try resolveGlobal(module: module, name: name, offset: at)
            try push(try instantiate(cls, args: args, opcode: "INST"))
        case .obj:
            let items = try popMark()
            guard let cls = items.first else { throw PickleError("OBJ without a class") }
            try push(try instantiate(cls, args: Array(items.dropFirst()), opcode: "OBJ"))
        case .reduce:
            let args = try pop(), callable = try pop()
            try push(try reduce(callable, args))
        case .newobj:
            let args = try pop(), cls = try pop()
            try push(try newObject(cls, args, kwargs: nil))
        case .newobjEx:
            let kwargs = try pop(), args = try pop(), cls = try pop()
            try push(try newObject(cls, args, kwargs: kwargs))
        case .build:
            let state = try pop()
            try build(try top(), state)
        case .binpersid:
            let pid = try pop()
            try push(try persistent(pid))
        case .persid:
            let pid = String(decoding: try c.line(), as: UTF8.self)
            try push(try persistent(.string(pid)))
        case .ext1, .ext2, .ext4:
            throw PickleError("extension registry opcodes (EXT1/EXT2/EXT4) are not supported")
        }
        return nil
    }

    // MARK: - Stack, marks, memo

    private func push(_ v: PickleValue) throws {
        guard stack.count < limits.maxStack else { throw PickleError("stack grows past \(limits.maxStack) values") }
        stack.append(v)
    }

    private var fence: Int { marks.last ?? 0 }

    private func pop() throws -> PickleValue {
        guard stack.count > fence else { throw PickleError("stack underflow") }
        return stack.removeLast()
    }

    private func top() throws -> PickleValue {
        guard stack.count > fence else { throw PickleError("stack underflow") }
        return stack[stack.count - 1]
    }

    private func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw PickleError("no MARK to pop to") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private func memoize(at index: Int) throws {
        let v = try top()
        if index < memoDense.count {
            if memoDense[index] == nil { try countMemoEntry() }
            memoDense[index] = v
        } else if memoSparse[index] == nil && index < 2 * memoCount + 1024 && memoSparse.isEmpty {
            try countMemoEntry()
            memoDense.append(contentsOf: repeatElement(nil, count: index - memoDense.count))
            memoDense.append(v)
        } else {
            if memoSparse[index] == nil { try countMemoEntry() }
            memoSparse[index] = v
        }
    }

    private func countMemoEntry() throws {
        guard memoCount < limits.maxMemo else { throw PickleError("memo grows past \(limits.maxMemo) entries") }
        memoCount += 1
    }

    private func recall(_ index: Int) throws -> PickleValue {
        if index >= 0, index < memoDense.count, let v = memoDense[index] { return v }
        guard let v = memoSparse[index] else { throw PickleError("memo index \(index) was never stored") }
        return v
    }

    // MARK: - Containers

    /// Adds a node built from `items`, checking the node count and nesting depth.
    func make(_ node: PickleNode, items: [PickleValue]) throws -> PickleValue {
        guard heap.count < limits.maxNodes else { throw PickleError("more than \(limits.maxNodes) objects") }
        var depth = 1
        for i in items { depth = max(depth, heap.depth(of: i) + 1) }
        guard depth <= limits.maxNesting else { throw PickleError("nesting deeper than \(limits.maxNesting) levels") }
        return heap.append(node, depth: depth)
    }

    private func raiseDepth(_ ref: Int, _ items: [PickleValue]) throws {
        var depth = 1
        for i in items { depth = max(depth, heap.depth(of: i) + 1) }
        guard depth <= limits.maxNesting else { throw PickleError("nesting deeper than \(limits.maxNesting) levels") }
        heap.raiseDepth(of: ref, to: depth)
    }

    /// APPEND(S): only lists take items (CVE-2026-24747 was APPEND/SETITEM on other types).
    private func append(to target: PickleValue, _ items: [PickleValue], opcode: String) throws {
        if case .ref(let r) = target {
            switch heap[r] {
            case .list(let l):
                try raiseDepth(r, items)
                l.items.append(contentsOf: items)
                return
            case .object(let o) where o.kind == .placeholder:
                return  // permissive: absorbed, never part of the weights
            default: break
            }
        }
        throw PickleError("\(opcode) on \(describeType(target)): only lists take APPEND")
    }

    /// SETITEM(S): only dicts take items.
    private func setItems(on target: PickleValue, _ items: [PickleValue], opcode: String) throws {
        if case .ref(let r) = target {
            switch heap[r] {
            case .dict(let d):
                try raiseDepth(r, items)
                try setItems(d, items, opcode: opcode)
                return
            case .object(let o) where o.kind == .placeholder:
                return
            default: break
            }
        }
        throw PickleError("\(opcode) on \(describeType(target)): only dicts take SETITEM")
    }

    func setItems(_ d: PickleDict, _ items: [PickleValue], opcode: String) throws {
        guard items.count % 2 == 0 else { throw PickleError("\(opcode) with an odd number of values") }
        var i = 0
        while i < items.count {
            d.set(items[i], hashKey: try hashKey(items[i]), items[i + 1])
            i += 2
        }
    }

    private func uniqueSetItems(_ items: [PickleValue]) throws -> [PickleValue] {
        var seen = Set<PickleKey>()
        var out: [PickleValue] = []
        for v in items where seen.insert(try hashKey(v)).inserted { out.append(v) }
        return out
    }

    /// The dict-key image of a value; lists, dicts and sets are unhashable, as in Python.
    func hashKey(_ v: PickleValue, depth: Int = 0) throws -> PickleKey {
        switch v {
        case .none: return .none
        case .bool(let b): return .int(b ? 1 : 0)
        case .int(let i): return .int(i)
        case .bigInt(let b): return .bigInt(b)
        case .float(let d):
            if d.rounded() == d, let i = Int(exactly: d) { return .int(i) }
            return .float(d.bitPattern)
        case .string(let s): return .string(s)
        case .bytes(let b): return .bytes(b.bytes)
        case .ref(let r):
            switch heap[r] {
            case .tuple(let items):
                guard depth < limits.maxNesting else { throw PickleError("dict key nested deeper than \(limits.maxNesting) levels") }
                return .tuple(try items.map { try hashKey($0, depth: depth + 1) })
            case .list, .dict, .set(_, frozen: false):
                throw PickleError("unhashable \(describeType(v)) used as a dict key or set item")
            default:
                return .identity(r)
            }
        }
    }

    func notePlaceholder(_ g: PickleGlobal) { placeholders.append(g) }

    /// A short type name for messages: "list", "dict", "global os.system", "tensor", ...
    public func describeType(_ v: PickleValue) -> String {
        PickleRender.typeName(v, heap)
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line ends.
    func trimmingASCIISpaces() -> String {
        func blank(_ u: Unicode.Scalar) -> Bool { u == " " || u == "\t" || u == "\r" || u == "\n" }
        var s = Substring(self).unicodeScalars
        while let f = s.first, blank(f) { s.removeFirst() }
        while let l = s.last, blank(l) { s.removeLast() }
        return String(s)
    }
}
