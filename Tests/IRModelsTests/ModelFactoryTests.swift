import XCTest
import IRTensor
import IRRegistry
import IRRuntime
import IRModels

/// Building a model first checks the tensors against the config's inventory and refuses with the
/// whole report; building from a table that fits gives a runnable model.
final class ModelFactoryTests: XCTestCase {
    let golden = ModelCase("symunet-tiny")

    func testInventoryMismatchIsReportedWhole() throws {
        var records = try golden.records("checkpoint.pth", manifest: "symunet", layout: "basicsr")
        let removed = records.remove(at: 3).name
        let extra = try TensorRecord(name: "encoders.0.0.attn.extra", dtype: .f32, shape: [2],
                                     data: ByteBuffer.copying([UInt8](repeating: 0, count: 8)).whole)
        records.append(extra)
        let config = try golden.config(family: "symunet")
        XCTAssertThrowsError(try ModelFactory.make(config: config, records: records, source: "tiny.pth")) { e in
            guard let mismatch = e as? InventoryMismatchError else { return XCTFail("\(e)") }
            XCTAssertEqual(mismatch.report.missing.map { $0.name }, [removed])
            XCTAssertEqual(mismatch.report.unexpected.map { $0.name }, ["encoders.0.0.attn.extra"])
            XCTAssertTrue(mismatch.description.contains("tiny.pth"))
        }
    }

    func testMisShapedTensorIsReported() throws {
        var records = try golden.records("checkpoint.pth", manifest: "symunet", layout: "basicsr")
        let i = try XCTUnwrap(records.firstIndex { $0.name == "intro.bias" })
        records[i] = try TensorRecord(name: "intro.bias", dtype: .f32, shape: [2, 4], data: records[i].data)
        XCTAssertThrowsError(try ModelFactory.make(config: try golden.config(family: "symunet"), records: records, source: "x")) { e in
            XCTAssertEqual((e as? InventoryMismatchError)?.report.mismatched.first?.name, "intro.bias")
        }
    }

    /// A checkpoint stored in f16 is widened once and still runs.
    func testHalfPrecisionWeightsRun() throws {
        let records = try golden.records("checkpoint.pth", manifest: "symunet", layout: "basicsr").map { r -> TensorRecord in
            let half = ElementConversion.convert(r.data, from: .f32, to: .f16, count: r.elementCount)
            return try TensorRecord(name: r.name, dtype: .f16, shape: r.shape, data: half.whole)
        }
        let model = try ModelFactory.make(config: try golden.config(family: "symunet"), records: records, source: "half")
        let y = try model.run(try golden.tensor("input.npy"))
        // fp16 weights change the answer a little, not a lot.
        XCTAssertLessThan(maxAbsDifference(y, try golden.tensor("output.npy")), 0.05)
    }

    func testWeightsAreUsedInPlace() throws {
        let records = try golden.records("checkpoint.pth", manifest: "symunet", layout: "basicsr")
        let w = try Weights(records: records)
        XCTAssertTrue(try w.tensor("intro.weight").isMapped)
    }

    /// `runnable` in a manifest says exactly whether its family has a Swift model here.
    func testManifestsSayWhatRuns() throws {
        for m in try Zoo.embedded().manifests {
            XCTAssertEqual(m.runnable, ModelFactory.canRun(family: m.family), "\(m.id) (family \(m.family)): runnable is \(m.runnable)")
        }
        for id in ["symunet", "se-symunet", "clip-vit-l-14", "symunet-demo"] {
            XCTAssertEqual(try Zoo.embedded().manifest(id)?.runnable, true, id)
        }
    }

    func testUnknownFamilyIsRefused() throws {
        XCTAssertFalse(ModelFactory.canRun(family: "anyir-unknown"))
        XCTAssertThrowsError(try ModelFactory.make(family: "nope", config: .object([:]), records: [], source: "x"))
    }
}
