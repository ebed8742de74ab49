import Foundation
import IRFormat
import IRStore
import IRTensor
import IRTestSupport

/// A store in a fresh temp directory, plus helpers to stage weights.
final class TempStore {
    let dir: URL
    let store: ModelStore

    init() {
        dir = TestSupport.makeTempDir("irzoo-store")
        store = ModelStore(root: dir.appendingPathComponent("home").path)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    static func records(seed: Int, count: Int = 3) throws -> [TensorRecord] {
        try (0..<count).map { i in
            let n = 100 + 37 * i
            let buf = ByteBuffer.make(count: n * 4) { p in for j in 0..<n { p.storeBytes(of: Float(seed * 1000 + i * 10 + j), toByteOffset: j * 4, as: Float.self) } }
            return try TensorRecord(name: "block\(i).weight", dtype: .f32, shape: [n], data: buf.whole)
        }
    }

    static func metadata(fileName: String = "model.pth", created: String = Timestamp.now()) -> IRWMetadata {
        IRWMetadata(source: IRWSource(fileName: fileName, sha256: String(repeating: "5", count: 64), container: "torch-zip", size: 99),
                    created: created)
    }

    /// Stages and commits weights `seed` as `name`.
    @discardableResult
    func install(_ name: String, seed: Int, fileName: String = "model.pth", replace: Bool = false) throws -> ModelStore.CommitOutcome {
        let staging = try store.stage()
        let metadata = Self.metadata(fileName: fileName)
        try IRWWriter.write(try Self.records(seed: seed), metadata: metadata, to: staging.irwPath)
        staging.provenance = metadata.provenance // a 1.1 blob holds content only; the record keeps this
        return try store.commit(staging, name: name, replace: replace)
    }

    func files(_ sub: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(store.root)/\(sub)")) ?? []).sorted()
    }

    func blobFiles() -> [String] { files("blobs") }
}

extension ModelStore.CommitOutcome {
    var manifest: StoreManifest {
        switch self {
        case .installed(let m, _), .alreadyInstalled(let m): return m
        }
    }
    var shared: Bool? { if case .installed(_, let s) = self { return s }; return nil }
    var isAlreadyInstalled: Bool { if case .alreadyInstalled = self { return true }; return false }
}
