import Foundation
import XCTest
import IRCheckpoint
import IRTensor
import IRTestSupport

/// Hub folders (issue 14) through the built binary: the folders diffusers' and transformers'
/// `save_pretrained` wrote (Tools/gen_hub_folders.py: shards, an index, the fp16 variant, config.json),
/// imported as they are, and each bad folder refused with nothing installed.
final class HubFolderCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    func sha256Hex(_ data: Data) -> String {
        var h = SHA256Hasher()
        data.withUnsafeBytes { h.update($0) }
        return h.finalizeHex()
    }

    func hub(_ name: String) -> String { TestSupport.fixture("hub/\(name)") }

    /// The stored tensors of model `name`: name, dtype, shape and SHA-256 of the bytes, by name (the
    /// blob keeps the source's order, and the content id covers the source's digest and notes:
    /// both differ between containers of the same weights).
    func storedTensors(_ name: String) throws -> [String] {
        let digest = try XCTUnwrap(cli.json(["show", name])["blob"]?["digest"]?.stringValue)
        let header = try cli.json(["inspect", "\(cli.home)/blobs/sha256-\(digest).irw"])["irw"]?["header"]
        let tensors = try XCTUnwrap(header?["tensors"]?.arrayValue)
        XCTAssertFalse(tensors.isEmpty)
        return tensors.map { t in
            ["name", "dtype", "shape", "sha256"].map { t[$0]?.serialized() ?? "-" }.joined(separator: " ")
        }.sorted()
    }

    /// A writable copy of a fixture folder, to damage.
    func copy(_ name: String) throws -> String {
        let to = cli.path("copy-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.copyItem(atPath: hub(name), toPath: to)
        return to
    }

    func editIndex(_ folder: String, _ change: (inout [String: String]) -> Void) throws {
        let path = folder + "/diffusion_pytorch_model.safetensors.index.json"
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var map = root["weight_map"] as! [String: String]
        change(&map)
        root["weight_map"] = map
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: path))
    }

    /// The import fails with `status`, one line naming `needle`, and leaves the store empty.
    func assertRefused(_ args: [String], status: Int32 = 3, _ needle: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try cli.assertImportRefused(args, status: status, needle, file: file, line: line)
    }

    // MARK: - Folders that import

    func testShardedVAEFolderImportsWithItsConfigAndRunsAsDiffusers() throws {
        // No --arch, no --config: config.json gives norm_num_groups 2, which the shapes cannot tell
        // (detection alone assumes 8 for these widths, and the round trip would differ).
        let r = try cli.run(["import", hub("sdxl-vae"), "--name", "vae"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("read diffusion_pytorch_model.safetensors.index.json (of "), r.stdout)
        XCTAssertTrue(r.stdout.contains("3 shards read"), r.stdout)
        let shown = try cli.json(["show", "vae"])
        XCTAssertEqual(shown["architecture"]?.stringValue, "sdxl-vae")
        XCTAssertEqual(shown["config"]?["norm_num_groups"]?.intValue, 2)
        XCTAssertEqual(shown["source"]?["file_name"]?.stringValue, "sdxl-vae")
        let out = cli.path("rt.npy")
        let run = try cli.run(["run", "vae", "--input", golden("sdxl-vae-tiny", "rgb.npy"), "--output", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let (shape, got) = try npy(out)
        let (goldenShape, expected) = try npy(golden("sdxl-vae-tiny", "roundtrip.npy"))
        XCTAssertEqual(shape, goldenShape)
        let error = zip(got, expected).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(error, 1e-4, "sharded folder round trip vs diffusers")
    }

    func testShardIndexGivenDirectlyHoldsTheSameTensorsAsTheFolder() throws {
        XCTAssertEqual(try cli.run(["import", hub("sdxl-vae"), "--name", "folder"]).status, 0)
        let config = try String(contentsOfFile: golden("sdxl-vae-tiny", "config.json"), encoding: .utf8)
        let r = try cli.run(["import", hub("sdxl-vae") + "/diffusion_pytorch_model.safetensors.index.json",
                             "--name", "index", "--config", config])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try storedTensors("index"), try storedTensors("folder"))
        // And the same as the single file the shards were cut from.
        XCTAssertEqual(try cli.run(["import", golden("sdxl-vae-tiny", "diffusers.safetensors"), "--name", "single",
                                    "--config", config]).status, 0)
        XCTAssertEqual(try storedTensors("single"), try storedTensors("folder"))
    }

    func testFP16VariantInSafetensorsAndInPickleShardsIsTheSameHalf() throws {
        let r = try cli.run(["import", hub("sdxl-vae"), "--variant", "fp16", "--name", "st16"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let shown = try cli.json(["show", "st16"])
        XCTAssertEqual(shown["tensors"]?["dtypes"]?["f16"]?.intValue, shown["tensors"]?["count"]?.intValue, "\(shown)")
        // diffusers wrote the same .half() module as torch pickles in 3 shards (.bin.index.fp16.json):
        // the only weights there, so no --variant is needed, and the choice is printed.
        let bin = try cli.run(["import", hub("sdxl-vae-bin"), "--name", "bin16"])
        XCTAssertEqual(bin.status, 0, bin.stderr)
        XCTAssertEqual(try cli.json(["show", "bin16"])["source"]?["container"]?.stringValue, "torch-zip")
        XCTAssertEqual(try storedTensors("bin16"), try storedTensors("st16"))
    }

    func testTransformersTextEncoderShardsAndInspect() throws {
        let inspect = try cli.json(["inspect", hub("clip-text")])
        XCTAssertEqual(inspect["format"]?.stringValue, "safetensors")
        XCTAssertEqual(inspect["weights"]?.arrayValue?.count, 2)
        let index = try JSON.parse(String(contentsOfFile: hub("clip-text") + "/model.safetensors.index.json", encoding: .utf8))
        XCTAssertEqual(inspect["tensors"]?.arrayValue?.count, index["weight_map"]?.objectValue?.count)
        let r = try cli.run(["import", hub("clip-text"), "--name", "text"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let shown = try cli.json(["show", "text"])
        XCTAssertEqual(shown["config"]?["vocab_size"]?.intValue, 1000)
        XCTAssertEqual(shown["config"]?["num_hidden_layers"]?.intValue, 3)
    }

    func testFolderSourceDigestIsTheListingOfItsFiles() throws {
        XCTAssertEqual(try cli.run(["import", hub("clip-text"), "--name", "text"]).status, 0)
        let names = ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"]
        var listing = ""
        for n in names {
            let data = try Data(contentsOf: URL(fileURLWithPath: hub("clip-text") + "/" + n))
            listing += "\(sha256Hex(data))  \(n)\n"
        }
        let shown = try cli.json(["show", "text"])
        XCTAssertEqual(shown["source"]?["sha256"]?.stringValue, sha256Hex(Data(listing.utf8)))
    }

    // MARK: - Bad folders: one line naming the file, nothing installed

    func testMissingShard() throws {
        let d = try copy("sdxl-vae")
        try FileManager.default.removeItem(atPath: d + "/diffusion_pytorch_model-00002-of-00003.safetensors")
        try assertRefused([d], "diffusion_pytorch_model-00002-of-00003.safetensors: missing")
    }

    func testTensorInAnotherShardThanTheIndexSays() throws {
        let d = try copy("sdxl-vae")
        try editIndex(d) { map in
            let name = map.first { $0.value.contains("00001") }!.key
            map[name] = "diffusion_pytorch_model-00003-of-00003.safetensors"
        }
        try assertRefused([d], "puts this tensor in diffusion_pytorch_model-00003-of-00003.safetensors")
    }

    func testShardTensorLeftOutOfTheIndex() throws {
        let d = try copy("sdxl-vae")
        try editIndex(d) { map in map.removeValue(forKey: "decoder.conv_out.weight") }
        try assertRefused([d], "decoder.conv_out.weight: this tensor is not in the index")
    }

    func testIndexNamingATensorNoShardHolds() throws {
        let d = try copy("sdxl-vae")
        try editIndex(d) { map in map["decoder.extra.weight"] = "diffusion_pytorch_model-00001-of-00003.safetensors" }
        try assertRefused([d], "decoder.extra.weight: the index diffusion_pytorch_model.safetensors.index.json names this tensor but the shard does not hold it")
    }

    func testIndexNamingFilesOutsideTheFolder() throws {
        for outside in ["../diffusion_pytorch_model-00001-of-00003.safetensors", "/etc/passwd"] {
            let d = try copy("sdxl-vae")
            try editIndex(d) { map in map["decoder.conv_out.weight"] = outside }
            try assertRefused([d], "a shard must be a file beside the index")
        }
        // A symlink leaving the folder.
        let d = try copy("sdxl-vae")
        let shard = d + "/diffusion_pytorch_model-00003-of-00003.safetensors"
        let away = cli.path("elsewhere.safetensors")
        try FileManager.default.moveItem(atPath: shard, toPath: away)
        try FileManager.default.createSymbolicLink(atPath: shard, withDestinationPath: away)
        try assertRefused([d], "leads outside the folder")
    }

    func testHuggingFaceCacheSymlinksToItsBlobsAreFollowed() throws {
        // REPO/snapshots/REV/vae/* -> REPO/blobs/*: how huggingface_hub lays out a download.
        let repo = cli.path("models--x--y")
        let folder = repo + "/snapshots/0123abcd/vae"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: repo + "/blobs", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: hub("sdxl-vae")) {
            let blob = repo + "/blobs/" + name + ".blob"
            try FileManager.default.copyItem(atPath: hub("sdxl-vae") + "/" + name, toPath: blob)
            try FileManager.default.createSymbolicLink(atPath: folder + "/" + name, withDestinationPath: "../../../blobs/" + name + ".blob")
        }
        let r = try cli.run(["import", folder, "--name", "cached"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testTwoWeightSetsWithoutAVariantChosen() throws {
        let d = try copy("sdxl-vae")
        for f in try FileManager.default.contentsOfDirectory(atPath: d) where f.contains("-of-") || f.contains(".index.") {
            try FileManager.default.removeItem(atPath: d + "/" + f)
        }
        try FileManager.default.copyItem(atPath: d + "/diffusion_pytorch_model.fp16.safetensors", toPath: d + "/diffusion_pytorch_model.bf16.safetensors")
        try assertRefused([d], status: 3, "choose one with --variant bf16|fp16")
        // Two full-precision sets (a single file beside the shard index) are refused too.
        let twice = try copy("sdxl-vae")
        try FileManager.default.copyItem(atPath: golden("sdxl-vae-tiny", "diffusers.safetensors"), toPath: twice + "/diffusion_pytorch_model.safetensors")
        try assertRefused([twice], "several weight files could be meant")
    }

    func testVariantNotPresent() throws {
        try assertRefused([hub("sdxl-vae"), "--variant", "bf16"], "no bf16 weights in this folder (found: ")
    }

    func testFolderWithoutWeights() throws {
        let d = cli.path("empty-unet")
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: hub("sdxl-vae") + "/config.json", toPath: d + "/config.json")
        try assertRefused([d], "no weights file in this folder")
    }

    func testConfigContradictingTheShapes() throws {
        let d = try copy("sdxl-vae")
        let path = d + "/config.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        config["latent_channels"] = 8
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
        try assertRefused([d], status: 4, "config.json contradicts the weights: latent_channels is 8 there, 4 from the tensor shapes")
    }

    func testIndexThatIsNotAnIndex() throws {
        let d = try copy("sdxl-vae")
        try Data("{\"weight_map\": [1, 2]}".utf8).write(to: URL(fileURLWithPath: d + "/diffusion_pytorch_model.safetensors.index.json"))
        try assertRefused([d], "diffusion_pytorch_model.safetensors.index.json: not a shard index: no \"weight_map\" object")
        try Data("{\"weight_map\": {\"a\": 7}}".utf8).write(to: URL(fileURLWithPath: d + "/diffusion_pytorch_model.safetensors.index.json"))
        try assertRefused([d], "weight_map[\"a\"] is")
    }

    func testPipelineFolderIsNotTakenForAComponent() throws {
        let d = cli.path("pipeline")
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: hub("sdxl-vae"), toPath: d + "/vae")
        try Data("{\"_class_name\": \"StableDiffusionXLPipeline\", \"vae\": [\"diffusers\", \"AutoencoderKL\"]}".utf8)
            .write(to: URL(fileURLWithPath: d + "/model_index.json"))
        // A folder with model_index.json is a pipeline (PipelineCLITests), with the components it names.
        XCTAssertEqual(try cli.run(["import", d, "--name", "pipeline"]).status, 0)
        XCTAssertEqual(try cli.json(["show", "pipeline"])["components"]?.arrayValue?.compactMap { $0["role"]?.stringValue }, ["vae"])
        XCTAssertEqual(try cli.json(["import", d + "/vae", "--name", "vae"])["status"]?.stringValue, "installed-shared")
    }

    func testConvertAFolderToOneSafetensorsFile() throws {
        let out = cli.path("vae.safetensors")
        let r = try cli.run(["convert", hub("sdxl-vae"), "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try String(contentsOfFile: golden("sdxl-vae-tiny", "config.json"), encoding: .utf8)
        XCTAssertEqual(try cli.run(["import", out, "--name", "converted", "--config", config]).status, 0)
        XCTAssertEqual(try cli.run(["import", hub("sdxl-vae"), "--name", "folder"]).status, 0)
        XCTAssertEqual(try storedTensors("converted"), try storedTensors("folder"))
    }

    func testKilledFolderImportLeavesTheStoreAsItWas() throws {
        for step in ["loaded", "writing", "written"] {
            let h = CLIHarness()
            let marker = h.path("paused")
            let p = try h.start(["import", hub("sdxl-vae"), "--name", "vae"],
                                env: ["IRZOO_TEST_PAUSE_AT": step, "IRZOO_TEST_PAUSE_MARKER": marker])
            XCTAssertTrue(h.waitFor(marker), "\(step): never paused")
            h.kill9(p)
            XCTAssertEqual(try h.installed(), [], step)
            XCTAssertEqual(h.entries("blobs"), [], step)
            XCTAssertEqual(try h.run(["import", hub("sdxl-vae"), "--name", "vae"]).status, 0, step)
        }
    }
}
