import Foundation

/// `IRZOO_GOLDEN_DUMP=dir`: every comparison through `FloatDifference` also writes the computed
/// floats, raw little-endian, to `dir/<hash of the reference>-<n>.f32`. Running the numeric suites
/// before and after a refactor and `cmp`-ing the two directories proves the outputs bit-identical,
/// which the tolerance-based asserts alone cannot. Named by the reference's content (not by test
/// order), so a filtered run lines up with a full one; `n` counts comparisons against the same
/// reference, whose order can vary between runs, so compare each reference's outputs as a set.
enum GoldenDump {
    private static let directory: URL? = ProcessInfo.processInfo.environment["IRZOO_GOLDEN_DUMP"]
        .flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0, isDirectory: true) }
    private static let lock = NSLock()
    nonisolated(unsafe) private static var seen: [String: Int] = [:]

    static func record<Got: Sequence, Want: Sequence>(_ got: Got, _ want: Want) where Got.Element == Float, Want.Element == Float {
        guard let directory else { return }
        // FNV-1a over the reference's bits and length.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var count = 0
        for w in want {
            var bits = w.bitPattern
            for _ in 0..<4 { hash = (hash ^ UInt64(bits & 0xff)) &* 0x100_0000_01b3; bits >>= 8 }
            count += 1
        }
        let key = String(format: "%016llx-%d", hash, count)
        lock.lock()
        let n = seen[key, default: 0]
        seen[key] = n + 1
        lock.unlock()
        var data = Data()
        for g in got { withUnsafeBytes(of: g.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? data.write(to: directory.appendingPathComponent("\(key)-\(n).f32"))
    }
}
