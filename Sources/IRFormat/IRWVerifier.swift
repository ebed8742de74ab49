#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import IRTensor

/// The outcome of a full verification.
public struct IRWVerifyReport: Sendable {
    /// Tensors whose bytes do not match their SHA-256, in file order.
    public var damagedTensors: [String] = []
    /// Padding runs that are not all zeros, named by the tensor they follow.
    public var damagedPadding: [String] = []
    public var bytesChecked = 0

    public var isIntact: Bool { damagedTensors.isEmpty && damagedPadding.isEmpty }

    /// One line per problem, naming the tensor.
    public var problems: [String] {
        damagedTensors.map { "tensor '\($0)': bytes do not match the recorded SHA-256" }
            + damagedPadding.map { "padding \($0) is not zero" }
    }
}

extension IRWFile {
    /// Hashes every tensor (several at once, largest first, on `threads` workers; default: every
    /// core) and checks that all padding is zero. Together with the header digest checked at open,
    /// this covers every byte of the file. `progress(done, total)` reports bytes, from any thread.
    public func verify(threads: Int? = nil, progress: ((Int, Int) -> Void)? = nil) -> IRWVerifyReport {
        var report = IRWVerifyReport()
        let tensors = header.tensors
        let total = tensors.reduce(0) { $0 + $1.length }

        // Padding: the bytes between one tensor's end and the next aligned start.
        var end = 0
        for (i, t) in tensors.enumerated() {
            if t.offset > end, !isZero(dataOffset + end, t.offset - end) {
                report.damagedPadding.append(i == 0 ? "before tensor '\(t.name)'" : "after tensor '\(tensors[i - 1].name)'")
            }
            end = t.offset + t.length
        }

        let order = tensors.indices.sorted { tensors[$0].length > tensors[$1].length }
        let workers = max(1, min(threads ?? Self.coreCount, order.count))
        let state = VerifyState(count: tensors.count)
        let chunk = 32 << 20
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let k = state.next(limit: order.count) {
                let i = order[k]
                let t = tensors[i]
                let base = buffer.base + dataOffset + t.offset
                Self.adviseSequential(base, t.length)
                var h = SHA256Hasher()
                var done = 0
                while done < t.length {
                    let n = min(chunk, t.length - done)
                    buffer.prefetchResidentPages(offset: dataOffset + t.offset + done, count: n)
                    h.update(UnsafeRawBufferPointer(start: base + done, count: n))
                    buffer.releaseResidentPages(offset: dataOffset + t.offset + done, count: n)
                    done += n
                    if let progress { progress(state.add(n), total) }
                }
                if h.finalizeHex() != t.sha256 { state.markDamaged(i) }
            }
        }
        report.damagedTensors = state.damaged.map { tensors[$0].name }
        report.bytesChecked = total
        return report
    }

    private func isZero(_ offset: Int, _ count: Int) -> Bool {
        let p = buffer.base + offset
        for j in 0..<count where p.load(fromByteOffset: j, as: UInt8.self) != 0 { return false }
        return true
    }

    static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Asks the kernel to read ahead: verification touches every page once, in order.
    static func adviseSequential(_ p: UnsafeRawPointer, _ count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0, count > 0 else { return }
        let start = Int(bitPattern: p) & ~(page - 1)
        let length = Int(bitPattern: p) + count - start
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), length, MADV_SEQUENTIAL)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), length, MADV_WILLNEED)
    }
}

/// Shared work counter and results for the verification workers.
private final class VerifyState: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cursor = 0
    private var doneBytes = 0
    private var flags: [Bool]

    init(count: Int) {
        flags = [Bool](repeating: false, count: count)
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    func next(limit: Int) -> Int? {
        locked {
            guard cursor < limit else { return nil }
            cursor += 1
            return cursor - 1
        }
    }

    func add(_ n: Int) -> Int { locked { doneBytes += n; return doneBytes } }
    func markDamaged(_ i: Int) { locked { flags[i] = true } }
    var damaged: [Int] { locked { flags.indices.filter { flags[$0] } } }
}
