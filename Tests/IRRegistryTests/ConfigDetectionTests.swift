import IRModels
import IRRegistry
import IRTensor
import XCTest

/// `irzoo import FILE` without `--arch`: family and config read off the shapes.
final class ConfigDetectionTests: XCTestCase {
    private func detect(_ tensors: [TensorShape], file: StaticString = #filePath, line: UInt = #line) throws -> Resolution<TensorShape> {
        switch ModelResolver.detect(tensors, zoo: try KeyList.zoo()) {
        case .matched(let r): return r
        case .noMatch(let closest):
            XCTFail("no match; closest: \(closest.map(\.description))", file: file, line: line)
            throw ZooError(file: "-", reason: "no match")
        }
    }

    func testPublishedKeyListsAreRecognised() throws {
        let cases: [(String, String, String)] = [
            ("symunet_w48_state_dict_keys.tsv", "", "symunet"),
            ("se_symunet_w48_state_dict_keys.tsv", "", "se-symunet"),
            ("anyir_T_state_dict_keys.txt", "net.", "anyir-t"),
            ("anyir_S_state_dict_keys.txt", "net.", "anyir-s"),
            ("promptir_state_dict_keys.txt", "net.", "promptir"),
            ("clip_hf_vitl14_vision_keys.txt", "", "clip-vit-l-14"),
            ("clip_openai_vitl14_keys.txt", "", "clip-vit-l-14"),
        ]
        for (file, prefix, id) in cases {
            let r = try detect(try KeyList.load(file, prefix: prefix))
            XCTAssertEqual(r.manifest.id, id, file)
            XCTAssertTrue(r.configMatchesManifest, "\(file): detected \(r.config) vs \(r.manifest.config)")
            XCTAssertTrue(r.isExact, file)
        }
    }

    func testSymUNetConfigReadOffShapes() throws {
        let r = try detect(try KeyList.load("symunet_w48_state_dict_keys.tsv"))
        XCTAssertEqual(r.config.typed(SymUNetConfig.self), SymUNetConfig.published)
        XCTAssertEqual(r.layout.name, "basicsr")
    }

    /// A user's own SymUNet at another width and depth imports without --arch, as `symunet`
    /// with the detected config (not the published one).
    func testUsersOwnSymUNetVariantIsDetected() throws {
        let mine = SymUNetConfig(width: 32, encoderBlocks: [2, 3, 1, 2], middleBlocks: 3, decoderBlocks: [1, 2, 2, 4],
                                 heads: [1, 2, 4, 8], middleHeads: 4, ffnExpansionFactor: 2.0, bias: true, layerNorm: .biasFree)
        let shapes = mine.inventory.map { TensorShape(name: "module." + $0.name, shape: $0.shape) }
        let r = try detect(shapes)
        XCTAssertEqual(r.manifest.id, "symunet")
        XCTAssertFalse(r.configMatchesManifest)
        XCTAssertEqual(r.config.typed(SymUNetConfig.self), mine)
        XCTAssertEqual(r.mapped.strippedPrefixes["module."], shapes.count)
        XCTAssertEqual(r.configSource, "detected from shapes")
    }

    func testExpansionFactorDetection() throws {
        for factor in [2.66, 2.0, 3.0, 1.5] {
            let c = SymUNetConfig(width: 24, encoderBlocks: [1, 1], middleBlocks: 1, decoderBlocks: [1, 1], heads: [1, 2], middleHeads: 4,
                                  ffnExpansionFactor: factor)
            let t = ShapeTable(c.inventory.map { TensorShape(name: $0.name, shape: $0.shape) })
            guard case .found(let d, _) = SymUNetConfig.detect(t) else { return XCTFail("not detected") }
            XCTAssertEqual(d.inventory, c.inventory, "factor \(factor)")
        }
    }

    func testSESymUNetTinyConfigRoundTrips() throws {
        let clip = CLIPVisionConfig(hiddenSize: 128, intermediateSize: 512, layers: 2, heads: 2, patchSize: 8, imageSize: 32)
        let c = SESymUNetConfig(backbone: SymUNetConfig(width: 8, encoderBlocks: [1, 1, 1], middleBlocks: 1, decoderBlocks: [1, 1, 1],
                                                        heads: [1, 2, 4], middleHeads: 8),
                                crossAttentionInnerDims: [32, 32, 32], middleCrossAttentionInnerDim: 32,
                                crossAttentionHeads: [1, 2, 4], middleCrossAttentionHeads: 8, patchSizes: [4, 4, 4], middlePatchSize: 2, clip: clip)
        try c.validate()
        let r = try detect(c.inventory.map { TensorShape(name: $0.name, shape: $0.shape) })
        XCTAssertEqual(r.manifest.id, "se-symunet")
        XCTAssertEqual(r.config.typed(SESymUNetConfig.self), c)
        XCTAssertTrue(r.notes.contains { $0.contains("assumed 2") }, "\(r.notes)")
    }

    func testAnyIRVariantsAreToldApartByShapes() throws {
        let t = try detect(try KeyList.load("anyir_T_state_dict_keys.txt", prefix: "net."))
        XCTAssertEqual(t.config.typed(AnyIRConfig.self), AnyIRConfig.tiny)
        let s = try detect(try KeyList.load("anyir_S_state_dict_keys.txt", prefix: "net."))
        XCTAssertEqual(s.config.typed(AnyIRConfig.self), AnyIRConfig.small)
    }

    func testNearMissNamesTheMissingTensors() throws {
        var keys = try KeyList.load("symunet_w48_state_dict_keys.tsv")
        keys.removeAll { $0.name.hasPrefix("encoders.1.3.attn") || $0.name == "ending.bias" }
        guard case .noMatch(let closest) = ModelResolver.detect(keys, zoo: try KeyList.zoo()) else {
            return XCTFail("an incomplete SymUNet must not match")
        }
        let first = try XCTUnwrap(closest.first)
        XCTAssertEqual(first.family, "symunet")
        let report = try XCTUnwrap(first.report)
        XCTAssertEqual(Set(report.missing.map(\.name)), ["ending.bias", "encoders.1.3.attn.temperature", "encoders.1.3.attn.qkv.weight",
                                                         "encoders.1.3.attn.qkv_dwconv.weight", "encoders.1.3.attn.project_out.weight"])
        XCTAssertTrue(first.description.contains("5 missing"), first.description)
    }

    func testUnknownTensorsMatchNothing() throws {
        let junk = [TensorShape(name: "conv.weight", shape: [8, 3, 3, 3]), TensorShape(name: "fc.bias", shape: [10])]
        guard case .noMatch(let closest) = ModelResolver.detect(junk, zoo: try KeyList.zoo()) else { return XCTFail("matched junk") }
        XCTAssertFalse(closest.isEmpty)
        XCTAssertTrue(closest.allSatisfy { $0.report == nil && !$0.missingIdentifying.isEmpty }, "\(closest)")
    }

    func testResolveWithArchUsesDetectedConfigWhenThePublishedOneDoesNotFit() throws {
        let zoo = try KeyList.zoo()
        let mine = SymUNetConfig(width: 16, encoderBlocks: [1, 1, 1], middleBlocks: 1, decoderBlocks: [1, 1, 1], heads: [1, 2, 4], middleHeads: 8)
        let shapes = mine.inventory.map { TensorShape(name: $0.name, shape: $0.shape) }
        let r = try ModelResolver.resolve(shapes, manifest: try XCTUnwrap(zoo.manifest("symunet")))
        XCTAssertTrue(r.isExact)
        XCTAssertEqual(r.config.typed(SymUNetConfig.self), mine)
        // --config overrides: a wrong override leaves a report with every problem.
        let wrong = try ModelResolver.resolve(shapes, manifest: try XCTUnwrap(zoo.manifest("symunet")),
                                              configOverride: .object(["width": .int(16), "restormer_middle_heads": .int(4),
                                                                       "enc_blk_nums": .array([.int(1), .int(1), .int(1)]),
                                                                       "dec_blk_nums": .array([.int(1), .int(1), .int(1)]),
                                                                       "middle_blk_num": .int(1)]))
        XCTAssertFalse(wrong.isExact)
        XCTAssertEqual(wrong.report.mismatched.map(\.name), ["middle_blks.0.attn.temperature"])
        XCTAssertEqual(wrong.configSource, "manifest + --config")
    }

    func testInvalidShapesGiveAConfigErrorNotATrap() throws {
        // Heads that do not divide the channels: detection must refuse, not build a bogus inventory.
        var keys = try KeyList.load("symunet_w48_state_dict_keys.tsv")
        let i = try XCTUnwrap(keys.firstIndex { $0.name == "encoders.0.0.attn.temperature" })
        keys[i].shape = [5, 1, 1]
        let family = try XCTUnwrap(Families.catalog.named("symunet"))
        XCTAssertThrowsError(try family.detect(ShapeTable(keys))) { error in
            XCTAssertTrue("\(error)".contains("restormer_heads[0]"), "\(error)")
        }
    }
}

/// The `seeded-normal` pos_embed default matches its Python twin (Tools/reference/pos_embed.py).
final class PosEmbedDefaultTests: XCTestCase {
    func testMatchesThePythonGenerator() throws {
        XCTAssertEqual(SeededNormal.fnv1a64("middle_guide_attention"), 0x42bd_7e49_ada2_ecb2)
        let v = SESymUNetConfig.published.defaultPosEmbed(modulePath: "middle_guide_attention", tokens: 4, patchDim: 256)
        XCTAssertEqual(v.count, 1024)
        let python: [Float] = [-1.860331416130066, 0.9458227753639221, -1.030422329902649, 0.5599626302719116,
                               -0.8212226033210754, -0.8992165327072144]
        XCTAssertEqual(Array(v.prefix(6)), python)
    }

    func testIsStandardNormalAndDependsOnTheModule() throws {
        let v = SeededNormal.values(seed: 0, count: 100_000)
        let mean = v.reduce(0, +) / Float(v.count)
        let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(v.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.02)
        XCTAssertEqual(std, 1, accuracy: 0.02)
        let c = SESymUNetConfig.published
        XCTAssertNotEqual(c.defaultPosEmbed(modulePath: "a", tokens: 2, patchDim: 3), c.defaultPosEmbed(modulePath: "b", tokens: 2, patchDim: 3))
        var zeros = c
        zeros.posEmbedDefault = .zeros
        XCTAssertEqual(zeros.defaultPosEmbed(modulePath: "a", tokens: 2, patchDim: 3), [Float](repeating: 0, count: 6))
    }
}
