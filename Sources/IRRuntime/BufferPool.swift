#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reuses activation buffers so that a steady-state forward pass allocates nothing new.
///
/// Buffers are grouped in size classes (at most 1/8 larger than asked for), kept on free
/// lists when their tensors die, and handed out again on the next request of the same class.
/// A model owns one pool (through its `ComputeContext`); after the first forward pass at a
/// given input size, `freshAllocations` stops growing. Thread-safe.
public final class BufferPool: @unchecked Sendable {
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var lock = pthread_mutex_t()
    private var _fresh = 0
    private var _reused = 0
    private var _bytesHeld = 0

    public init() { pthread_mutex_init(&lock, nil) }

    deinit {
        for (_, list) in free { for p in list { UnsafeMutableRawPointer(p).deallocate() } }
        pthread_mutex_destroy(&lock)
    }

    /// Buffers obtained from the system so far (each pool miss counts once).
    public var freshAllocations: Int { locked { _fresh } }
    /// Requests served from a free list.
    public var reusedAllocations: Int { locked { _reused } }
    /// Bytes allocated by this pool and not yet released (in use plus idle).
    public var bytesHeld: Int { locked { _bytesHeld } }

    /// Frees every idle buffer (those no tensor uses). Buffers in use are unaffected.
    public func trim() {
        locked {
            for (cls, list) in free {
                for p in list { UnsafeMutableRawPointer(p).deallocate(); _bytesHeld -= cls * 4 }
            }
            free.removeAll()
        }
    }

    /// A buffer of at least `count` elements, contents unspecified.
    func take(count: Int) -> TensorStorage {
        let cls = BufferPool.sizeClass(max(count, 1))
        let reused: (UnsafeMutablePointer<Float>, Int)? = locked {
            if var list = free[cls], let p = list.popLast() {
                free[cls] = list
                _reused += 1
                return (p, cls)
            }
            // A large request its own class cannot serve takes an idle buffer up to twice its size:
            // a U-Net's maps halve in bytes per level, so the buffers a finished level leaves idle
            // serve the next one instead of staying beside fresh ones (peak memory then follows
            // the live tensors, not the sum over levels).
            if cls >= BufferPool.borrowFloor,
               let larger = free.lazy.filter({ $0.key > cls && $0.key <= 2 * cls && !$0.value.isEmpty }).map(\.key).min(),
               let p = free[larger]?.popLast() {
                _reused += 1
                return (p, larger)
            }
            _fresh += 1
            _bytesHeld += cls * 4
            return nil
        }
        if let (p, held) = reused { return TensorStorage(base: p, capacity: held, owner: .pool(self, sizeClass: held)) }
        let p = UnsafeMutableRawPointer.allocate(byteCount: cls * 4, alignment: 64).assumingMemoryBound(to: Float.self)
        return TensorStorage(base: p, capacity: cls, owner: .pool(self, sizeClass: cls))
    }

    /// Requests from this many floats up (4 MiB) may borrow a larger idle buffer.
    static let borrowFloor = 1 << 20

    func giveBack(_ p: UnsafeMutablePointer<Float>, sizeClass: Int) {
        locked { free[sizeClass, default: []].append(p) }
    }

    /// Rounds up to a multiple of 2^(floor(log2 n) - 3): at most 12.5% waste, few classes.
    static func sizeClass(_ n: Int) -> Int {
        if n <= 64 { return 64 }
        let top = Int.bitWidth - 1 - n.leadingZeroBitCount
        let step = 1 << (top - 3)
        return (n + step - 1) / step * step
    }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }
}
