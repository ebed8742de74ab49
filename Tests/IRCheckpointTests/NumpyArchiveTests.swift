import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

final class NumpyArchiveTests: XCTestCase {
    /// `np.savez` (stored members) and `np.savez_compressed` (deflated) read alike, in member order.
    func testReadsSavezAndSavezCompressed() throws {
        let expected = try FixtureJSON.load("npy/expected.json")["npz"] as! [String: Any]
        XCTAssertEqual(expected.count, 2)
        for (name, list) in expected.sorted(by: { $0.key < $1.key }) {
            let tensors = try NumpyArchive.read(path: TestSupport.fixture("npy/\(name)"))
            assertTensors(tensors, ExpectedTensor.list(list), name)
            XCTAssertTrue(tensors.contains { $0.name == "blocks.0.scale" && $0.shape == [] }, name)
        }
    }

    func testElementsAreAlignedWhateverTheZipLayout() throws {
        for t in try NumpyArchive.read(path: TestSupport.fixture("npy/aux.npz")) {
            XCTAssertEqual(Int(bitPattern: t.data.pointer) % t.dtype.size, 0, t.name)
        }
    }

    func testMalformedArchivesAreRefused() throws {
        let table = try FixtureJSON.load("npy/expected.json")["malformed_npz"] as! [String: String]
        let dir = TestSupport.fixture("npy/malformed")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".npz") }
        XCTAssertEqual(Set(names), Set(table.keys), "every malformed archive needs an expectation")
        for (name, fragment) in table.sorted(by: { $0.key < $1.key }) {
            let path = dir + "/" + name
            guard let e = expectCheckpointError(name, { _ = try NumpyArchive.read(path: path) }) else { continue }
            XCTAssertTrue(e.description.contains(fragment), "\(name): '\(e.description)' lacks '\(fragment)'")
            XCTAssertTrue(e.description.hasPrefix(path), "\(name): \(e.description)")
        }
    }
}
