import Foundation
import IRFormat
import IRStore
import IRTensor
import IRTestSupport
import XCTest

/// Pipeline records (schema version 2): several blobs with roles, committed together, shared by
/// content with other models, kept by `rm` while another model uses them, all checked by `verify`.
final class PipelineStoreTests: XCTestCase {
    /// Stages a pipeline: its own blob (`seed`) and one component per (role, seed), then commits it.
    @discardableResult
    func installPipeline(_ t: TempStore, _ name: String, seed: Int, parts: [(String, Int)], replace: Bool = false) throws -> ModelStore.CommitOutcome {
        let staging = try t.store.stage()
        let metadata = TempStore.metadata(fileName: "model_index.json")
        try IRWWriter.write(try TempStore.records(seed: seed, count: 1), metadata: metadata, to: staging.irwPath)
        staging.provenance = metadata.provenance
        for (role, s) in parts {
            let m = TempStore.metadata(fileName: role)
            try IRWWriter.write(try TempStore.records(seed: s), metadata: m, to: staging.componentPath(role))
            try staging.addComponent(role: role, provenance: m.provenance)
        }
        return try t.store.commit(staging, name: name, replace: replace)
    }

    func testPipelineRecordRoundTripsAndValidates() throws {
        let t = TempStore()
        let m = try installPipeline(t, "sdxl", seed: 1, parts: [("unet", 2), ("vae", 3), ("tokenizer", 4)]).manifest
        XCTAssertTrue(m.isPipeline)
        XCTAssertEqual(m.components.map { $0.role }, ["unet", "vae", "tokenizer"])
        XCTAssertEqual(Set(t.blobFiles()), Set(m.digests.map { "sha256-\($0).irw" }))
        XCTAssertEqual(t.blobFiles().count, 4)
        XCTAssertEqual(t.files("tmp"), [], "nothing is left in tmp")
        XCTAssertEqual(m.components[1].source.fileName, "vae", "each component keeps its own provenance")
        XCTAssertEqual(m.totalTensors.count, 1 + 3 * 3)

        let onDisk = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: t.store.manifestPath("sdxl")))))
        XCTAssertEqual(onDisk["schema_version"]?.intValue, 2)
        let schema = try JSONSchemaValidator(schemaText: try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("Schemas/store-manifest.schema.json"), encoding: .utf8))
        XCTAssertEqual(schema.validate(onDisk), [])
        XCTAssertEqual(try StoreManifest(json: onDisk, path: "x"), m, "pipeline records round-trip")
        XCTAssertEqual(try t.store.manifest(named: "sdxl"), m)

        // A one-blob record is still written as version 1, which older irzoo builds read.
        let one = try t.install("one", seed: 9).manifest
        let oneOnDisk = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: t.store.manifestPath("one")))))
        XCTAssertEqual(oneOnDisk["schema_version"]?.intValue, 1)
        XCTAssertEqual(schema.validate(oneOnDisk), [])
        XCTAssertEqual(try StoreManifest(json: oneOnDisk, path: "x"), one)

        // Damaged records are refused by name.
        func damaged(_ change: (inout JSON.Object) -> Void) -> String {
            guard case .object(var o) = onDisk else { return "" }
            change(&o)
            do { _ = try StoreManifest(json: .object(o), path: "p.json"); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(damaged { $0["components"] = nil }.contains("must list its \"components\""))
        XCTAssertTrue(damaged { $0["schema_version"] = .int(1) }.contains("\"components\" needs schema_version 2"))
        XCTAssertTrue(damaged { $0["schema_version"] = .int(3) }.contains("schema version 3 is not readable"))
        XCTAssertTrue(damaged { o in
            guard case .array(var a)? = o["components"], case .object(var c) = a[1] else { return }
            c["role"] = .string("unet")
            a[1] = .object(c)
            o["components"] = .array(a)
        }.contains("component role 'unet' appears twice"))
        XCTAssertTrue(damaged { o in
            guard case .array(var a)? = o["components"], case .object(var c) = a[0] else { return }
            c["role"] = .string("../x")
            a[0] = .object(c)
            o["components"] = .array(a)
        }.contains("\"role\" must be"))
    }

    func testSharedComponentsAreStoredOnceAndKeptByRemove() throws {
        let t = TempStore()
        let a = try installPipeline(t, "a", seed: 1, parts: [("unet", 2), ("vae", 3)]).manifest
        // Another pipeline with the same VAE, and a one-blob model with the same weights as a's UNet.
        let b = try installPipeline(t, "b", seed: 5, parts: [("unet", 6), ("vae", 3)])
        XCTAssertEqual(b.shared, true)
        XCTAssertEqual(b.manifest.components[1].blob, a.components[1].blob)
        let single = try t.install("unet-alone", seed: 2)
        XCTAssertEqual(single.shared, true, "a pipeline's component is shared with a one-blob model of the same content")
        XCTAssertEqual(t.blobFiles().count, 5)
        XCTAssertTrue(try installPipeline(t, "a", seed: 1, parts: [("unet", 2), ("vae", 3)]).isAlreadyInstalled)

        // Other parts under a taken name: refused, nothing changed; with replace, the old parts
        // that nothing else uses go.
        XCTAssertThrowsError(try installPipeline(t, "a", seed: 1, parts: [("unet", 7), ("vae", 3)])) {
            XCTAssertEqual(($0 as? StoreError)?.kind, .nameTaken)
        }
        XCTAssertEqual(t.blobFiles().count, 5)
        XCTAssertEqual(t.files("tmp"), [])

        let gone = try t.store.remove(name: "a")
        XCTAssertEqual(gone.freedBytes, a.blob.size, "only the pipeline's own blob is freed: b uses the VAE, unet-alone the UNet")
        XCTAssertNotNil(t.store.blobSize(a.components[0].blob.digest))
        XCTAssertNotNil(t.store.blobSize(a.components[1].blob.digest))
        XCTAssertEqual(try t.store.collectGarbage(dryRun: false).blobs.count, 0)
        try t.store.remove(name: "unet-alone")
        XCTAssertNil(t.store.blobSize(a.components[0].blob.digest))
        let bGone = try t.store.remove(name: "b")
        XCTAssertEqual(bGone.freedBytes, b.manifest.blobs.reduce(0) { $0 + $1.size })
        XCTAssertEqual(t.blobFiles(), [])
    }

    func testVerifyChecksEveryComponentAndNamesTheRole() throws {
        let t = TempStore()
        let m = try installPipeline(t, "p", seed: 1, parts: [("unet", 2), ("vae", 3)]).manifest
        XCTAssertEqual(try t.store.verify(names: ["p"]).map { $0.problems }, [[]])
        XCTAssertEqual(try t.store.manifest(named: "p").verified?.intact, true)
        // Flip one byte of the VAE's tensor data.
        let path = t.store.blobPath(m.components[1].blob.digest)
        chmod(path, 0o644)
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try h.seek(toOffset: 300)
        let byte = try h.read(upToCount: 1)![0]
        try h.seek(toOffset: 300)
        h.write(Data([byte ^ 0xFF]))
        try h.close()
        let outcome = try t.store.verify(names: ["p"])[0]
        XCTAssertFalse(outcome.intact)
        XCTAssertTrue(outcome.problems.allSatisfy { $0.hasPrefix("vae: ") }, "\(outcome.problems)")
        XCTAssertEqual(try t.store.manifest(named: "p").verified?.intact, false)
        // A missing component blob is a problem too, named by role.
        try FileManager.default.removeItem(atPath: t.store.blobPath(m.components[0].blob.digest))
        XCTAssertTrue(try t.store.verify(names: ["p"])[0].problems.contains { $0.hasPrefix("unet: blob ") && $0.hasSuffix("is missing") })
    }
}
