import IRTensor

/// One value of the restricted pickle machine.
///
/// Scalars are held inline; every compound value (tuple, list, dict, record) lives in a
/// `PickleHeap` and is referenced by index. Nothing therefore holds a strong reference to its
/// children: deep or cyclic structures built by a hostile pickle never recurse in Swift (no
/// recursive deinit, no unbounded call stack), and every walk over them can be bounded.
public enum PickleValue: @unchecked Sendable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer beyond `Int`: two's complement, little-endian, as LONG1/LONG4 store it.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    /// Bytes; zero-copy when they come straight from the pickle's bytes.
    case bytes(ByteView)
    /// A compound value: an index into `PickleHeap.nodes`.
    case ref(Int)

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var int: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0  // Python's bool is an int
        default: return nil
        }
    }
    public var ref: Int? { if case .ref(let r) = self { return r } else { return nil } }
}

/// A list (or set) the machine may still append to; a class so APPEND(S) mutates in place.
public final class PickleList {
    public var items: [PickleValue]
    public init(_ items: [PickleValue] = []) { self.items = items }
}

/// A dict (plain, `OrderedDict`, Lightning `AttributeDict`, ...) in insertion order.
/// Setting an existing key replaces its value in place, as Python does.
public final class PickleDict {
    /// The dict's class when it is not a plain `dict`, e.g. "collections.OrderedDict".
    public let className: String?
    public private(set) var keys: [PickleValue] = []
    public private(set) var values: [PickleValue] = []
    /// Instance attributes set by BUILD (e.g. a state dict's `_metadata`); never weights.
    public var attributes: PickleValue?
    private var index: [PickleKey: Int] = [:]

    public init(className: String? = nil) { self.className = className }

    public var count: Int { keys.count }

    func set(_ key: PickleValue, hashKey: PickleKey, _ value: PickleValue) {
        if let i = index[hashKey] {
            values[i] = value
        } else {
            index[hashKey] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    /// The value stored under a string key.
    public func value(forString key: String) -> PickleValue? {
        guard let i = index[.string(key)] else { return nil }
        return values[i]
    }
}

/// A global the machine met: an allow-listed callable or class, or (permissive mode) a placeholder.
public struct PickleGlobal: Sendable {
    public let module: String
    public let name: String
    public let kind: PickleGlobalKind
    /// Byte offset of the GLOBAL/STACK_GLOBAL opcode.
    public let offset: Int
    public var qualifiedName: String { "\(module).\(name)" }
}

/// An inert record: the result of REDUCE/NEWOBJ/BUILD on an allow-listed class or function
/// that is not a tensor or a container (e.g. `argparse.Namespace`, a numpy array, a TorchScript
/// module object), or, in permissive mode, a placeholder for an unknown one. Never executed.
public final class PickleObject {
    /// "argparse.Namespace", "numpy.ndarray", "__torch__.M", ...
    public let className: String
    public let kind: PickleObjectKind
    /// Arguments the constructor was given.
    public let args: [PickleValue]
    /// State set by BUILD (an attribute dict for most classes).
    public var state: PickleValue?

    public init(className: String, kind: PickleObjectKind, args: [PickleValue], state: PickleValue? = nil) {
        self.className = className
        self.kind = kind
        self.args = args
        self.state = state
    }
}

public enum PickleObjectKind: Sendable, Equatable {
    case namespace          // argparse.Namespace
    case torchScriptModule  // a `__torch__.*` object in a TorchScript archive
    case numpyArray, numpyScalar, numpyDType
    case torchDevice, torchLayout, torchDType, complex
    /// A tensor rebuild irzoo recognises but cannot turn into weights (quantized, sparse, meta, ...).
    case unsupportedTensor
    /// Permissive mode: an unknown global's call result. Never part of the weights.
    case placeholder
}

/// Everything the heap can hold.
public enum PickleNode {
    case tuple([PickleValue])
    case list(PickleList)
    case set(PickleList, frozen: Bool)
    case dict(PickleDict)
    case global(PickleGlobal)
    case object(PickleObject)
    /// A storage named by a persistent id (`('storage', type, key, location, numel)`).
    case storage(TorchStorageRef)
    /// A tensor: a validated view of a storage.
    case tensor(TorchTensorRef)
}

/// The arena holding every compound value of one or more pickles.
public final class PickleHeap {
    public private(set) var nodes: [PickleNode] = []
    /// Nesting depth of each node as known when it was built (exact for tuples).
    private(set) var depths: [Int32] = []

    public init() {}

    public subscript(_ ref: Int) -> PickleNode { nodes[ref] }

    func append(_ node: PickleNode, depth: Int = 1) -> PickleValue {
        nodes.append(node)
        depths.append(Int32(clamping: depth))
        return .ref(nodes.count - 1)
    }

    func depth(of value: PickleValue) -> Int {
        if case .ref(let r) = value { return Int(depths[r]) }
        return 0
    }

    func raiseDepth(of ref: Int, to d: Int) {
        if Int(depths[ref]) < d { depths[ref] = Int32(clamping: d) }
    }

    public var count: Int { nodes.count }

    /// Convenience accessors for walkers.
    public func tensor(_ v: PickleValue) -> TorchTensorRef? {
        if case .ref(let r) = v, case .tensor(let t) = nodes[r] { return t }
        return nil
    }
    public func dict(_ v: PickleValue) -> PickleDict? {
        if case .ref(let r) = v, case .dict(let d) = nodes[r] { return d }
        return nil
    }
    public func object(_ v: PickleValue) -> PickleObject? {
        if case .ref(let r) = v, case .object(let o) = nodes[r] { return o }
        return nil
    }
    public func global(_ v: PickleValue) -> PickleGlobal? {
        if case .ref(let r) = v, case .global(let g) = nodes[r] { return g }
        return nil
    }
    public func tuple(_ v: PickleValue) -> [PickleValue]? {
        if case .ref(let r) = v, case .tuple(let t) = nodes[r] { return t }
        return nil
    }
    /// Items of a tuple or a list.
    public func sequence(_ v: PickleValue) -> [PickleValue]? {
        guard case .ref(let r) = v else { return nil }
        switch nodes[r] {
        case .tuple(let t): return t
        case .list(let l): return l.items
        default: return nil
        }
    }
}

/// A hashable image of a pickle value, used as a dict key. Follows Python's equality for the
/// types a checkpoint uses as keys (True == 1 == 1.0); tuples compare by content; records
/// (globals, objects) by identity, as Python's default hash does.
enum PickleKey: Hashable {
    case none
    case int(Int)
    case bigInt([UInt8])
    case float(UInt64)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleKey])
    case identity(Int)
}
