import XCTest
import Foundation
import IRRegistry
import IRRuntime
import IRModels

// TEMPORARY dev scratch (removed before hand-off): profiles SymUNet ops at 256².
final class ZZPerfScratch: XCTestCase {
    func now() -> Double { ProcessInfo.processInfo.systemUptime }
    func cpu() -> Double { var ts = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 }

    func randomWeights(_ specs: [ParameterSpec]) throws -> Weights {
        var g = SystemRandomNumberGenerator()
        var t = [String: Tensor]()
        for s in specs {
            let n = s.elementCount
            let fan = s.shape.count >= 2 ? s.shape.dropFirst().reduce(1, *) : 1
            let scale = 1 / Float(max(fan, 1)).squareRoot()
            var v = [Float](repeating: 0, count: n)
            for i in 0..<n { v[i] = Float.random(in: -1...1, using: &g) * scale }
            if s.name.hasSuffix("norm1.body.weight") || s.name.hasSuffix("norm2.body.weight") || s.name.hasSuffix("temperature") { v = [Float](repeating: 1, count: n) }
            t[s.name] = try Tensor(shape: s.shape, values: v)
        }
        return Weights(tensors: t)
    }

    func testProfileSymUNet256() throws {
        guard ProcessInfo.processInfo.environment["IRZOO_PERF"] != nil else { return }
        let cfg = SymUNetConfig.published
        let model = try SymUNet(config: cfg, weights: try randomWeights(cfg.inventory))
        let x = try Tensor(shape: [1, 3, 256, 256], values: (0..<(3 * 65536)).map { Float($0 % 255) / 255 })
        _ = try model.run(x)
        for _ in 0..<2 {
            let t0 = now(), c0 = cpu()
            _ = try model.run(x)
            print(String(format: "SymUNet 256: %.3f s wall, %.3f s cpu", now() - t0, cpu() - c0))
        }
        if ProcessInfo.processInfo.environment["IRZOO_PERF_OPS"] == nil { return }
        // Per-op profile of one block at each level.
        let ctx = model.context
        var totals = [String: Double]()
        var wall = [String: Double]()
        for (c, hw, n) in [(48, 256, 8), (96, 128, 12), (192, 64, 12), (384, 32, 8)] {
            let w = try randomWeights({ var b = InventoryBuilder(); b.scope("b") { _ in }; return b.specs }())
            _ = w
            let f = Int(Double(c) * 2.66)
            func r(_ s: [Int]) throws -> Tensor { try Tensor(shape: s, values: (0..<s.reduce(1, *)).map { _ in Float.random(in: -1...1) * 0.1 }) }
            let x = try r([1, c, hw, hw])
            let lw = try r([c]), lb = try r([c])
            let qkvW = try r([3 * c, c, 1, 1]), dwW = try r([3 * c, 1, 3, 3]), poW = try r([c, c, 1, 1])
            let piW = try r([2 * f, c, 1, 1]), fdW = try r([2 * f, 1, 3, 3]), foW = try r([c, f, 1, 1])
            let temp = try Tensor(shape: [c / 48 > 0 ? 1 : 1, 1, 1], values: [1])
            _ = temp
            let heads = c == 384 ? 8 : c / 48
            let tt = try Tensor(shape: [heads, 1, 1], values: [Float](repeating: 1, count: heads))
            var ops = [(String, () throws -> Tensor)]()
            ops.append(("ln", { try ctx.channelLayerNorm(x, weight: lw, bias: lb) }))
            ops.append(("qkv1x1", { try ctx.conv2d(x, weight: qkvW) }))
            let qkv = try ctx.conv2d(x, weight: qkvW)
            ops.append(("dw3x3(3C)", { try ctx.conv2d(qkv, weight: dwW, padding: 1, groups: 3 * c) }))
            let qs = try qkv.reshaped([3, c, hw, hw])
            let q = try qs.rows(0, 1), k = try qs.rows(1, 1), v = try qs.rows(2, 1)
            ops.append(("mdta", { try ctx.channelAttention(q: q, k: k, v: v, temperature: tt, heads: heads) }))
            ops.append(("proj1x1", { try ctx.conv2d(x, weight: poW) }))
            ops.append(("add", { try ctx.add(x, x) }))
            ops.append(("pin1x1", { try ctx.conv2d(x, weight: piW) }))
            let pin = try ctx.conv2d(x, weight: piW)
            ops.append(("dw3x3(2F)", { try ctx.conv2d(pin, weight: fdW, padding: 1, groups: 2 * f) }))
            ops.append(("gelu-gate", { try ctx.gated(pin, activation: .gelu, dim: 1) }))
            let g = try ctx.gated(pin, activation: .gelu, dim: 1)
            ops.append(("pout1x1", { try ctx.conv2d(g, weight: foW) }))
            for (name, op) in ops {
                _ = try op()
                let t0 = cpu(), w0 = now()
                for _ in 0..<3 { _ = try op() }
                let dt = (cpu() - t0) / 3
                let wt = (now() - w0) / 3
                wall[name, default: 0] += wt * Double(n) * ((name == "ln" || name == "add") ? 2.0 : 1.0)
                let mult = (name == "ln" || name == "add") ? 2.0 : 1.0
                totals[name, default: 0] += dt * Double(n) * mult
                print(String(format: "C=%d %dx%d %@: %.2f ms", c, hw, hw, name, dt * 1000))
            }
        }
        for (k, v) in totals.sorted(by: { $0.value > $1.value }) { print(String(format: "TOTAL %@: %.3f s cpu, %.3f s wall", k, v, wall[k]!)) }
    }
}

extension ZZPerfScratch {
    func fastWeights(_ specs: [ParameterSpec]) throws -> Weights {
        var t = [String: Tensor]()
        var state: UInt32 = 12345
        for s in specs {
            let n = s.elementCount
            let fan = s.shape.count >= 2 ? s.shape.dropFirst().reduce(1, *) : 1
            let scale = 1 / Float(max(fan, 1)).squareRoot()
            let tensor = try Tensor.zeros(s.shape)
            let p = tensor.mutablePointer
            let isNormWeight = s.name.hasSuffix("norm1.body.weight") || s.name.hasSuffix("norm2.body.weight") || s.name.hasSuffix("temperature")
                || s.name.hasSuffix("layer_norm1.weight") || s.name.hasSuffix("layer_norm2.weight") || s.name.hasSuffix("layrnorm.weight")
                || s.name.hasSuffix("norm_query.weight") || s.name.hasSuffix("norm_context.weight")
            for i in 0..<n {
                state = state &* 1664525 &+ 1013904223
                p[i] = isNormWeight ? 1 : (Float(state >> 8) / Float(1 << 24) * 2 - 1) * scale
            }
            if s.name.hasSuffix("alpha") { p[0] = 0.3 }
            t[s.name] = tensor
        }
        return Weights(tensors: t)
    }

    func testProfileSEAndCLIP() throws {
        guard ProcessInfo.processInfo.environment["IRZOO_PERF_SE"] != nil else { return }
        let cfg = SESymUNetConfig.published
        let t0 = now()
        let model = try SESymUNet(config: cfg, weights: try fastWeights(cfg.inventory))
        print(String(format: "built SE-SymUNet in %.1f s", now() - t0))
        let x = try Tensor(shape: [1, 3, 96, 80], values: (0..<(3 * 96 * 80)).map { Float($0 % 255) / 255 })
        for _ in 0..<2 {
            let t1 = now(), c1 = cpu()
            let y = try model.run(x)
            print(String(format: "SE-SymUNet 96x80: %.3f s wall, %.3f s cpu, out %@", now() - t1, cpu() - c1, "\(y.shape)"))
        }
        let pixels = try Tensor(shape: [1, 3, 224, 224], values: (0..<(3 * 224 * 224)).map { Float($0 % 255) / 255 })
        for _ in 0..<2 {
            let t1 = now(), c1 = cpu()
            let z = try model.clipFeatures(pixels)
            print(String(format: "CLIP ViT-L/14 224: %.3f s wall, %.3f s cpu, out %@", now() - t1, cpu() - c1, "\(z.shape)"))
        }
    }
}
