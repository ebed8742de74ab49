import Foundation
import XCTest
import IRCheckpoint
import IRTensor
import IRTestSupport

/// The SDXL VAE and UNet through the built binary: `irzoo import` of the single-file layouts
/// (Tools/gen_sdxl_*_goldens.py, tiny configs given with --config), then `irzoo run`, against diffusers.
final class SDXLCLITests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    func values(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let r = try NumpyArray.read(path: path)
        return (r.shape, r.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
    }

    func assertMatches(_ out: String, _ expected: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (a, b) = (try values(out), try values(expected))
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        let error = zip(a.values, b.values).map { abs($0 - $1) }.max() ?? .infinity
        print("irzoo run \(what): max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4, what, file: file, line: line)
    }

    func importTiny(_ model: String, file: String, arch: String, name: String) throws {
        let config = try String(contentsOfFile: golden(model, "config.json"), encoding: .utf8)
        let r = try cli.run(["import", golden(model, file), "--arch", arch, "--name", name, "--config", config])
        XCTAssertEqual(r.status, 0, "import \(model): \(r.stderr)")
    }

    func testVAEModesFromTheLDMSingleFile() throws {
        try importTiny("sdxl-vae-tiny", file: "ldm.safetensors", arch: "sdxl-vae", name: "vae")
        let rgb = golden("sdxl-vae-tiny", "rgb.npy")
        var r = try cli.run(["run", "vae", "--input", rgb, "--output", cli.path("rt.npy")])
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertMatches(cli.path("rt.npy"), golden("sdxl-vae-tiny", "roundtrip.npy"), "sdxl-vae roundtrip")
        r = try cli.run(["run", "vae", "--vae-mode", "encode", "--input", rgb, "--output", cli.path("z.npy")])
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertMatches(cli.path("z.npy"), golden("sdxl-vae-tiny", "rgb_latent.npy"), "sdxl-vae encode")
        r = try cli.run(["run", "vae", "--vae-mode", "decode", "--input", golden("sdxl-vae-tiny", "rgb_latent.npy"), "--output", cli.path("d.npy")])
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertMatches(cli.path("d.npy"), golden("sdxl-vae-tiny", "rgb_latent_decoded.npy"), "sdxl-vae decode")
        r = try cli.run(["run", "vae", "--vae-mode", "sideways", "--input", rgb, "--output", cli.path("x.npy")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--vae-mode sideways"), r.stderr)
    }

    func testUNetFromTheSGMSingleFileWithAuxConditioning() throws {
        try importTiny("sdxl-unet-tiny", file: "sgm.safetensors", arch: "sdxl-unet", name: "unet")
        let r = try cli.run(["run", "unet", "--input", golden("sdxl-unet-tiny", "sample_odd.npy"),
                             "--aux", golden("sdxl-unet-tiny", "aux_odd.npz"), "--output", cli.path("eps.npy")])
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertMatches(cli.path("eps.npy"), golden("sdxl-unet-tiny", "output_odd.npy"), "sdxl-unet forward")
        let bad = try cli.run(["run", "unet", "--input", golden("sdxl-unet-tiny", "sample_odd.npy"), "--output", cli.path("e2.npy")])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("needs the aux input 'timestep'"), bad.stderr)
    }
}
