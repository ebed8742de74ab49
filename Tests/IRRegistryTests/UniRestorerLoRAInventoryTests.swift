import XCTest
import IRModels
import IRRegistry

/// UniRestorer-LoRA at the paper's size (reconstructed, shared/architectures/unirestorer.md §5):
/// the stored form's per-expert payload and base against the spec's counts.
final class UniRestorerLoRAInventoryTests: XCTestCase {
    let config = UniRestorerLoRAConfig.published

    func testPublishedPerExpertPayload() throws {
        let perExpert = config.expertInventory
        let lora = perExpert.filter { $0.name.hasSuffix(".lora_A") || $0.name.hasSuffix(".lora_B") }
        let own = perExpert.filter { UniRestorerLoRAConfig.isExpertOwn($0.name) }
        XCTAssertEqual(lora.count, 2 * 274, "ConvLoRA on all 274 convs")
        XCTAssertEqual(lora.parameterCount, 5_644_656)
        XCTAssertEqual(own.parameterCount, 30_100)
        XCTAssertEqual(lora.count + own.count, perExpert.count)
        // The released LoRARestormer's keys minus the wrapped conv weights are exactly this payload.
        let shapes = Dictionary(uniqueKeysWithValues: perExpert.map { ($0.name, $0.shape) })
        XCTAssertEqual(shapes["encoder_level1.0.attn.qkv_dwconv.lora_A"], [24, 432])
        XCTAssertEqual(shapes["encoder_level1.0.attn.qkv_dwconv.lora_B"], [3, 24])
        XCTAssertEqual(shapes["up4_3.body.0.lora_B"], [2304, 24])
        XCTAssertEqual(shapes["latent.0.ffn.dwconv.lora_A"], [24, 6126])
        XCTAssertEqual(shapes["output.lora_A"], [24, 288])
    }

    func testPublishedTotals() throws {
        try config.validate()
        XCTAssertEqual(config.base.inventory.parameterCount, 26_126_644)
        let inventory = config.inventory
        let base = inventory.filter { $0.name.hasPrefix("base.") }
        XCTAssertEqual(base.parameterCount, 26_126_644, "the base is stored once")
        let experts = inventory.filter { $0.name.hasPrefix("experts.") }
        XCTAssertEqual(experts.parameterCount, 29 * (5_644_656 + 30_100))
        let router = inventory.filter { !$0.name.hasPrefix("base.") && !$0.name.hasPrefix("experts.") }
        XCTAssertEqual(router.parameterCount, 90_485_504)
        XCTAssertEqual(inventory.parameterCount, 281_180_072)
        let manifest = try XCTUnwrap(try Zoo.embedded().manifest("unirestorer-lora"))
        XCTAssertEqual(manifest.parameters, 281_180_072)
        let family = try XCTUnwrap(Families.catalog.named("unirestorer-lora"))
        XCTAssertEqual(try family.decode(manifest.config).typed(UniRestorerLoRAConfig.self), config)
    }

    /// Every routed pool entry is a Restormer of the base's config; pool 0 is the base.
    func testRoutingConfigReusesTheFullModelsTable() throws {
        let routing = try config.routingConfig()
        XCTAssertEqual(routing.pool.first, "base")
        XCTAssertEqual(routing.pool.last, "experts.28")
        XCTAssertEqual(routing.pathTable, UniRestorerConfig.releasedPathTable)
        XCTAssertTrue(routing.experts.allSatisfy { $0.family == "restormer" })
    }
}
