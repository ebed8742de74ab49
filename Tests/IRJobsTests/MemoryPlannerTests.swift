import Foundation
import IRJobs
import IRModels
import IRTestSupport
import XCTest

/// The auto-tiling decision from a fitted estimate (the probes themselves run in the CLI tests).
final class MemoryPlannerTests: XCTestCase {
    let mib = 1 << 20
    // 1 KiB per pixel plus 10 MiB, as a mid-size restoration network.
    let estimate = MemoryPlanner.Estimate(fixed: 10 * 1_048_576, perPixel: 1024)

    func testAnImageThatFitsRunsWhole() throws {
        let planner = MemoryPlanner(budget: 4096 * mib, estimate: estimate, baseline: 100 * mib)
        guard case .whole(let bytes) = try planner.decide(height: 1000, width: 1000, minimumSide: 17) else { return XCTFail("expected whole") }
        // 1024² padded pixels at 1 KiB, the margin, the image buffers and the baseline.
        let forward = Int((10.0 * 1_048_576 + 1024.0 * 1024 * 1024) * 1.25)
        XCTAssertEqual(bytes, forward + 1000 * 1000 * MemoryPlanner.bytesPerImagePixel + 100 * mib)
    }

    func testABigImageGetsTheLargestTileThatFits() throws {
        let budget = 2048 * mib
        let planner = MemoryPlanner(budget: budget, estimate: estimate, baseline: 100 * mib)
        let (h, w) = (4000, 6000)  // 24 megapixels
        guard case .tiles(let plan, let bytes) = try planner.decide(height: h, width: w, minimumSide: 17) else { return XCTFail("expected tiles") }
        XCTAssertEqual(plan.tile % MemoryPlanner.tileQuantum, 0)
        XCTAssertEqual(plan.overlap, 32)
        XCTAssertLessThanOrEqual(bytes, budget)
        let available = budget - 100 * mib - h * w * MemoryPlanner.bytesPerImagePixel
        XCTAssertLessThanOrEqual(estimate.bytes(pixels: plan.tile * plan.tile), available)
        let next = plan.tile + MemoryPlanner.tileQuantum
        XCTAssertGreaterThan(estimate.bytes(pixels: next * next), available, "a larger tile would also have fitted")
    }

    func testTooLittleMemoryIsAClearError() {
        let planner = MemoryPlanner(budget: 64 * mib, estimate: estimate, baseline: 50 * mib)
        XCTAssertThrowsError(try planner.decide(height: 2000, width: 2000, minimumSide: 17)) { error in
            XCTAssertTrue("\(error)".contains("more than --max-memory"), "\(error)")
        }
    }

    /// A model that tiles itself (UniLDiff: latent and VAE tiles of 1024 px) is planned at its
    /// tile's activations plus its whole-image buffers: a 24-megapixel photo fits 24 GiB.
    func testASelfTilingModelIsPlannedAtItsTile() throws {
        var traits = MemoryPlanner.ModelTraits()
        traits.activePixels = { h, w in min(h, 1024) * min(w, 1024) }
        traits.wholeImageBytesPerPixel = 40
        traits.untileable = "it tiles itself"
        let planner = MemoryPlanner(budget: 20 << 30, estimate: estimate, baseline: 7 << 30)
        guard case .whole(let bytes) = try planner.decide(height: 4000, width: 6000, model: traits) else { return XCTFail("expected whole") }
        let forward = Int((10.0 * 1_048_576 + 1024.0 * 1024 * 1024) * 1.25)
        XCTAssertEqual(bytes, forward + 4000 * 6000 * (MemoryPlanner.bytesPerImagePixel + 40) + (7 << 30))
    }

    /// A model that cannot run in image tiles and does not fit is refused before it runs, with why.
    func testAnUntileableModelThatDoesNotFitIsRefusedWithTheReason() {
        var traits = MemoryPlanner.ModelTraits()
        traits.untileable = "the router must see the whole image"
        traits.family = "some-net"
        let planner = MemoryPlanner(budget: 2048 * mib, estimate: estimate, baseline: 100 * mib)
        XCTAssertThrowsError(try planner.decide(height: 4000, width: 6000, model: traits)) { error in
            XCTAssertTrue(error is MemoryBudgetError)
            let text = "\(error)"
            XCTAssertTrue(text.contains("some-net cannot run in tiles (the router must see the whole image)"), text)
            XCTAssertTrue(text.contains("6000x4000") && text.contains("more than --max-memory"), text)
        }
    }

    func testMaxMemoryParsesSizes() {
        XCTAssertEqual(SystemMemory.parse("8G"), 8 << 30)
        XCTAssertEqual(SystemMemory.parse("512m"), 512 << 20)
        XCTAssertEqual(SystemMemory.parse("1.5GiB"), 3 << 29)
        XCTAssertEqual(SystemMemory.parse("1000"), 1000)
        XCTAssertNil(SystemMemory.parse("-1G"))
        XCTAssertNil(SystemMemory.parse("lots"))
        XCTAssertGreaterThan(SystemMemory.defaultBudget, 0)
        XCTAssertLessThanOrEqual(SystemMemory.defaultBudget, SystemMemory.total)
    }
}

final class BatchPlanTests: XCTestCase {
    func testFoldersKeepRelativePathsAndSkipHiddenAndOtherFiles() throws {
        let dir = TestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        let input = dir.appendingPathComponent("in").path
        try fm.createDirectory(atPath: input + "/sub/deeper", withIntermediateDirectories: true)
        for name in ["b.jpg", "a.PNG", ".hidden.jpg", "notes.txt", "sub/c.tif", "sub/deeper/d.webp"] {
            _ = fm.createFile(atPath: input + "/" + name, contents: Data([1]))
        }
        let out = dir.appendingPathComponent("out").path
        let flat = try BatchPlan.items(inputs: [input], output: out, recursive: false, format: nil)
        XCTAssertEqual(flat.map(\.input), [input + "/a.PNG", input + "/b.jpg"])
        XCTAssertEqual(flat.map(\.output), [out + "/a.PNG", out + "/b.jpg"])
        let deep = try BatchPlan.items(inputs: [input], output: out, recursive: true, format: .webp)
        XCTAssertEqual(deep.map(\.output), [out + "/a.webp", out + "/b.webp", out + "/sub/c.webp", out + "/sub/deeper/d.webp"])
        // An output folder inside the input is not walked (a rerun would restore its own results).
        let inside = input + "/sub/restored"
        try fm.createDirectory(atPath: inside, withIntermediateDirectories: true)
        _ = fm.createFile(atPath: inside + "/old.jpg", contents: Data([1]))
        XCTAssertFalse(try BatchPlan.items(inputs: [input], output: inside, recursive: true, format: nil).contains { $0.input.contains("restored") })
    }

    func testCollisionsAndOverwritingTheInputAreRefused() throws {
        let dir = TestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        for name in ["x.jpg", "x.png"] { _ = fm.createFile(atPath: dir.path + "/" + name, contents: Data([1])) }
        XCTAssertThrowsError(try BatchPlan.items(inputs: [dir.path], output: dir.path + "/out", recursive: false, format: .webp)) {
            XCTAssertTrue("\($0)".contains("writes the same output"), "\($0)")
        }
        XCTAssertThrowsError(try BatchPlan.items(inputs: [dir.path], output: dir.path, recursive: false, format: nil)) {
            XCTAssertTrue("\($0)".contains("overwrite the input"), "\($0)")
        }
        XCTAssertThrowsError(try BatchPlan.items(inputs: [dir.path + "/missing"], output: dir.path + "/o", recursive: false, format: nil))
    }
}
