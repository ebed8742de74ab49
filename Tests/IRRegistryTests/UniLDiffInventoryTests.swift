import IRModels
import IRRegistry
import XCTest

/// The unildiff one-file inventory: each part is its own family's inventory under its prefix,
/// and the UniLDiff modules match shared/architectures/clip-sdxl-unildiff.md §1.7 in tensors
/// and parameters. No weights needed.
final class UniLDiffInventoryTests: XCTestCase {
    func testPublishedSizesMatchTheSpec() throws {
        let inv = UniLDiffConfig.full.inventory
        func group(_ p: String) -> (Int, Int) {
            let g = inv.filter { $0.name.hasPrefix(p) }
            return (g.count, g.parameterCount)
        }
        let expected: [(String, Int, Int)] = [
            ("unet.denoise_encoder.", 102, 34_125_696), ("unet.condition_embedding.", 6, 3_835_712),
            ("unet.information_transformer_layers.", 48, 117_900_800), ("unet.spatial_ch_projs.", 2, 328_000),
            ("vae.", 248, 83_653_863),
        ]
        for (p, n, params) in expected {
            let (gn, gp) = group(p)
            XCTAssertEqual(gn, n, p)
            XCTAssertEqual(gp, params, p)
        }
        let core = inv.filter { $0.name.hasPrefix("unet.") && !["unet.denoise_encoder.", "unet.condition_embedding.",
            "unet.information_transformer_layers.", "unet.spatial_ch_projs."].contains(where: $0.name.hasPrefix) }
        XCTAssertEqual(core.count, 1680)
        XCTAssertEqual(core.parameterCount, 2_567_463_684)
        XCTAssertEqual(Set(inv.map(\.name)).count, inv.count, "no name twice")
        // The manifest's config is the published one.
        let m = try XCTUnwrap(try Zoo.embedded().manifest("unildiff"))
        XCTAssertEqual(try XCTUnwrap(m.modelConfig).typed(UniLDiffConfig.self), UniLDiffConfig.full)
        XCTAssertTrue(m.runnable)
    }

    func testDetectionReadsThePartsBackFromShapes() throws {
        let c = UniLDiffConfig.full
        let table = ShapeTable(shapes: Dictionary(uniqueKeysWithValues: c.inventory.map { ($0.name, $0.shape) }))
        guard case .found(let found, _) = UniLDiffConfig.detect(table) else { return XCTFail("not detected") }
        XCTAssertEqual(found.daff, c.daff)
        XCTAssertEqual(found.unet.blockOutChannels, c.unet.blockOutChannels)
        XCTAssertEqual(found.vae.blockOutChannels, c.vae.blockOutChannels)
        XCTAssertEqual(found.textEncoder2.projectionDim, 1280)
        // Without the DAFF it is not unildiff (a plain SDXL pipeline folder, say).
        let plain = ShapeTable(shapes: table.shapes.filter { !$0.key.contains("information_transformer_layers") })
        guard case .absent(let missing) = UniLDiffConfig.detect(plain) else { return XCTFail("detected without DAFF") }
        XCTAssertEqual(missing, ["unet.information_transformer_layers.latent_in.weight"])
    }

    func testInconsistentPartsAreRefusedWithTheField() throws {
        var c = UniLDiffConfig.full
        c.unet.crossAttentionDim = 1024
        XCTAssertThrowsError(try ModelConfig(c)) { XCTAssertTrue("\($0)".contains("unet.cross_attention_dim"), "\($0)") }
        c = .full
        c.vae.blockOutChannels = [128, 256, 512, 520]
        c.vae.normNumGroups = 8
        XCTAssertThrowsError(try ModelConfig(c)) { XCTAssertTrue("\($0)".contains("divisible by 32"), "\($0)") }
    }
}
