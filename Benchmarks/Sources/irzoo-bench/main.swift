// Times the runtime's core operators (best of N) and prints one JSON object per op on stdout.
// Benchmarks/ops.sh runs this beside the same ops in PyTorch and prints the comparison table.
// Usage: irzoo-bench [--threads N] [--repeat N] [--only NAME]
import Foundation
import IRRuntime

var threads = 2, repeats = 10
var only: String? = nil
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--threads": threads = Int(args.popFirst() ?? "") ?? threads
    case "--repeat": repeats = Int(args.popFirst() ?? "") ?? repeats
    case "--only": only = args.popFirst()
    default:
        FileHandle.standardError.write("usage: irzoo-bench [--threads N] [--repeat N] [--only NAME]\n".data(using: .utf8)!)
        exit(2)
    }
}

let ctx = ComputeContext(threads: threads)
var seed: UInt64 = 0x9E3779B97F4A7C15
/// Uniform values in [-scale, scale) from a fixed-seed LCG (inputs need not be cryptographic).
func random(_ shape: [Int], scale: Float = 1) -> Tensor {
    let n = shape.reduce(1, *)
    var v = [Float](repeating: 0, count: n)
    for i in 0..<n {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        v[i] = (Float(seed >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
    return try! Tensor(shape: shape, values: v)
}

/// CPU time of the whole process (all threads), in seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Best wall time and best process CPU time of `repeats` runs after one warm-up. On a shared,
/// loaded machine the CPU time is the steadier of the two (it leaves out time spent descheduled).
func best(_ body: () throws -> Tensor) rethrows -> (wall: Double, cpu: Double) {
    _ = try body()
    var t = Double.infinity, c = Double.infinity
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds, cpu0 = processCPUSeconds()
        let out = try body()
        let end = DispatchTime.now().uptimeNanoseconds, cpu1 = processCPUSeconds()
        withExtendedLifetime(out) {}
        t = min(t, Double(end - start) / 1e9)
        c = min(c, cpu1 - cpu0)
    }
    return (t, c)
}

func report(_ name: String, flops: Double, bytes: Double, seconds: (wall: Double, cpu: Double)) {
    let line = String(format: "{\"op\": \"%@\", \"seconds\": %.6e, \"cpu_seconds\": %.6e, \"flops\": %.6e, \"bytes\": %.6e}",
                      name, seconds.wall, seconds.cpu, flops, bytes)
    print(line)
    fflush(stdout)
}

/// Times `body` unless `--only` names another op; `setup` makes the inputs (only when needed).
func run<T>(_ name: String, flops: Double, bytes: Double, setup: () throws -> T, _ body: (T) throws -> Tensor) throws {
    if let only, only != name { return }
    let inputs = try setup()
    report(name, flops: flops, bytes: bytes, seconds: try best { try body(inputs) })
}

do {
    try run("conv3x3_64_256", flops: 2.0 * 64 * 64 * 9 * 256 * 256, bytes: 2.0 * 64 * 256 * 256 * 4,
            setup: { (random([1, 64, 256, 256]), random([64, 64, 3, 3], scale: 0.05)) }) { x, w in
        try ctx.conv2d(x, weight: w, padding: 1)
    }
    // The 3x3 convolutions of an SDXL UNet at a 64x64 latent (one per level; they dominate its time).
    for (c, side) in [(320, 64), (640, 32), (1280, 16)] {
        let f = 2.0 * Double(c * c * 9 * side * side)
        try run("conv3x3_\(c)_\(side)", flops: f, bytes: 2.0 * Double(c * side * side * 4),
                setup: { (random([1, c, side, side]), random([c, c, 3, 3], scale: 0.02)) }) { x, w in
            try ctx.conv2d(x, weight: w, padding: 1)
        }
    }
    try run("conv1x1_256_128", flops: 2.0 * 256 * 256 * 128 * 128, bytes: 2.0 * 256 * 128 * 128 * 4,
            setup: { (random([1, 256, 128, 128]), random([256, 256, 1, 1], scale: 0.05)) }) { x, w in
        try ctx.conv2d(x, weight: w)
    }
    try run("depthwise3x3_256_128", flops: 2.0 * 9 * 256 * 128 * 128, bytes: 2.0 * 256 * 128 * 128 * 4,
            setup: { (random([1, 256, 128, 128]), random([256, 1, 3, 3])) }) { x, w in
        try ctx.conv2d(x, weight: w, padding: 1, groups: 256)
    }
    try run("matmul_1024", flops: 2.0 * 1024 * 1024 * 1024, bytes: 3.0 * 1024 * 1024 * 4,
            setup: { (random([1024, 1024]), random([1024, 1024])) }) { a, b in
        try ctx.matmul(a, b)
    }
    // Restormer MDTA at its first level: 48 channels, 1 head, 256x256, from q, k, v to the output.
    try run("channel_attention_48_256", flops: 4.0 * 48 * 48 * 256 * 256, bytes: 4.0 * 48 * 256 * 256 * 4,
            setup: { (random([1, 48, 256, 256]), random([1, 48, 256, 256]), random([1, 48, 256, 256]),
                      try Tensor(shape: [1, 1, 1], values: [1.3])) }) { q, k, v, t in
        try ctx.channelAttention(q: q, k: k, v: v, temperature: t, heads: 1)
    }
    // Swin-style: 96 channels, 3 heads, 8x8 windows shifted by 4, relative position bias, 128x128.
    let (wc, wh, ws) = (96, 3, 8)
    let windows = Double((128 / ws) * (128 / ws)), n = Double(ws * ws)
    try run("window_attention_96_128", flops: windows * 4 * n * n * Double(wc), bytes: 4.0 * 128 * 128 * Double(wc) * 4,
            setup: { (random([1, 128, 128, wc]), random([1, 128, 128, wc]), random([1, 128, 128, wc]),
                      try ctx.relativePositionBias(table: random([(2 * ws - 1) * (2 * ws - 1), wh]), window: ws)) }) { q, k, v, bias in
        try ctx.windowAttention(q: q, k: k, v: v, heads: wh, window: ws, shift: ws / 2, bias: bias, layout: .nhwc)
    }
} catch {
    FileHandle.standardError.write("irzoo-bench: \(error)\n".data(using: .utf8)!)
    exit(1)
}
