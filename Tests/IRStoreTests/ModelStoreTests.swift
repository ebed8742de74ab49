import Foundation
import IRFormat
import IRStore
import IRTensor
import IRTestSupport
import XCTest

final class ModelStoreTests: XCTestCase {
    func testInstallListShowAndManifestSchema() throws {
        let t = TempStore()
        XCTAssertEqual(try t.store.manifests().models.count, 0, "an absent store lists nothing")
        XCTAssertFalse(FileManager.default.fileExists(atPath: t.store.root), "reading does not create the store")

        let m = try t.install("alpha", seed: 1).manifest
        XCTAssertEqual(m.name, "alpha")
        XCTAssertEqual(m.architecture, "raw")
        XCTAssertEqual(m.tensors.count, 3)
        XCTAssertEqual(m.tensors.parameters, 100 + 137 + 174)
        XCTAssertEqual(m.tensors.bytes, m.tensors.parameters * 4)
        XCTAssertEqual(m.tensors.dtypeSummary, "f32")
        XCTAssertEqual(m.source.fileName, "model.pth")
        XCTAssertEqual(t.blobFiles(), ["sha256-\(m.blob.digest).irw"])
        XCTAssertEqual(t.files("tmp"), [], "nothing is left in tmp")
        XCTAssertEqual(m.blob.size, t.store.blobSize(m.blob.digest))

        let blob = try IRWFile.open(path: t.store.blobPath(m.blob.digest))
        XCTAssertEqual(blob.digest, m.blob.digest, "blobs are named by their digest")
        XCTAssertTrue(blob.verify().isIntact)

        let shown = try t.store.manifest(named: "alpha")
        XCTAssertEqual(shown, m)
        let schema = try JSONSchemaValidator(schemaText: try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("Schemas/store-manifest.schema.json"), encoding: .utf8))
        let onDisk = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: t.store.manifestPath("alpha")))))
        XCTAssertEqual(schema.validate(onDisk), [])
        XCTAssertEqual(try StoreManifest(json: onDisk, path: "x"), m, "manifests round-trip")
        XCTAssertThrowsError(try t.store.manifest(named: "beta")) { XCTAssertEqual(($0 as? StoreError)?.kind, .notFound) }
    }

    func testIdenticalWeightsAreStoredOnce() throws {
        let t = TempStore()
        let a = try t.install("a", seed: 1, fileName: "a.pth")
        // Same weights from a differently named file, converted at another time: shared blob.
        let b = try t.install("b", seed: 1, fileName: "copy-of-a.pth")
        XCTAssertEqual(b.shared, true)
        XCTAssertEqual(a.manifest.blob, b.manifest.blob)
        XCTAssertEqual(b.manifest.source.fileName, "copy-of-a.pth", "each manifest keeps its own source name")
        XCTAssertEqual(t.blobFiles().count, 1)
        // Importing again under the same name changes nothing.
        XCTAssertTrue(try t.install("a", seed: 1).isAlreadyInstalled)
        // Other weights under a taken name are refused, or replace with `replace`.
        XCTAssertThrowsError(try t.install("a", seed: 2)) { XCTAssertEqual(($0 as? StoreError)?.kind, .nameTaken) }
        XCTAssertEqual(t.files("tmp"), [], "a refused import leaves nothing behind")
        let c = try t.install("c", seed: 2)
        XCTAssertEqual(t.blobFiles().count, 2)
        let replaced = try t.install("c", seed: 3, replace: true)
        XCTAssertNotEqual(replaced.manifest.blob.digest, c.manifest.blob.digest)
        XCTAssertEqual(t.blobFiles().count, 2, "the replaced weights' blob went with them")
        XCTAssertNil(t.store.blobSize(c.manifest.blob.digest))
    }

    func testRemoveLeavesNoOrphans() throws {
        let t = TempStore()
        let a = try t.install("a", seed: 1).manifest
        try t.install("b", seed: 1)
        try t.install("c", seed: 2)
        let first = try t.store.remove(name: "a")
        XCTAssertEqual(first.freedBytes, 0, "b still uses the blob")
        XCTAssertNotNil(t.store.blobSize(a.blob.digest))
        let second = try t.store.remove(name: "b")
        XCTAssertEqual(second.freedBytes, a.blob.size)
        XCTAssertNil(t.store.blobSize(a.blob.digest))
        XCTAssertEqual(try t.store.manifests().models.map { $0.name }, ["c"])
        XCTAssertEqual(t.blobFiles().count, 1)
        XCTAssertEqual(t.files("tmp"), [])
        XCTAssertThrowsError(try t.store.remove(name: "a")) { XCTAssertEqual(($0 as? StoreError)?.kind, .notFound) }
        XCTAssertEqual(try t.store.collectGarbage(dryRun: false).blobs.count, 0, "nothing was orphaned")
    }

    func testGarbageCollectionAndDryRun() throws {
        let t = TempStore()
        let keep = try t.install("keep", seed: 1).manifest
        // An orphan blob (e.g. its manifest was deleted by hand) and a stale temp from a dead process.
        let orphan = try t.install("orphan", seed: 2).manifest
        try FileManager.default.removeItem(atPath: t.store.manifestPath("orphan"))
        let stale = "\(t.store.root)/tmp/import-1-dead"
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: true)
        try Data(count: 1000).write(to: URL(fileURLWithPath: "\(stale)/model.irw"))
        FileManager.default.createFile(atPath: "\(stale)/owner.lock", contents: nil)
        // A live import: its owner lock is held, so nothing may touch it.
        let live = try t.store.stage()
        try Data(count: 10).write(to: URL(fileURLWithPath: live.irwPath))
        try Data("hello".utf8).write(to: URL(fileURLWithPath: "\(t.store.root)/blobs/README"))

        let dry = try t.store.collectGarbage(dryRun: true)
        XCTAssertEqual(dry.blobs.map { $0.digest }, [orphan.blob.digest])
        XCTAssertEqual(dry.temps.map { $0.name }, ["import-1-dead"])
        XCTAssertEqual(dry.skipped.count, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stale), "a dry run deletes nothing")
        XCTAssertNotNil(t.store.blobSize(orphan.blob.digest))

        let real = try t.store.collectGarbage(dryRun: false)
        XCTAssertEqual(real.blobs.map { $0.digest }, [orphan.blob.digest])
        XCTAssertGreaterThan(real.freedBytes, 1000)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        XCTAssertTrue(FileManager.default.fileExists(atPath: live.irwPath), "a live import is untouched")
        XCTAssertNotNil(t.store.blobSize(keep.blob.digest))
        XCTAssertTrue(t.blobFiles().contains("README"), "unknown files are left alone")
        live.discard()
    }

    /// A change interrupted after its blob rename but before its manifest rename is rolled back by
    /// the next command; one interrupted after the manifest rename is kept.
    func testRecoveryRollsBackAnInterruptedImport() throws {
        let t = TempStore()
        let base = try t.install("base", seed: 1).manifest
        let staged = try TempStore.records(seed: 9)
        let digest: String = try {
            let scratch = try t.store.stage()
            let r = try IRWWriter.write(staged, metadata: TempStore.metadata(), to: scratch.irwPath)
            try FileManager.default.moveItem(atPath: scratch.irwPath, toPath: t.store.blobPath(r.digest))
            return r.digest
        }()
        // What a killed import leaves: the blob in place, an intent naming it, no owner alive.
        let dead = "\(t.store.root)/tmp/import-2-dead"
        try FileManager.default.createDirectory(atPath: dead, withIntermediateDirectories: true)
        try Data(#"{"blobs":["\#(digest)","\#(base.blob.digest)"]}"#.utf8).write(to: URL(fileURLWithPath: "\(dead)/intent.json"))
        XCTAssertEqual(t.blobFiles().count, 2)
        let report = try t.store.recover()
        XCTAssertEqual(report.blobs.map { $0.digest }, [digest], "the unreferenced blob is rolled back, the used one kept")
        XCTAssertEqual(t.blobFiles(), ["sha256-\(base.blob.digest).irw"])
        XCTAssertEqual(t.files("tmp"), [])
    }

    func testVerifyFindsDamageNamesTheTensorAndNeverDeletes() throws {
        let t = TempStore()
        let a = try t.install("a", seed: 1).manifest
        try t.install("twin", seed: 1)
        try t.install("b", seed: 2)
        var outcomes = try t.store.verify()
        XCTAssertEqual(outcomes.map { $0.intact }, [true, true, true])
        XCTAssertEqual(try t.store.manifest(named: "a").verified?.intact, true)

        let path = t.store.blobPath(a.blob.digest)
        let file = try IRWFile.open(path: path)
        let target = file.tensors[1]
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[file.dataOffset + target.offset + 5] ^= 0x10
        chmod(path, 0o644)
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        outcomes = try t.store.verify(names: ["a", "b"])
        XCTAssertEqual(outcomes.map { $0.name }, ["a", "b"])
        XCTAssertEqual(outcomes[0].problems, ["tensor '\(target.name)': bytes do not match the recorded SHA-256"])
        XCTAssertTrue(outcomes[1].intact)
        XCTAssertNotNil(t.store.blobSize(a.blob.digest), "verify never deletes")
        let recorded = try t.store.manifest(named: "twin").verified
        XCTAssertEqual(recorded?.intact, false, "every model sharing the blob is marked")
        XCTAssertEqual(recorded?.problems, outcomes[0].problems)

        // Damage in the header is named as such.
        bytes[bytes.count - 3] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try t.store.verify(names: ["a"])[0].problems.first?.hasPrefix("header: digest mismatch"), true)
        try FileManager.default.removeItem(atPath: path)
        XCTAssertEqual(try t.store.verify(names: ["a"])[0].problems.first?.hasSuffix("is missing"), true)
        XCTAssertThrowsError(try t.store.verify(names: ["nope"])) { XCTAssertEqual(($0 as? StoreError)?.kind, .notFound) }
    }

    func testConcurrentInstallsOfTheSameWeightsShareOneBlob() throws {
        let t = TempStore()
        let group = DispatchGroup()
        final class Results: @unchecked Sendable { var errors: [Error] = []; let lock = NSLock() }
        let results = Results()
        for i in 0..<6 {
            DispatchQueue.global().async(group: group) {
                do { try t.install(i % 2 == 0 ? "same" : "other\(i)", seed: 4) } catch {
                    results.lock.lock(); results.errors.append(error); results.lock.unlock()
                }
            }
        }
        group.wait()
        XCTAssertEqual(results.errors.map { "\($0)" }, [])
        XCTAssertEqual(try t.store.manifests().models.map { $0.name }.sorted(), ["other1", "other3", "other5", "same"])
        XCTAssertEqual(t.blobFiles().count, 1)
        XCTAssertEqual(t.files("tmp"), [])
    }

    func testDamagedManifestsAndNewerLayoutsAreReportedNotFatal() throws {
        let t = TempStore()
        try t.install("good", seed: 1)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: t.store.manifestPath("bad")))
        let listed = try t.store.manifests()
        XCTAssertEqual(listed.models.map { $0.name }, ["good"])
        XCTAssertEqual(listed.problems.count, 1)
        XCTAssertTrue(listed.problems[0].contains("bad.json: damaged manifest"), listed.problems[0])
        XCTAssertThrowsError(try t.store.manifest(named: "bad")) { XCTAssertEqual(($0 as? StoreError)?.kind, .unreadable) }
        // gc will not delete blobs while it cannot tell which ones the damaged manifest used.
        let orphan = try t.install("orphan", seed: 2).manifest
        try FileManager.default.removeItem(atPath: t.store.manifestPath("orphan"))
        XCTAssertEqual(try t.store.collectGarbage(dryRun: false).blobs.count, 0)
        XCTAssertNotNil(t.store.blobSize(orphan.blob.digest))

        try Data(#"{"store_version": 2}"#.utf8).write(to: URL(fileURLWithPath: "\(t.store.root)/store.json"))
        XCTAssertThrowsError(try t.store.manifests()) { XCTAssertTrue("\($0)".contains("newer irzoo"), "\($0)") }
    }

    func testNames() {
        for good in ["a", "SymUNet_w48", "clip-vit-l-14", "m.v2+fp16"] { XCTAssertNoThrow(try ModelStore.validateName(good), good) }
        for bad in ["", "../x", "a/b", ".hidden", "-x", String(repeating: "a", count: 129), "a b", "ü"] {
            XCTAssertThrowsError(try ModelStore.validateName(bad), bad)
        }
        XCTAssertEqual(ModelStore.suggestedName(forSourceFile: "/x/y/SymUNet w48.pth"), "SymUNet-w48")
        XCTAssertEqual(ModelStore.suggestedName(forSourceFile: "model.ckpt"), "model")
        XCTAssertEqual(ModelStore.suggestedName(forSourceFile: ".pth"), "pth")
        XCTAssertEqual(ModelStore.suggestedName(forSourceFile: "__init__"), "init__")
        XCTAssertEqual(ModelStore.defaultRoot(environment: ["IRZOO_HOME": "/s", "HOME": "/h"]), "/s")
        XCTAssertEqual(ModelStore.defaultRoot(environment: ["HOME": "/h"]), "/h/.local/share/irzoo")
    }
}
