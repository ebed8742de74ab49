import Foundation
import XCTest
import IRTensor
import IRTestSupport

/// Whole SDXL pipelines (issue 14) through the built binary: the folder diffusers'
/// `save_pretrained` wrote (Tools/gen_pipeline_folder.py) installed as one model with a blob per
/// component, shown, verified, shared, removed; its text encoders run with its stored
/// tokenizers; and each bad folder refused with one line and nothing installed.
final class PipelineCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    let roles = ["unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"]

    func pipeline() -> String { TestSupport.fixture("hub/sdxl-pipeline") }

    /// A writable copy of the pipeline folder, to damage.
    func copy() throws -> String {
        let to = cli.path("pipeline-\(UUID().uuidString.prefix(8))")
        try FileManager.default.copyItem(atPath: pipeline(), toPath: to)
        return to
    }

    func editJSON(_ path: String, _ change: (inout [String: Any]) -> Void) throws {
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        change(&root)
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: path))
    }

    /// The import fails with `status`, one line naming `needle`, and leaves the store empty.
    func assertRefused(_ args: [String], status: Int32 = 3, _ needle: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try cli.assertImportRefused(args, status: status, needle, file: file, line: line)
    }

    // MARK: - A pipeline in the store

    func testPipelineFolderInstallsOneModelWithABlobPerComponent() throws {
        let r = try cli.run(["import", pipeline(), "--name", "sdxl"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("installed sdxl (sdxl-pipeline, 7 components"), r.stdout)
        XCTAssertTrue(r.stdout.contains("scheduler: EulerDiscreteScheduler: scaled_linear"), r.stdout)

        let shown = try cli.json(["show", "sdxl"])
        XCTAssertEqual(shown["schema_version"]?.intValue, 2)
        XCTAssertEqual(shown["architecture"]?.stringValue, "sdxl-pipeline")
        XCTAssertEqual(shown["config"]?["_class_name"]?.stringValue, "StableDiffusionXLPipeline")
        let components = try XCTUnwrap(shown["components"]?.arrayValue)
        XCTAssertEqual(components.compactMap { $0["role"]?.stringValue }, roles)
        XCTAssertEqual(components.compactMap { $0["architecture"]?.stringValue },
                       ["sdxl-unet", "sdxl-vae", "clip-vit-l-14-text", "openclip-vit-bigg-14-text", "clip-bpe-tokenizer", "clip-bpe-tokenizer", "diffusers-scheduler"])
        XCTAssertTrue(components.allSatisfy { $0["blob_present"]?.boolValue == true })
        // Each component's config is its folder's (config.json, scheduler_config.json).
        XCTAssertEqual(components[0]["config"]?["norm_num_groups"]?.intValue, 4)
        XCTAssertEqual(components[3]["config"]?["projection_dim"]?.intValue, 16)
        XCTAssertEqual(components[6]["config"]?["steps_offset"]?.intValue, 1)
        XCTAssertEqual(components[1]["source"]?["file_name"]?.stringValue, "vae")
        // The two tokenizers differ (pad token, layout); every blob is stored once.
        let digests = Set(([shown["blob"]] + components.map { $0["blob"] }).compactMap { $0?["digest"]?.stringValue })
        XCTAssertEqual(digests.count, 8)
        XCTAssertEqual(cli.entries("blobs"), digests.map { "sha256-\($0).irw" }.sorted())

        // The record is valid against the schema.
        let schema = try JSONSchemaValidator(schemaText: try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("Schemas/store-manifest.schema.json"), encoding: .utf8))
        let onDisk = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: "\(cli.home)/manifests/sdxl.json"))))
        XCTAssertEqual(schema.validate(onDisk), [])

        let list = try cli.json(["list"])
        let row = try XCTUnwrap(list["models"]?.arrayValue?.first)
        XCTAssertEqual(row["components"]?.arrayValue?.compactMap { $0["role"]?.stringValue }, roles)
        XCTAssertEqual(row["size_on_disk"]?.intValue, list["total_size_on_disk"]?.intValue)
        let text = try cli.run(["list"])
        XCTAssertTrue(text.stdout.contains("  text_encoder_2"), text.stdout)
        let showText = try cli.run(["show", "sdxl"])
        XCTAssertTrue(showText.stdout.contains("component:     unet: sdxl-unet"), showText.stdout)

        let v = try cli.json(["verify", "sdxl"])
        XCTAssertEqual(v["intact"]?.boolValue, true)
        XCTAssertEqual(v["bytes"]?.intValue, list["total_size_on_disk"]?.intValue, "verify reads every blob")
        XCTAssertEqual(try cli.run(["import", pipeline(), "--name", "sdxl"]).stdout.hasPrefix("already installed: sdxl"), true)
    }

    func testComponentsAreSharedWithOtherModelsAndKeptByRemove() throws {
        XCTAssertEqual(try cli.run(["import", pipeline(), "--name", "a"]).status, 0)
        let before = cli.entries("blobs")
        // The VAE folder alone imports to the very blob the pipeline stored.
        let vae = try cli.json(["import", pipeline() + "/vae", "--name", "vae-alone"])
        XCTAssertEqual(vae["status"]?.stringValue, "installed-shared")
        XCTAssertEqual(cli.entries("blobs"), before)
        // A second pipeline that differs only in its scheduler stores one new blob.
        let other = try copy()
        try editJSON(other + "/scheduler/scheduler_config.json") { $0["timestep_spacing"] = "trailing" }
        let b = try cli.json(["import", other, "--name", "b"])
        XCTAssertEqual(b["status"]?.stringValue, "installed-shared")
        XCTAssertEqual(cli.entries("blobs").count, before.count + 1)

        let rmA = try cli.json(["rm", "a"])
        XCTAssertGreaterThan(rmA["removed"]?.arrayValue?.first?["freed_bytes"]?.intValue ?? 0, 0, "a's own scheduler is freed")
        XCTAssertEqual(cli.entries("blobs").count, before.count, "a's scheduler went with it; the rest is b's")
        let gc = try cli.json(["gc"])
        XCTAssertEqual(gc["blobs"]?.arrayValue?.count ?? 0, 0, "\(gc)")
        XCTAssertEqual(try cli.json(["verify"])["intact"]?.boolValue, true)
        XCTAssertEqual(try cli.run(["rm", "b"]).status, 0)
        XCTAssertEqual(cli.entries("blobs").count, 1, "only the VAE, which vae-alone uses, is left")
        XCTAssertEqual(try cli.run(["rm", "vae-alone"]).status, 0)
        XCTAssertEqual(cli.entries("blobs"), [])
    }

    func testDamagedComponentIsFoundByVerifyAndNamed() throws {
        XCTAssertEqual(try cli.run(["import", pipeline(), "--name", "sdxl"]).status, 0)
        let shown = try cli.json(["show", "sdxl"])
        let vaePath = try XCTUnwrap(shown["components"]?.arrayValue?[1]["blob_path"]?.stringValue)
        chmod(vaePath, 0o644)
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: vaePath))
        try h.seek(toOffset: 4096)
        let byte = try h.read(upToCount: 1)![0]
        try h.seek(toOffset: 4096)
        h.write(Data([byte ^ 0x55]))
        try h.close()
        let r = try cli.run(["verify", "sdxl"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.contains("sdxl: DAMAGED") && r.stdout.contains("  vae: "), r.stdout)
    }

    func testKilledPipelineImportLeavesTheStoreAsItWas() throws {
        for step in ["staged", "written", "blob"] {
            let h = CLIHarness()
            let marker = h.path("paused")
            let p = try h.start(["import", pipeline(), "--name", "sdxl"],
                                env: ["IRZOO_TEST_PAUSE_AT": step, "IRZOO_TEST_PAUSE_MARKER": marker])
            XCTAssertTrue(h.waitFor(marker), "\(step): never paused")
            h.kill9(p)
            XCTAssertEqual(try h.installed(), [], step)
            XCTAssertEqual(h.entries("blobs"), [], step)
            XCTAssertEqual(try h.run(["import", pipeline(), "--name", "sdxl"]).status, 0, step)
        }
    }

    // MARK: - Running its parts

    func testTextEncodersRunWithTheStoredTokenizers() throws {
        XCTAssertEqual(try cli.run(["import", pipeline(), "--name", "sdxl"]).status, 0)
        let prompt = "a photo of a cat, high quality"
        let goldens = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("hub/sdxl-pipeline.goldens.json")))))
        let row = try XCTUnwrap(goldens["tokens"]?.arrayValue?.first { $0["text"]?.stringValue == "a photo of a cat" })
        for (component, output, tokens) in [("text_encoder", "penultimate", "tokenizer"), ("text_encoder_2", "penultimate_2", "tokenizer_2")] {
            let out = cli.path("\(component).npy"), pooled = cli.path("\(component)-pooled.npy")
            let r = try cli.json(["run", "sdxl", "--prompt", prompt, "--component", component, "--output", out, "--pooled-output", pooled])
            XCTAssertEqual(r["model"]?.stringValue, "sdxl/\(component)")
            XCTAssertEqual(r["token_ids"]?.arrayValue?.count, 77)
            let expected = try npy(pipeline() + "-text/\(output).npy")
            let got = try npy(out)
            XCTAssertEqual(got.shape, expected.shape)
            XCTAssertLessThan(maxAbs(got.values, expected.values), 1e-5, component)
            if component == "text_encoder_2" {
                XCTAssertLessThan(maxAbs(try npyValues(pooled), try npyValues(pipeline() + "-text/text_embeds_2.npy")), 1e-5)
            }
            // The ids of a shorter prompt, from the CLI, are transformers' too.
            let ids = try cli.json(["run", "sdxl", "--prompt", "a photo of a cat", "--component", component, "--output", out])["token_ids"]
            XCTAssertEqual(ids?.arrayValue?.compactMap { $0.intValue }, row[tokens]?.arrayValue?.compactMap { $0.intValue }, component)
        }
    }

    func testRunningThePipelineOnAnImageSaysWhatIsMissing() throws {
        XCTAssertEqual(try cli.run(["import", pipeline(), "--name", "sdxl"]).status, 0)
        let r = try cli.run(["run", "sdxl", "--input", TestSupport.fixture("png/rgb16.png"), "--output", cli.path("out.png")])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("no text-to-image sampler for SDXL yet"), r.stderr)
        XCTAssertTrue(r.stderr.contains("EulerDiscreteScheduler: scaled_linear betas"), r.stderr)
        let bad = try cli.run(["run", "sdxl", "--prompt", "x", "--component", "vae", "--output", cli.path("o.npy")])
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--component vae: --prompt runs a pipeline's text_encoder or text_encoder_2"), bad.stderr)
    }

    // MARK: - Bad pipeline folders

    func testModelIndexNamingAnAbsentComponentFolder() throws {
        let d = try copy()
        try FileManager.default.removeItem(atPath: d + "/vae")
        try assertRefused([d], "model_index.json: names component 'vae' (diffusers AutoencoderKL), but the folder")
    }

    func testComponentFolderLeavingThePipelineFolder() throws {
        let d = try copy()
        let outside = cli.path("outside-vae")
        try FileManager.default.moveItem(atPath: d + "/vae", toPath: outside)
        try FileManager.default.createSymbolicLink(atPath: d + "/vae", withDestinationPath: outside)
        try assertRefused([d], "component 'vae': leads outside the folder")
    }

    func testBrokenComponentLeavesNothingInstalled() throws {
        // The UNet and text encoders are read and written first; the VAE's weights are not there.
        let d = try copy()
        try FileManager.default.removeItem(atPath: d + "/vae/diffusion_pytorch_model.safetensors")
        try assertRefused([d], "no weights file in this folder")
        // Two weight sets in a component folder with no --variant chosen.
        let two = try copy()
        try FileManager.default.copyItem(atPath: two + "/unet/diffusion_pytorch_model.safetensors", toPath: two + "/unet/diffusion_pytorch_model.bf16.safetensors")
        try FileManager.default.removeItem(atPath: two + "/unet/diffusion_pytorch_model.safetensors")
        try FileManager.default.copyItem(atPath: two + "/unet/diffusion_pytorch_model.bf16.safetensors", toPath: two + "/unet/diffusion_pytorch_model.fp16.safetensors")
        try assertRefused([two], "choose one with --variant bf16|fp16")
        // A config.json contradicting the shapes.
        let contra = try copy()
        try editJSON(contra + "/text_encoder/config.json") { $0["hidden_size"] = 12 }
        let r = try cli.run(["import", contra, "--name", "refused"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("text_encoder/config.json"), r.stderr)
        XCTAssertEqual(try cli.installed(), [])
        XCTAssertEqual(cli.entries("blobs"), [])
    }

    func testTokenizerAndIndexProblems() throws {
        let noVocab = try copy()
        try FileManager.default.removeItem(atPath: noVocab + "/tokenizer/merges.txt")
        try assertRefused([noVocab], "tokenizer: no vocab.json + merges.txt, and no tokenizer.json")
        let badMerges = try copy()
        try Data("#version: 0.2\nnot-a-pair\n".utf8).write(to: URL(fileURLWithPath: badMerges + "/tokenizer/merges.txt"))
        try assertRefused([badMerges], "merges.txt line 2 is not a pair of symbols")
        let notSDXL = try copy()
        try editJSON(notSDXL + "/model_index.json") { $0["_class_name"] = "StableDiffusionPipeline" }
        try assertRefused([notSDXL], "StableDiffusionPipeline is not an SDXL pipeline")
        let unknown = try copy()
        try editJSON(unknown + "/model_index.json") { $0["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"] }
        try assertRefused([unknown], "component 'safety_checker' (stable_diffusion StableDiffusionSafetyChecker) is not one irzoo stores")
        try assertRefused([pipeline(), "--arch", "sdxl-unet"], status: 2, "--arch does not apply to a pipeline folder")
    }
}
