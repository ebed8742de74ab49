import IRTensor
import IRRuntime

/// When half-precision (f16, bf16) weights become f32.
public enum WeightWidening: Sendable {
    /// Once, when the model is built: fastest per run, but the model takes twice its file size.
    case atLoad
    /// Each time a conv or linear layer runs, into a buffer freed after it (`LayerWeight`): the
    /// model stays at its file size (SDXL's fp16 UNet: 5.1 GB, not 10.3 GB) for a conversion per use.
    case perLayer
}

/// A model's weights by upstream name, as runtime tensors. f32 tensors stay in place in the
/// mapping they came from (an .irw file); other float types are widened once, here, or with
/// `.perLayer` widening, conv and linear weights each time their layer runs.
public final class Weights: @unchecked Sendable {
    private var tensors: [String: Tensor]
    /// Half-precision records kept as they are in the mapping (`.perLayer` widening).
    private let deferred: [String: TensorRecord]
    /// What the names are looked up under (e.g. "clip_model.vision_model.").
    public let prefix: String

    public init(records: [TensorRecord], widening: WeightWidening = .atLoad) throws {
        var t = [String: Tensor](minimumCapacity: records.count)
        var d = [String: TensorRecord]()
        for r in records where r.dtype.isFloatingPoint {
            if widening == .perLayer && r.dtype != .f32 && r.dtype != .f64 {
                d[r.name] = r
                continue
            }
            do { t[r.name] = try Tensor(record: r) } catch let e as RuntimeError {
                throw ModelError("weight '\(r.name)': \(e.reason)")
            }
        }
        tensors = t
        deferred = d
        prefix = ""
    }

    /// Weights given directly as tensors (tests, tools).
    public init(tensors: [String: Tensor]) {
        self.tensors = tensors
        deferred = [:]
        prefix = ""
    }

    private init(tensors: [String: Tensor], deferred: [String: TensorRecord], prefix: String) {
        self.tensors = tensors
        self.deferred = deferred
        self.prefix = prefix
    }

    /// The same table, with `scope + "."` added in front of every name looked up.
    public func scoped(_ scope: String) -> Weights {
        Weights(tensors: tensors, deferred: deferred, prefix: prefix + scope + ".")
    }

    public func contains(_ name: String) -> Bool { tensors[prefix + name] != nil || deferred[prefix + name] != nil }

    /// Half-precision weights still in their file form (widened per layer run).
    public var deferredCount: Int { deferred.count }

    /// The tensor `name`, checked to have `shape` when given (a deferred one is widened here, once per call).
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        switch try layerWeight(name, shape: shape) {
        case .ready(let t): return t
        case .widenOnUse(let r): return try LayerWeight.widen(r)
        }
    }

    /// A conv or linear layer's weight: in place, or widened each time the layer runs.
    func layerWeight(_ name: String, shape: [Int]? = nil) throws -> LayerWeight {
        let full = prefix + name
        let found: [Int]
        let weight: LayerWeight
        if let t = tensors[full] {
            (found, weight) = (t.shape, .ready(t))
        } else if let r = deferred[full] {
            (found, weight) = (r.shape, .widenOnUse(r))
        } else {
            throw ModelError("missing weight '\(full)'")
        }
        if let shape, found != shape {
            throw ModelError("weight '\(full)' has shape \(found), expected \(shape)")
        }
        return weight
    }

    /// The tensor `name` when present (optional biases), checked like `tensor`.
    public func optional(_ name: String, shape: [Int]? = nil) throws -> Tensor? {
        contains(name) ? try tensor(name, shape: shape) : nil
    }

    /// A 0-d or one-element tensor's value (SE-SymUNet's α).
    public func scalar(_ name: String) throws -> Float {
        let t = try tensor(name)
        guard t.count == 1 else { throw ModelError("weight '\(prefix + name)' has shape \(t.shape), expected a scalar") }
        return t.pointer[0]
    }
}

/// A layer's weight as the layer holds it (see `WeightWidening`).
enum LayerWeight {
    case ready(Tensor)
    case widenOnUse(TensorRecord)

    /// The f32 tensor for one use: in place, or a widened copy in a pooled buffer that goes back
    /// to the pool after the op (converted in parallel chunks: SDXL's UNet widens 2.6 G values a step).
    func tensor(_ ctx: ComputeContext) throws -> Tensor {
        switch self {
        case .ready(let t): return t
        case .widenOnUse(let r):
            let n = r.shape.reduce(1, *), size = r.dtype.size
            guard n * size == r.data.count else { return try Self.widen(r) }  // let Tensor(record:) say what is wrong
            let out = try ctx.empty(r.shape)
            let dst = out.mutablePointer, data = r.data, dtype = r.dtype
            ctx.parallelFor(n, grain: 1 << 16) { range in
                guard let part = data.slice(offset: range.lowerBound * size, count: range.count * size) else { return }
                ElementConversion.toF32(part, dtype, into: dst + range.lowerBound, count: range.count)
            }
            return out
        }
    }

    static func widen(_ r: TensorRecord) throws -> Tensor {
        do { return try Tensor(record: r) } catch let e as RuntimeError {
            throw ModelError("weight '\(r.name)': \(e.reason)")
        }
    }
}
