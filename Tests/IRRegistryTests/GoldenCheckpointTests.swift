import Foundation
import IRCheckpoint
import IRModels
import IRRegistry
import IRTensor
import IRTestSupport
import XCTest

/// The golden checkpoints (Tools/gen_model_goldens.py, upstream containers and key names) read
/// back through IRCheckpoint and fit the Swift inventories exactly, with and without `--arch`.
final class GoldenCheckpointTests: XCTestCase {
    private func config(_ dir: String) throws -> JSON {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("models/\(dir)/config.json")))
        return try JSONDecoder().decode(JSON.self, from: data)
    }

    private func resolveExactly(_ file: String, arch: String, configDir: String,
                                line: UInt = #line) throws -> Resolution<TensorRecord> {
        let loaded = try CheckpointReader.read(path: TestSupport.fixture("models/" + file))
        let manifest = try XCTUnwrap(try Zoo.embedded().manifest(arch))
        let r = try ModelResolver.resolve(loaded.tensors, manifest: manifest, configOverride: try config(configDir))
        XCTAssertTrue(r.isExact, "\(file) as \(arch):\n\(r.report)", line: line)
        XCTAssertEqual(r.config.inventory.count, r.mapped.tensors.count, line: line)
        return r
    }

    func testSymUNetGoldenCheckpoint() throws {
        let r = try resolveExactly("symunet-tiny/checkpoint.pth", arch: "symunet", configDir: "symunet-tiny")
        XCTAssertEqual(r.layout.name, "basicsr")
        XCTAssertEqual(r.config.inventory.parameterCount, 117_061)
        // Without --arch the shapes give the same config.
        let loaded = try CheckpointReader.read(path: TestSupport.fixture("models/symunet-tiny/checkpoint.pth"))
        guard case .matched(let d) = ModelResolver.detect(loaded.tensors, zoo: try Zoo.embedded()) else { return XCTFail("not detected") }
        XCTAssertEqual(d.manifest.id, "symunet")
        XCTAssertEqual(d.config, r.config)
    }

    func testSESymUNetGoldenDropsTheCLIPTextTower() throws {
        let r = try resolveExactly("se-symunet-tiny/checkpoint.pth", arch: "se-symunet", configDir: "se-symunet-tiny")
        let dropped = r.mapped.dropped.map(\.pattern)
        XCTAssertTrue(dropped.contains("clip_model.text_model.{rest*}"), "\(dropped)")
        XCTAssertTrue(dropped.contains("clip_model.logit_scale"), "\(dropped)")
        let config = try XCTUnwrap(r.config.typed(SESymUNetConfig.self))
        // The aux file names exactly the eight modules the config has, with the token counts of
        // the 21x27 input padded to 32x32.
        let aux = try NumpyArchive.read(path: TestSupport.fixture("models/se-symunet-tiny/aux.npz"))
        var expected = [String: [Int]]()
        for s in config.sites {
            let tokens = (32 / s.stride / s.patchSize) * (32 / s.stride / s.patchSize)
            expected[s.guidePath + ".pos_embed"] = [1, tokens, s.patchDim]
            expected[s.refinePath + ".pos_embed"] = [1, tokens, s.patchDim]
        }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: aux.map { ($0.name, $0.shape) }), expected)
    }

    func testCLIPGoldenInBothLayoutsGivesTheSameTensors() throws {
        let hf = try resolveExactly("clip-tiny/model.safetensors", arch: "clip-vit-l-14", configDir: "clip-tiny")
        XCTAssertEqual(hf.layout.name, "hf")
        XCTAssertTrue(hf.mapped.dropped.contains { $0.pattern == "{path*}.position_ids" })
        let openai = try resolveExactly("clip-tiny/ViT-tiny.pt", arch: "clip-vit-l-14", configDir: "clip-tiny")
        XCTAssertEqual(openai.layout.name, "openai-torchscript")
        // Same names, and the same values once OpenAI's fp16 tensors are widened.
        let a = Dictionary(uniqueKeysWithValues: hf.mapped.tensors.map { ($0.name, $0) })
        for t in openai.mapped.tensors {
            let h = try XCTUnwrap(a[t.name], t.name)
            XCTAssertEqual(t.shape, h.shape, t.name)
            XCTAssertEqual(widened(t), widened(h), t.name)
        }
        XCTAssertTrue(openai.mapped.tensors.contains { $0.dtype == .f16 })
    }

    private func widened(_ t: TensorRecord) -> [Float] {
        var out = [Float](repeating: 0, count: t.elementCount)
        out.withUnsafeMutableBufferPointer { ElementConversion.toF32(t.data, t.dtype, into: $0.baseAddress!, count: t.elementCount) }
        return out
    }
}

/// The demo model shipped in Zoo/demo/ (Tools/train_demo.py) is what its manifest says.
final class DemoModelTests: XCTestCase {
    private let demo = TestSupport.repoRoot.appendingPathComponent("Zoo/demo")

    func testDemoCheckpointIsDetectedAsTheDemoModel() throws {
        let path = demo.appendingPathComponent("symunet-demo.pth").path
        let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertLessThanOrEqual(size, 5_000_000)
        let loaded = try CheckpointReader.read(path: path)
        XCTAssertEqual(loaded.wrapper.map { $0.hasPrefix("params") }, true, "\(String(describing: loaded.wrapper))")
        guard case .matched(let r) = ModelResolver.detect(loaded.tensors, zoo: try Zoo.embedded()) else {
            return XCTFail("the demo checkpoint is not detected")
        }
        XCTAssertEqual(r.manifest.id, "symunet-demo")
        XCTAssertTrue(r.configMatchesManifest)
        XCTAssertEqual(r.config.inventory.parameterCount, r.manifest.parameters)
        XCTAssertEqual(loaded.tensors.count, r.manifest.stateDictKeys)
    }

    func testRecordedPSNRGainIsAtLeastThreeDecibels() throws {
        let data = try Data(contentsOf: demo.appendingPathComponent("metrics.json"))
        let metrics = try JSONDecoder().decode([String: JSON].self, from: data)
        let gain: Double
        switch metrics["gain_db"] {
        case .number(let n)?: gain = n.double
        default: return XCTFail("metrics.json has no gain_db")
        }
        XCTAssertGreaterThanOrEqual(gain, 3)
        for png in ["chelsea-clean.png", "chelsea-noisy-s25.png", "chelsea-restored-pytorch.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: demo.appendingPathComponent(png).path), png)
        }
    }
}
