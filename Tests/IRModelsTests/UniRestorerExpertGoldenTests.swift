import Foundation
import XCTest
import IRTestSupport
import IRTensor
import IRCheckpoint
import IRRegistry
import IRRuntime
import IRModels

/// UniRestorer's Restormer (WithBias, BiasFree), LoRA-Restormer and NAFNetLocal experts against
/// PyTorch (Tools/reference/restormer.py, nafnet.py; fixtures by Tools/gen_unirestorer_expert_goldens.py),
/// every parameter random (LayerNorms, temperatures, beta/gamma, lora_B), max abs error ≤ 1e-4.
final class UniRestorerExpertGoldenTests: XCTestCase {
    func configJSON(_ golden: ModelCase) throws -> JSON {
        try JSONDecoder().decode(JSON.self, from: try XCTUnwrap(FileManager.default.contents(atPath: golden.path("config.json"))))
    }

    /// 19×27: reflect-padded to 24×32 and cropped back, as UniRestorer's Restormer does.
    func testRestormerWithBiasMatchesPyTorch() throws {
        let golden = ModelCase("restormer-withbias")
        let imported = try BasicSRImport(golden, manifest: "restormer")
        XCTAssertTrue(imported.resolution.isExact, "\(imported.resolution.report)")
        XCTAssertEqual(imported.resolution.layout.name, "basicsr")
        XCTAssertEqual(imported.resolution.config, try golden.config(family: "restormer"))
        let y = try imported.model().run(try golden.tensor("input.npy"))
        assertGolden(y, try golden.tensor("output.npy"), "Restormer WithBias tiny 19x27")
    }

    func testRestormerBiasFreeMatchesPyTorch() throws {
        let golden = ModelCase("restormer-biasfree")
        let imported = try BasicSRImport(golden, manifest: "restormer")
        XCTAssertTrue(imported.resolution.isExact, "\(imported.resolution.report)")
        XCTAssertEqual(imported.resolution.config.typed(RestormerConfig.self)?.layerNorm, .biasFree)
        XCTAssertEqual(imported.resolution.config, try golden.config(family: "restormer"))
        let y = try imported.model().run(try golden.tensor("input.npy"))
        assertGolden(y, try golden.tensor("output.npy"), "Restormer BiasFree tiny 21x30")
    }

    /// The unmerged ConvLoRA checkpoint (random, nonzero lora_B) is merged at import, every site
    /// including the depthwise ones, and then runs as a plain Restormer.
    func testLoRARestormerMergedAtImportMatchesPyTorch() throws {
        let golden = ModelCase("restormer-lora")
        let raw = try CheckpointReader.read(path: golden.path("model.pth")).tensors
        let sites = raw.filter { $0.name.hasSuffix(".lora_A") }.count
        XCTAssertEqual(sites, 8 * 6 + 10)  // 6 convs in each of 8 blocks; patch_embed, 3 downs, 3 ups, 2 reduces, output
        let imported = try BasicSRImport(golden, manifest: "restormer")
        XCTAssertTrue(imported.resolution.isExact, "\(imported.resolution.report)")
        XCTAssertEqual(imported.resolution.layout.name, "basicsr-lora")
        XCTAssertEqual(imported.resolution.mapped.loraMerged, sites)
        XCTAssertEqual(imported.resolution.mapped.tensors.count, raw.count - 2 * sites)
        XCTAssertTrue(imported.resolution.mapped.notes.contains { $0.contains("merged \(sites) ConvLoRA sites") })
        XCTAssertEqual(imported.resolution.config, try golden.config(family: "restormer"))
        let y = try imported.model().run(try golden.tensor("input.npy"))
        assertGolden(y, try golden.tensor("output.npy"), "LoRA-Restormer tiny 17x22 (merged)")

        // The base weights alone (lora_B ignored) give another answer: the merge is what matches.
        var unmerged = raw.filter { !$0.name.contains(".lora_") }
        for i in unmerged.indices { unmerged[i].name = unmerged[i].name.replacingOccurrences(of: ".conv.weight", with: ".weight") }
        let base = try ModelFactory.make(config: imported.resolution.config, records: unmerged, source: "base")
        XCTAssertGreaterThan(maxAbsDifference(try base.run(try golden.tensor("input.npy")), try golden.tensor("output.npy")), 1e-2)
    }

    /// 50×37 zero-padded to 64×48: every SCA pools locally (kernels from train size 16×24), and a
    /// 16×16 input where every one is global. The same weights with global pooling everywhere miss.
    func testNAFNetLocalMatchesPyTorch() throws {
        let golden = ModelCase("nafnet-local")
        let imported = try BasicSRImport(golden, manifest: "nafnet-local", config: try configJSON(golden))
        XCTAssertTrue(imported.resolution.isExact, "\(imported.resolution.report)")
        XCTAssertEqual(imported.resolution.config, try golden.config(family: "nafnet"))
        let model = try imported.model()
        let y = try model.run(try golden.tensor("input.npy"))
        assertGolden(y, try golden.tensor("output.npy"), "NAFNetLocal tiny 50x37 (local pooling)")
        assertGolden(try model.run(try golden.tensor("input-small.npy")), try golden.tensor("output-small.npy"),
                     "NAFNetLocal tiny 16x16 (global pooling)")

        var global = try XCTUnwrap(imported.resolution.config.typed(NAFNetConfig.self))
        global.trainSize = [1, 3, 4096, 4096]
        let g = try imported.model(config: try ModelConfig(global)).run(try golden.tensor("input.npy"))
        XCTAssertGreaterThan(maxAbsDifference(g, try golden.tensor("output.npy")), 1e-3)
    }

    /// Kernels as upstream's construction pass fixes them (padded train-size feature side ×
    /// int(1.5 · train side) // train side), per level, last the middle blocks.
    func testTLSCKernels() throws {
        let published = NAFNetConfig.published
        XCTAssertEqual((0...4).map { published.poolKernel(level: $0).h }, [384, 192, 96, 48, 24])
        let tiny = try XCTUnwrap(try ModelCase("nafnet-local").config(family: "nafnet").typed(NAFNetConfig.self))
        XCTAssertEqual((0...4).map { [tiny.poolKernel(level: $0).h, tiny.poolKernel(level: $0).w] },
                       [[24, 48], [12, 24], [6, 12], [3, 6], [1, 3]])
        // A train side that is not a multiple of 16 is padded in upstream's pass: 24 -> 32, base 36.
        let odd = NAFNetConfig(width: 4, encoderBlocks: [1, 1, 1, 1], middleBlocks: 1, decoderBlocks: [1, 1, 1, 1], trainSize: [1, 3, 24, 40])
        XCTAssertEqual([odd.poolKernel(level: 0).h, odd.poolKernel(level: 0).w], [48, 72])
    }

    func testBadInputsGetOneClearError() throws {
        let model = try BasicSRImport(ModelCase("restormer-withbias"), manifest: "restormer").model()
        XCTAssertEqual(model.minimumSide, 5)
        XCTAssertEqual(try model.run(try Tensor.zeros([1, 3, 13, 6])).shape, [1, 3, 13, 6])
        XCTAssertThrowsError(try model.run(try Tensor.zeros([1, 3, 13, 4]))) { e in
            XCTAssertTrue("\(e)".contains("at least 5x5"), "\(e)")
        }
        XCTAssertThrowsError(try model.run(try Tensor.zeros([1, 4, 16, 16])))
        let golden = ModelCase("nafnet-local")
        let naf = try BasicSRImport(golden, manifest: "nafnet-local", config: try configJSON(golden)).model()
        XCTAssertEqual(try naf.run(try Tensor.zeros([1, 3, 1, 1])).shape, [1, 3, 1, 1])
        XCTAssertThrowsError(try naf.run(try Tensor.zeros([3, 16, 16])))
    }
}

/// The published expert configs build from tensors of exactly their key lists' names and shapes
/// (the LoRA one merged first) and run. With every weight 0.01 they give PyTorch's answer
/// (Tools/gen_published_degenerate_goldens.py, published-size modules, outputs only): zero channel
/// variance in every LayerNorm makes the BiasFree Restormer overflow in decoder_level3 and come out
/// all NaN (float32 and float64 alike), while WithBias and NAFNetLocal stay finite. At every SIMD
/// level (`make test` runs this suite once per level).
final class UniRestorerExpertPublishedTests: XCTestCase {
    func shapes(_ file: String) throws -> [TensorShape] {
        try keyListTensors(file).map { TensorShape(name: String($0.name.dropFirst(4)), shape: $0.shape, dtype: $0.dtype) }
    }

    func input() throws -> Tensor { try Tensor(shape: [1, 3, 20, 18], values: (0..<1080).map { Float($0 % 13) / 13 }) }

    func testPublishedRestormersMatchPyTorch() throws {
        for (file, config, golden) in [("unirestorer_restormer_withbias_keys.txt", RestormerConfig.published, "restormer-withbias.npy"),
                                       ("unirestorer_restormer_biasfree_keys.txt", RestormerConfig.publishedBiasFree, "restormer-biasfree.npy")] {
            let model = try RestormerModel(config: config, weights: try constantWeights(try shapes(file), fill: 0.01))
            try assertMatchesPublishedDegenerate(try model.run(try input()), golden)
        }
    }

    /// Merging the 274 sites of a published LoRA-Restormer's shapes gives the WithBias Restormer's tensors.
    func testPublishedLoRARestormerMergesAndRuns() throws {
        let merged = try LoRAMerge.apply(try shapes("unirestorer_lora_restormer_keys.txt"), alpha: 16)
        XCTAssertEqual(merged.merged, 274)
        XCTAssertEqual(merged.tensors.map(\.name), RestormerConfig.published.inventory.map(\.name))
        let model = try RestormerModel(config: .published, weights: try constantWeights(merged.tensors, fill: 0.01))
        XCTAssertEqual(try model.run(try input()).shape, [1, 3, 20, 18])
    }

    func testPublishedNAFNetLocalMatchesPyTorch() throws {
        let model = try NAFNetModel(config: .published, weights: try constantWeights(try shapes("unirestorer_nafnet_local_keys.txt"), fill: 0.01))
        try assertMatchesPublishedDegenerate(try model.run(try input()), "nafnet-local.npy")
    }
}
