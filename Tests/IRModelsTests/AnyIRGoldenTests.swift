import XCTest
import IRTestSupport
import IRCheckpoint
import IRRegistry
import IRRuntime
import IRModels

/// AnyIR against PyTorch (our reference module, Tools/reference/anyir.py) on tiny configs whose
/// BatchNorm statistics, LayerNorms, `lam`, `tau` and temperatures are randomised, saved in
/// Lightning's container (Tools/gen_anyir_goldens.py), imported as `irzoo import` does.
final class AnyIRGoldenTests: XCTestCase {
    let caseT = ModelCase("anyir-t")  // dim 4, blocks 1/1/2/2, refinement 1, 24×32, AdamW state, Namespace hparams
    let caseS = ModelCase("anyir-s")  // dim 6, blocks 2/1/1/1, refinement 2, 21×30, weights only, dict hparams

    func testLightningCheckpointMatchesPyTorch() throws {
        let imported = try LightningImport(caseT, manifest: "anyir-t")
        let y = try imported.model().run(try caseT.tensor("input.npy"))
        assertGolden(y, try caseT.tensor("output.npy"), "AnyIR tiny T")
    }

    /// 21×30 is reflect-padded to 24×32 and cropped back (upstream refuses such sizes).
    func testOddSizedInputIsPaddedAndMatchesPyTorch() throws {
        let imported = try LightningImport(caseS, manifest: "anyir-s")
        let x = try caseS.tensor("input.npy")
        XCTAssertEqual(x.shape, [1, 3, 21, 30])
        let y = try imported.model().run(x)
        XCTAssertEqual(y.shape, [1, 3, 21, 30])
        assertGolden(y, try caseS.tensor("output.npy"), "AnyIR tiny S, odd size")
    }

    /// The hyperparameters are read off the tensor shapes (AnyIR's checkpoints carry none).
    func testConfigIsReadOffTheShapes() throws {
        for (golden, id) in [(caseT, "anyir-t"), (caseS, "anyir-s")] {
            let imported = try LightningImport(golden, manifest: id)
            XCTAssertTrue(imported.resolution.isExact, "\(id): \(imported.resolution.report)")
            XCTAssertEqual(imported.resolution.configSource, "detected from shapes")
            XCTAssertEqual(imported.resolution.config, try golden.config(family: "anyir"))
        }
    }

    /// `state_dict` is chosen, `net.` stripped, optimizer/loop/scheduler state and the
    /// hyperparameters (an argparse.Namespace, a dict) left aside and listed; the int64
    /// `num_batches_tracked` counters dropped with their reason.
    func testLightningContainerIsUnwrappedAndReported() throws {
        let t = try LightningImport(caseT, manifest: "anyir-t")
        XCTAssertEqual(t.loaded.format, .torchZip)
        XCTAssertTrue(t.loaded.wrapper?.contains("state_dict") ?? false, "\(t.loaded.wrapper ?? "nil")")
        XCTAssertTrue(t.loaded.wrapper?.contains("net.") ?? false, "\(t.loaded.wrapper ?? "nil")")
        let ignored = t.loaded.ignored.joined(separator: "\n")
        for key in ["optimizer_states", "lr_schedulers", "loops", "callbacks", "hyper_parameters", "epoch", "global_step"] {
            XCTAssertTrue(ignored.contains(key), "\(key) not reported in:\n\(ignored)")
        }
        XCTAssertTrue(t.records.allSatisfy { !$0.name.hasPrefix("net.") })
        let dropped = t.resolution.mapped.dropped
        XCTAssertEqual(dropped.count, 1)
        // One BatchNorm per DAB: 1+1+2+2 encoder/latent + 2+1+1 decoder + 1 refinement blocks.
        XCTAssertEqual(dropped.first?.names.count, 11)
        XCTAssertTrue(dropped.first?.names.allSatisfy { $0.hasSuffix(".attn.gatedcnn.norm.num_batches_tracked") } ?? false)
        // The 0-dim blend scalars arrive as such.
        let lams = t.records.filter { $0.name.hasSuffix(".attn.lam") }
        XCTAssertEqual(lams.count, 11)
        XCTAssertTrue(lams.allSatisfy { $0.shape == [] && $0.dtype == .f32 })

        let s = try LightningImport(caseS, manifest: "anyir-s")
        let sIgnored = s.loaded.ignored.joined(separator: "\n")
        XCTAssertTrue(sIgnored.contains("hyper_parameters"), sIgnored)
        XCTAssertFalse(sIgnored.contains("optimizer_states"), "weights-only checkpoint has no optimizer state")
    }

    /// Upstream's FFT path and the sum it equals give PyTorch's answer and each other's.
    func testFFTPathEqualsSumPath() throws {
        let imported = try LightningImport(caseS, manifest: "anyir-s")
        let c = try XCTUnwrap(imported.resolution.config.typed(AnyIRConfig.self))
        let weights = try Weights(records: imported.records)
        let x = try caseS.tensor("input.npy")
        let viaSum = try AnyIRModel(config: c, weights: weights, frequencyBranch: .sum).run(x)
        let viaFFT = try AnyIRModel(config: c, weights: weights, frequencyBranch: .fft).run(x)
        assertGolden(viaFFT, try caseS.tensor("output.npy"), "AnyIR tiny S, FFT path")
        assertClose(viaFFT, viaSum, tolerance: 1e-5, "FFT path vs sum path")
    }

    func testSingleThreadedAgrees() throws {
        let y = try LightningImport(caseT, manifest: "anyir-t").model(threads: 1).run(try caseT.tensor("input.npy"))
        assertClose(y, try caseT.tensor("output.npy"), tolerance: 1e-4, "AnyIR tiny T, 1 thread")
    }

    /// Every kernel family this CPU has (AVX-512, AVX2, portable) gives PyTorch's answer.
    func testEverySIMDLevelMatchesPyTorch() throws {
        let model = try LightningImport(caseS, manifest: "anyir-s").model()
        let native = ComputeContext.simdLevel
        defer { ComputeContext.setSIMDLevel(native) }
        for level in SIMDLevel.allCases where ComputeContext.setSIMDLevel(level) {
            assertGolden(try model.run(try caseS.tensor("input.npy")), try caseS.tensor("output.npy"), "AnyIR tiny S, \(level)")
        }
    }

    /// A batch of two runs each image as alone (GatedDA's statistics are per image).
    func testBatchOfTwoEqualsTwoSingleRuns() throws {
        let model = try LightningImport(caseT, manifest: "anyir-t").model()
        let x = try caseT.tensor("input.npy")
        let flipped = try Tensor(shape: x.shape, values: x.scalars.reversed())
        let ctx = ComputeContext()
        let batch = try model.run(try ctx.concat([x, flipped], dim: 0))
        assertClose(try batch.rows(0, 1), try caseT.tensor("output.npy"), tolerance: 1e-4, "batch item 0")
        assertClose(try batch.rows(1, 1), try model.run(flipped), tolerance: 1e-5, "batch item 1")
    }

    /// Reflect padding to a multiple of 8 needs pad < side: 5 is the smallest side.
    func testInputContract() throws {
        let model = try LightningImport(caseT, manifest: "anyir-t").model()
        XCTAssertEqual(model.minimumSide, 5)
        XCTAssertEqual(try model.run(try Tensor.zeros([1, 3, 5, 13])).shape, [1, 3, 5, 13])
        XCTAssertThrowsError(try model.run(try Tensor.zeros([1, 3, 4, 16]))) { e in
            XCTAssertTrue("\(e)".contains("at least 5x5"), "\(e)")
        }
        XCTAssertThrowsError(try model.run(try Tensor.zeros([1, 1, 16, 16]))) { e in
            XCTAssertTrue("\(e)".contains("3 input channels"), "\(e)")
        }
        XCTAssertThrowsError(try model.run(try caseT.tensor("input.npy"), aux: ["x": .scalar(1)], progress: nil)) { e in
            XCTAssertTrue("\(e)".contains("takes none"), "\(e)")
        }
    }

    func testProgressCountsEveryBlock() throws {
        let model = try LightningImport(caseT, manifest: "anyir-t").model()
        var seen = [(Int, Int)]()
        _ = try model.run(try caseT.tensor("input.npy"), aux: [:]) { seen.append(($0, $1)) }
        XCTAssertEqual(seen.map { $0.0 }, Array(1...11))
        XCTAssertTrue(seen.allSatisfy { $0.1 == 11 })
    }

    /// A weight of the wrong shape is refused by name, before anything runs.
    func testWrongWeightIsNamed() throws {
        let imported = try LightningImport(caseT, manifest: "anyir-t")
        let c = try XCTUnwrap(imported.resolution.config.typed(AnyIRConfig.self))
        var table = [String: Tensor]()
        for r in imported.records { table[r.name] = try Tensor(record: r) }
        table["latent.1.attn.gatedcnn.W_depth.weight"] = try Tensor.zeros([3, 1, 7, 7])
        XCTAssertThrowsError(try AnyIRModel(config: c, weights: Weights(tensors: table))) { e in
            XCTAssertTrue("\(e)".contains("latent.1.attn.gatedcnn.W_depth.weight"), "\(e)")
        }
        table["latent.1.attn.gatedcnn.W_depth.weight"] = nil
        XCTAssertThrowsError(try AnyIRModel(config: c, weights: Weights(tensors: table))) { e in
            XCTAssertTrue("\(e)".contains("missing weight 'latent.1.attn.gatedcnn.W_depth.weight'"), "\(e)")
        }
    }
}
