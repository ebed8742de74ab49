import XCTest
import Foundation
import IRRegistry
import IRRuntime
import IRModels

// Temporary timing scratch (not to be committed).
final class ZZAnyIRScratchTiming: XCTestCase {
    func testTime256() throws {
        guard let which = ProcessInfo.processInfo.environment["ANYIR_TIMING"] else { return }
        let zoo = try Zoo.embedded()
        for (id, file, cfg) in [("anyir-t", "anyir_T_state_dict_keys.txt", AnyIRConfig.tiny), ("anyir-s", "anyir_S_state_dict_keys.txt", AnyIRConfig.small)] where which.contains(id) {
            let layout = try XCTUnwrap(zoo.manifest(id)?.layout(named: "lightning"))
            let mapped = try KeyMapper.apply(layout, to: try keyListTensors(file))
            var table = [String: Tensor]()
            var seed: UInt64 = 1
            for s in mapped.tensors {
                let vals = (0..<s.elementCount).map { _ -> Float in seed = seed &* 6364136223846793005 &+ 1442695040888963407; return (Float(seed >> 40) / Float(1 << 24)) * 0.1 + 0.01 }
                table[s.name] = try Tensor(shape: s.shape, values: vals)
            }
            let model = try AnyIRModel(config: cfg, weights: Weights(tensors: table), context: ComputeContext(threads: 2))
            let x = try Tensor(shape: [1, 3, 256, 256], values: (0..<(3*65536)).map { Float($0 % 251) / 251 })
            let t00 = Date()
            _ = try model.run(x)
            let first = Date().timeIntervalSince(t00)
            var best = 1e9
            for _ in 0..<3 {
                let t0 = Date()
                _ = try model.run(x)
                best = min(best, Date().timeIntervalSince(t0))
            }
            print("TIMING \(id) 256x256: first \(first) s, best \(best) s")
        }
    }
}
