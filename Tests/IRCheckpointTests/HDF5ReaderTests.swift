import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

final class HDF5ReaderTests: XCTestCase {
    private func check(_ loaded: LoadedCheckpoint, _ spec: [String: Any], _ name: String) {
        XCTAssertEqual(loaded.format, .hdf5, name)
        XCTAssertEqual(loaded.wrapper, spec["wrapper"] as? String, name)
        assertTensors(loaded.tensors, ExpectedTensor.list(spec["tensors"]), name)
        for fragment in spec["ignored_fragments"] as! [String] {
            XCTAssertTrue(loaded.ignored.contains { $0.contains(fragment) }, "\(name): ignored lacks '\(fragment)': \(loaded.ignored)")
        }
        for fragment in spec["notes_fragments"] as! [String] {
            XCTAssertTrue(loaded.notes.contains { $0.contains(fragment) }, "\(name): notes lack '\(fragment)': \(loaded.notes)")
        }
        XCTAssertEqual(loaded.metadata, spec["metadata"] as! [String: String], name)
    }

    /// Generic trees (every dtype, big-endian, bf16, 0-dim, empty, gzip chunks, links), the Keras
    /// whole-model layout, Keras split attributes and link handling, all against h5py's view.
    func testValidFilesMatchH5py() throws {
        let expected = try FixtureJSON.load("hdf5/expected.json") as! [String: [String: Any]]
        XCTAssertEqual(expected.count, 4)
        for (name, spec) in expected.sorted(by: { $0.key < $1.key }) {
            check(try HDF5Reader.read(path: TestSupport.fixture("hdf5/\(name)")), spec, name)
        }
    }

    func testGenericTreeCoversEveryDtype() throws {
        let loaded = try HDF5Reader.read(path: TestSupport.fixture("hdf5/generic.h5"))
        XCTAssertEqual(Set(loaded.tensors.map(\.dtype)), Set(DType.allCases))
        XCTAssertTrue(loaded.notes.isEmpty, "generic trees carry no Keras notes: \(loaded.notes)")
    }

    func testKerasKeysFollowLayerNamesOrderNotGroupOrder() throws {
        let loaded = try HDF5Reader.read(path: TestSupport.fixture("hdf5/keras_weights_split.h5"))
        // Groups sort as alpha_conv, sequential, zeta_dense; layer_names0/1 say otherwise.
        XCTAssertEqual(loaded.tensors.map(\.name), ["zeta_dense.kernel:0", "zeta_dense.bias:0",
                                                    "sequential.dense_1.kernel:0", "sequential.dense_1.bias:0",
                                                    "alpha_conv.kernel:0"])
        // Kernels as stored: HWIO and [in, out], not transposed.
        XCTAssertEqual(loaded.tensors[0].shape, [6, 2])
        XCTAssertEqual(loaded.tensors[4].shape, [1, 1, 2, 2])
    }

    func testCheckpointReaderSniffsHDF5() throws {
        let loaded = try CheckpointReader.read(path: TestSupport.fixture("hdf5/keras_model.h5"))
        XCTAssertEqual(loaded.format, .hdf5)
        XCTAssertEqual(loaded.tensors.count, 10)
    }

    func testInMemoryImageReadsLikeTheFile() throws {
        let path = TestSupport.fixture("hdf5/generic.h5")
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let fromFile = try HDF5Reader.read(path: path)
        let fromImage = try bytes.withUnsafeBytes { try HDF5Reader.read(image: $0, name: "generic.h5") }
        XCTAssertEqual(fromImage.tensors.map(\.name), fromFile.tensors.map(\.name))
        XCTAssertEqual(fromImage.tensors.map { SHA256Hasher.hex(of: $0.data) }, fromFile.tensors.map { SHA256Hasher.hex(of: $0.data) })
    }

    func testMalformedCorpusIsRefusedWithActionableMessages() throws {
        let table = try FixtureJSON.load("hdf5/malformed/expected.json") as! [String: String]
        let dir = TestSupport.fixture("hdf5/malformed")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".h5") }
        XCTAssertEqual(Set(files), Set(table.keys), "every malformed file needs an expectation")
        for (name, fragment) in table.sorted(by: { $0.key < $1.key }) {
            let path = dir + "/" + name
            guard let e = expectCheckpointError(name, { _ = try HDF5Reader.read(path: path) }) else { continue }
            XCTAssertTrue(e.description.contains(fragment), "\(name): '\(e.description)' lacks '\(fragment)'")
            XCTAssertTrue(e.description.hasPrefix(path), "\(name): \(e.description)")
            XCTAssertFalse(e.description.contains("\n"), "\(name): one line")
        }
    }

    func testKerasErrorsNameTheDataset() throws {
        let path = TestSupport.fixture("hdf5/malformed/keras_u16_weight.h5")
        let e = expectCheckpointError("u16") { _ = try HDF5Reader.read(path: path) }
        XCTAssertEqual(e?.entry, "/model_weights/dense/dense/kernel:0")
    }

    func testExternalStorageIsNeverOpened() throws {
        // The dataset names a raw file beside the .h5; even if it exists it must not be read.
        let dir = TestSupport.makeTempDir("irzoo-h5-external")
        defer { try? FileManager.default.removeItem(at: dir) }
        let h5 = dir.appendingPathComponent("x.h5").path
        try FileManager.default.copyItem(atPath: TestSupport.fixture("hdf5/malformed/external_storage.h5"), toPath: h5)
        try Data(repeating: 1, count: 16).write(to: dir.appendingPathComponent("irzoo-never-read.bin"))
        let e = expectCheckpointError("external") { _ = try HDF5Reader.read(path: h5) }
        XCTAssertTrue(e?.description.contains("external files; refused") ?? false)
    }

    func testMissingAndNonRegularPathsAreErrors() {
        let e = expectCheckpointError("missing") { _ = try HDF5Reader.read(path: "/nonexistent/x.h5") }
        XCTAssertTrue(e?.description.contains("cannot open") ?? false)
        let d = expectCheckpointError("directory") { _ = try HDF5Reader.read(path: TestSupport.fixture("hdf5")) }
        XCTAssertTrue(d?.description.contains("not a regular file") ?? false)
    }

    /// Prefixes of a valid file (in memory, through libhdf5's core driver) are refused cleanly.
    func testTruncatedImagesAreRefused() throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("hdf5/links.h5"))))
        for cut in stride(from: 0, to: bytes.count, by: 61) {
            let prefix = Array(bytes[0..<cut])
            XCTAssertThrowsError(try prefix.withUnsafeBytes { try HDF5Reader.read(image: $0, name: "cut-\(cut)") }, "cut at \(cut)")
        }
    }
}
