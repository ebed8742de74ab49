import IRTensor

/// The fp32 elements behind one or more tensors.
///
/// Three owners are possible:
/// - `.pool`: a buffer lent by a `BufferPool`; it goes back to the pool when the last tensor
///   using it dies, so a steady-state forward pass reuses the same buffers instead of allocating.
/// - `.heap`: a private allocation freed on deinit (constants made by `Tensor(shape:values:)`).
/// - `.mapped`: a read-only window into a `ByteBuffer` (an .irw/safetensors mapping). Weights are
///   used in place; writing to such storage is a programming error that the ops never commit.
public final class TensorStorage: @unchecked Sendable {
    enum Owner {
        case pool(BufferPool, sizeClass: Int)
        case heap
        case mapped(ByteBuffer)
    }

    /// First element. Mutable only for `.pool` and `.heap` storage.
    public let base: UnsafeMutablePointer<Float>
    /// Elements available from `base`.
    public let capacity: Int
    let owner: Owner

    init(base: UnsafeMutablePointer<Float>, capacity: Int, owner: Owner) {
        self.base = base
        self.capacity = capacity
        self.owner = owner
    }

    /// True when the elements live in a read-only file mapping.
    public var isMapped: Bool {
        if case .mapped = owner { return true }
        return false
    }

    /// A private zero-filled heap buffer of `count` elements, 64-byte aligned.
    static func heap(count: Int) -> TensorStorage {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1) * 4)
        return TensorStorage(base: p.assumingMemoryBound(to: Float.self), capacity: count, owner: .heap)
    }

    deinit {
        switch owner {
        case .pool(let pool, let sizeClass):
            pool.giveBack(base, sizeClass: sizeClass)
        case .heap:
            UnsafeMutableRawPointer(base).deallocate()
        case .mapped:
            break // the ByteBuffer reference keeps the mapping alive until here
        }
    }
}
