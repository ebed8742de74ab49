// `make bench-store` driver (Benchmarks/store.sh): writes a large .irw with IRWWriter, then times
// opening it, getting its first tensor, and verifying it on 1 and 2 threads. Prints one JSON
// object per line.
//
//     irzoo-store-bench DIR [GIB] [TENSOR_MIB]
#if canImport(Glibc)
import Glibc
#endif
import IRFormat
import IRTensor

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func emit(_ fields: [(String, JSON)]) { print(JSON.object(fields).serialized()); fflush(stdout) }

let args = CommandLine.arguments
guard args.count >= 2 else { fputs("usage: irzoo-store-bench DIR [GIB] [TENSOR_MIB]\n", stderr); exit(2) }
let dir = args[1]
let gib = args.count > 2 ? Int(args[2]) ?? 8 : 8
let tensorMiB = args.count > 3 ? Int(args[3]) ?? 128 : 128
let elements = tensorMiB << 18 // f32
let count = (gib << 10) / tensorMiB

/// Synthetic weights, produced one tensor at a time (the writer never holds two).
func inputs(_ n: Int, _ elements: Int) -> [IRWTensorInput] {
    (0..<n).map { i in
        IRWTensorInput(name: "blocks.\(i).weight", dtype: .f32, shape: [elements / 1024, 1024]) {
            ByteBuffer.make(count: elements * 4) { p in
                let f = p.bindMemory(to: UInt32.self)
                for j in 0..<elements { f[j] = UInt32(truncatingIfNeeded: j &* 2654435761 &+ i) }
            }.whole
        }
    }
}

let meta = IRWMetadata(source: IRWSource(fileName: "synthetic", sha256: String(repeating: "0", count: 64), container: "irw"))
let big = "\(dir)/big.irw", small = "\(dir)/small.irw"
var t0 = now()
let written = try IRWWriter.write(inputs(count, elements), metadata: { meta }, to: big)
let writeSeconds = now() - t0
try IRWWriter.write(inputs(4, 1 << 16), metadata: { meta }, to: small)
emit([("step", .string("write")), ("bytes", .int(written.fileSize)), ("tensors", .int(count)), ("seconds", .double(writeSeconds))])

/// Best and median of `n` runs of `body`.
func timed(_ n: Int, _ body: () throws -> Void) rethrows -> (best: Double, median: Double) {
    var samples: [Double] = []
    for _ in 0..<n {
        let s = now()
        try body()
        samples.append(now() - s)
    }
    samples.sort()
    return (samples[0], samples[n / 2])
}

for (label, path) in [("open-8GiB", big), ("open-small", small)] {
    let size = DurableFile.size(of: path) ?? 0
    let t = try timed(50) { _ = try IRWFile.open(path: path) }
    emit([("step", .string(label)), ("bytes", .int(size)), ("best_ms", .double(t.best * 1e3)), ("median_ms", .double(t.median * 1e3))])
}
// First tensor: open, then its bytes usable (zero-copy view, first page touched), and verified.
var sink: UInt8 = 0
let view = try timed(20) {
    let f = try IRWFile.open(path: big)
    sink &+= f.view(0).pointer.load(as: UInt8.self)
}
let checked = try timed(5) {
    let f = try IRWFile.open(path: big)
    sink &+= try f.checkedRecord(named: f.tensors[0].name).data.pointer.load(as: UInt8.self)
}
emit([("step", .string("first-tensor")), ("view_ms", .double(view.median * 1e3)), ("verified_ms", .double(checked.median * 1e3)),
      ("tensor_bytes", .int(elements * 4)), ("sink", .int(Int(sink)))])

let file = try IRWFile.open(path: big)
for threads in [1, 2] {
    _ = file.verify(threads: threads) // warm
    t0 = now()
    let report = file.verify(threads: threads)
    let s = now() - t0
    precondition(report.isIntact)
    emit([("step", .string("verify")), ("threads", .int(threads)), ("bytes", .int(report.bytesChecked)), ("seconds", .double(s)),
          ("gb_per_s", .double(Double(report.bytesChecked) / s / 1e9))])
}
