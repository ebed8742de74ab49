import IRTensor
import IRRuntime

/// A model's weights by upstream name, as runtime tensors. f32 tensors stay in place in the
/// mapping they came from (an .irw file); other float types are widened once, here.
public final class Weights: @unchecked Sendable {
    private var tensors: [String: Tensor]
    /// What the names are looked up under (e.g. "clip_model.vision_model.").
    public let prefix: String

    public init(records: [TensorRecord]) throws {
        var t = [String: Tensor](minimumCapacity: records.count)
        for r in records where r.dtype.isFloatingPoint {
            do { t[r.name] = try Tensor(record: r) } catch let e as RuntimeError {
                throw ModelError("weight '\(r.name)': \(e.reason)")
            }
        }
        tensors = t
        prefix = ""
    }

    /// Weights given directly as tensors (tests, tools).
    public init(tensors: [String: Tensor]) {
        self.tensors = tensors
        prefix = ""
    }

    private init(tensors: [String: Tensor], prefix: String) {
        self.tensors = tensors
        self.prefix = prefix
    }

    /// The same table, with `scope + "."` added in front of every name looked up.
    public func scoped(_ scope: String) -> Weights {
        Weights(tensors: tensors, prefix: prefix + scope + ".")
    }

    public func contains(_ name: String) -> Bool { tensors[prefix + name] != nil }

    /// The tensor `name`, checked to have `shape` when given.
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        guard let t = tensors[prefix + name] else { throw ModelError("missing weight '\(prefix + name)'") }
        if let shape, t.shape != shape {
            throw ModelError("weight '\(prefix + name)' has shape \(t.shape), expected \(shape)")
        }
        return t
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
