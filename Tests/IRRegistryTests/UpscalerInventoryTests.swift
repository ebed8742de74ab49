import XCTest
import IRModels
import IRRegistry
import IRTensor

/// The released RRDBNet and SRVGGNetCompact files' key/shape tables (Tests/Fixtures/keys, written
/// by Tools/gen_upscaler_goldens.py from the upstream constructors of each release) detected
/// without --arch: family, manifest, every hyperparameter, layout, parameter count, state_dict order.
final class UpscalerInventoryTests: XCTestCase {
    func detect(_ file: String) throws -> Resolution<TensorShape> {
        guard case .matched(let r) = ModelResolver.detect(try KeyList.load(file), zoo: try KeyList.zoo()) else {
            XCTFail("\(file): nothing detected")
            throw XCTSkip("no match")
        }
        XCTAssertTrue(r.isExact, "\(file): \(r.report)")
        XCTAssertEqual(r.config.inventory.map(\.name), r.mapped.tensors.map(\.name), "\(file): state_dict order")
        return r
    }

    func testRealESRGANx4plus() throws {
        let r = try detect("realesrgan_RealESRGAN_x4plus_keys.txt")
        XCTAssertEqual(r.manifest.id, "realesrgan-x4plus")
        XCTAssertEqual(r.layout.name, "basicsr")
        XCTAssertTrue(r.configMatchesManifest)
        XCTAssertEqual(r.config.typed(RRDBNetConfig.self), RRDBNetConfig(scale: 4, features: 64, blocks: 23, growth: 32))
        XCTAssertEqual(r.config.inventory.count, 702)
        XCTAssertEqual(r.config.inventory.parameterCount, 16_697_987)
    }

    /// RealESRNet_x4plus is the same network: it imports as the first registered variant with that config.
    func testRealESRNetx4plus() throws {
        let r = try detect("realesrgan_RealESRNet_x4plus_keys.txt")
        XCTAssertEqual(r.manifest.family, "rrdbnet")
        XCTAssertEqual(r.config.typed(RRDBNetConfig.self)?.blocks, 23)
    }

    func testRealESRGANx4plusAnime6B() throws {
        let r = try detect("realesrgan_RealESRGAN_x4plus_anime_6B_keys.txt")
        XCTAssertEqual(r.manifest.id, "realesrgan-x4plus-anime-6b")
        XCTAssertEqual(r.config.typed(RRDBNetConfig.self)?.blocks, 6)
        XCTAssertEqual(r.config.inventory.parameterCount, 4_467_779)
    }

    /// conv_first takes 12 = 4 x 3 channels: pixel-unshuffle 2, two upsampling stages, scale 2.
    func testRealESRGANx2plusReadsTheUnshuffle() throws {
        let r = try detect("realesrgan_RealESRGAN_x2plus_keys.txt")
        XCTAssertEqual(r.manifest.id, "realesrgan-x2plus")
        let c = try XCTUnwrap(r.config.typed(RRDBNetConfig.self))
        XCTAssertEqual([c.scale, c.shuffleFactor, c.inChannels, c.upsamplings], [2, 2, 3, 2])
        XCTAssertEqual(r.config.inventory.parameterCount, 16_703_171)
        XCTAssertTrue(r.notes.contains { $0.contains("pixel-unshuffle by 2") }, "\(r.notes)")
    }

    func testESRGANOldAnd2019KeyNames() throws {
        for (file, layout) in [("esrgan_RRDB_ESRGAN_x4_old_keys.txt", "esrgan-old"), ("esrgan_RRDB_ESRGAN_x4_2019_keys.txt", "esrgan-2019")] {
            let list = try KeyList.load(file)
            XCTAssertEqual(list.count, 702)
            let r = try detect(file)
            XCTAssertEqual(r.manifest.id, "esrgan-x4", file)
            XCTAssertEqual(r.layout.name, layout, file)
            XCTAssertEqual(r.config.typed(RRDBNetConfig.self), RRDBNetConfig(), file)
            XCTAssertEqual(r.mapped.renamed, layout == "esrgan-old" ? 702 : 698, file)  // 2019 keeps conv_first, conv_last
        }
        XCTAssertEqual(try KeyList.load("esrgan_RRDB_ESRGAN_x4_old_keys.txt").first?.name, "model.0.weight")
    }

    func testRealESRGANCompactModels() throws {
        let general = try detect("realesrgan_realesr-general-x4v3_keys.txt")
        XCTAssertEqual(general.manifest.id, "realesr-general-x4v3")
        XCTAssertEqual(general.config.typed(SRVGGConfig.self), SRVGGConfig(convs: 32))
        XCTAssertEqual(general.config.inventory.parameterCount, 1_213_296)
        let anime = try detect("realesrgan_realesr-animevideov3_keys.txt")
        XCTAssertEqual(anime.manifest.id, "realesr-animevideov3")
        XCTAssertEqual(anime.config.typed(SRVGGConfig.self), SRVGGConfig(convs: 16))
        XCTAssertEqual(anime.config.inventory.parameterCount, 621_424)
    }

    /// ESRGAN+ (a conv1x1 in every dense block) is refused, and the message says it nearly matched RRDBNet and why.
    func testESRGANPlusIsANearMissOfRRDBNet() throws {
        var list = try KeyList.load("esrgan_RRDB_ESRGAN_x4_old_keys.txt")
        for i in 0..<23 { list.append(TensorShape(name: "model.1.sub.\(i).RDB1.conv1x1.weight", shape: [32, 64, 1, 1])) }
        guard case .noMatch(let closest) = ModelResolver.detect(list, zoo: try KeyList.zoo()) else { return XCTFail("ESRGAN+ was accepted") }
        let first = try XCTUnwrap(closest.first)
        XCTAssertEqual(first.family, "rrdbnet")
        XCTAssertTrue(first.description.contains("23 unexpected") && first.description.contains("conv1x1"), first.description)
    }

    /// A Compact file cut short (its last conv missing) names what is missing.
    func testTruncatedCompactIsANearMiss() throws {
        let list = try KeyList.load("realesrgan_realesr-animevideov3_keys.txt").filter { !$0.name.hasPrefix("body.34.") }
        guard case .noMatch(let closest) = ModelResolver.detect(list, zoo: try KeyList.zoo()) else { return XCTFail("accepted") }
        let first = try XCTUnwrap(closest.first)
        XCTAssertEqual(first.family, "srvgg")
        XCTAssertTrue(first.description.contains("missing"), first.description)
    }

    /// Neither family claims the other's files, nor a restorer's.
    func testFamiliesDoNotClaimEachOther() throws {
        let compact = try KeyList.load("realesrgan_realesr-general-x4v3_keys.txt")
        XCTAssertEqual(RRDBNetConfig.detect(ShapeTable(compact)).isFound, false)
        let rrdb = try KeyList.load("realesrgan_RealESRGAN_x4plus_keys.txt")
        XCTAssertEqual(SRVGGConfig.detect(ShapeTable(rrdb)).isFound, false)
        let nafnet = try KeyList.load("unirestorer_nafnet_local_keys.txt")
        XCTAssertEqual(RRDBNetConfig.detect(ShapeTable(nafnet)).isFound, false)
        XCTAssertEqual(SRVGGConfig.detect(ShapeTable(nafnet)).isFound, false)
    }

    /// Every upscaler manifest's counts are its config's inventory.
    func testManifestCountsFollowTheirConfigs() throws {
        let zoo = try KeyList.zoo()
        let ids = ["realesrgan-x4plus", "realesrnet-x4plus", "realesrgan-x4plus-anime-6b", "realesrgan-x2plus", "esrgan-x4",
                   "realesr-general-x4v3", "realesr-animevideov3"]
        for id in ids {
            let m = try XCTUnwrap(zoo.manifest(id), id)
            let inventory = try XCTUnwrap(m.modelConfig, id).inventory
            XCTAssertEqual(inventory.parameterCount, m.parameters, id)
            XCTAssertEqual(inventory.count, m.stateDictKeys, id)
        }
    }

    func testConfigValidationNamesTheField() {
        XCTAssertThrowsError(try ModelConfig(RRDBNetConfig(scale: 3))) { XCTAssertTrue("\($0)".contains("scale"), "\($0)") }
        XCTAssertThrowsError(try ModelConfig(RRDBNetConfig(scale: 8, shuffleFactor: 2))) { XCTAssertTrue("\($0)".contains("shuffle_factor"), "\($0)") }
        XCTAssertThrowsError(try ModelConfig(SRVGGConfig(inChannels: 3, outChannels: 1))) { XCTAssertTrue("\($0)".contains("num_out_ch"), "\($0)") }
        // BasicSR's default unshuffle follows the scale when the field is absent.
        XCTAssertEqual(try? Families.named("rrdbnet")?.architecture.decode(try JSON.parse("{\"scale\": 1}")).typed(RRDBNetConfig.self)?.shuffleFactor, 4)
    }
}

extension Detection {
    var isFound: Bool { if case .found = self { return true } else { return false } }
}
