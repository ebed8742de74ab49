import XCTest
import IRTestSupport
import IRRegistry
import IRRuntime
import IRModels

/// The published AnyIR-T and AnyIR-S against the shared key lists (Tests/Fixtures/keys, copies
/// of shared/architectures): told apart from shapes alone, and the Swift network built from
/// tensors of exactly those names and shapes runs.
final class AnyIRInventoryTests: XCTestCase {
    let published: [(id: String, file: String, config: AnyIRConfig, params: Int, keys: Int, bn: Int)] = [
        ("anyir-t", "anyir_T_state_dict_keys.txt", .tiny, 5_736_376, 825, 37),
        ("anyir-s", "anyir_S_state_dict_keys.txt", .small, 8_513_436, 979, 44),
    ]

    func testVariantsAreToldApartFromShapes() throws {
        let zoo = try Zoo.embedded()
        for p in published {
            let list = try keyListTensors(p.file)
            XCTAssertEqual(list.count, p.keys)
            guard case .matched(let r) = ModelResolver.detect(list, zoo: zoo) else {
                return XCTFail("\(p.id): no registered model matched its key list")
            }
            XCTAssertEqual(r.manifest.id, p.id)
            XCTAssertEqual(r.config.typed(AnyIRConfig.self), p.config)
            XCTAssertTrue(r.configMatchesManifest)
            XCTAssertTrue(r.isExact, "\(r.report)")
            XCTAssertEqual(r.mapped.dropped.map { $0.names.count }, [p.bn], "num_batches_tracked, one per GatedDA")
            XCTAssertEqual(r.config.inventory.parameterCount, p.params)
            XCTAssertEqual(r.manifest.parameters, p.params)
            XCTAssertEqual(r.manifest.stateDictKeys, p.keys)
        }
    }

    /// Every tensor the Swift network reads exists with that shape, and a forward pass goes
    /// through all levels (16×16: latent at 2×2) to PyTorch's answer for constant weights 0.01.
    func testPublishedNetworksBuildFromTheKeyListsAndRun() throws {
        let zoo = try Zoo.embedded()
        for p in published {
            let manifest = try XCTUnwrap(zoo.manifest(p.id))
            let layout = try XCTUnwrap(manifest.layout(named: "lightning"))
            let mapped = try KeyMapper.apply(layout, to: try keyListTensors(p.file))
            let model = try AnyIRModel(config: p.config, weights: try constantWeights(mapped.tensors, fill: 0.01),
                                       context: ComputeContext())
            let x = try Tensor(shape: [1, 3, 16, 16], values: (0..<768).map { Float($0 % 17) / 17 })
            try assertMatchesPublishedDegenerate(try model.run(x), "\(p.id).npy")
        }
    }

    /// T's weights under S's config are refused by name and shape (nothing is silently reshaped).
    func testWeightsOfOneVariantDoNotBuildTheOther() throws {
        let layout = try XCTUnwrap(try Zoo.embedded().manifest("anyir-t")?.layout(named: "lightning"))
        let mapped = try KeyMapper.apply(layout, to: try keyListTensors("anyir_T_state_dict_keys.txt"))
        XCTAssertThrowsError(try AnyIRModel(config: .small, weights: try constantWeights(mapped.tensors))) { e in
            XCTAssertTrue("\(e)".contains("patch_embed.proj.weight' has shape [28, 3, 3, 3], expected [32, 3, 3, 3]"), "\(e)")
        }
    }
}
