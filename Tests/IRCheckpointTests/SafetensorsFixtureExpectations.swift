import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

/// Expected tensors written by Tools/gen_safetensors_hdf5_fixtures.py (shared by the safetensors,
/// HDF5 and numpy tests): name, dtype, shape, sha256 of the little-endian C-order bytes and, for
/// small tensors, the values (floats as strings, see below).
struct ExpectedTensor {
    let name: String
    let dtype: String
    let shape: [Int]
    let sha256: String
    let values: [Any]?

    init(_ json: [String: Any]) {
        name = json["name"] as! String
        dtype = json["dtype"] as! String
        shape = (json["shape"] as! [NSNumber]).map { $0.intValue }
        sha256 = json["sha256"] as! String
        values = json["values"] as? [Any]
    }

    static func list(_ any: Any?) -> [ExpectedTensor] {
        (any as! [[String: Any]]).map(ExpectedTensor.init)
    }
}

enum FixtureJSON {
    static func load(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture(relative)))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }
}

/// Compares tensors to the expectations: order, names, dtypes, shapes, bytes and values.
func assertTensors(_ got: [TensorRecord], _ want: [ExpectedTensor], _ context: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.map(\.name), want.map(\.name), "\(context): names/order", file: file, line: line)
    for (t, e) in zip(got, want) {
        XCTAssertEqual(t.dtype.rawValue, e.dtype, "\(context): \(e.name) dtype", file: file, line: line)
        XCTAssertEqual(t.shape, e.shape, "\(context): \(e.name) shape", file: file, line: line)
        XCTAssertEqual(SHA256Hasher.hex(of: t.data), e.sha256, "\(context): \(e.name) bytes", file: file, line: line)
        guard let values = e.values else { continue }
        XCTAssertEqual(values.count, t.elementCount, "\(context): \(e.name) value count", file: file, line: line)
        for (i, v) in values.enumerated() where i < t.elementCount {
            let x = ElementConversion.value(t.data.pointer, t.dtype, i)
            switch v {
            case let s as String:
                // Floats travel as Python's shortest round-trip text, parsed exactly here.
                guard let d = Double(s) else { XCTFail("\(context): bad value text \(s)", file: file, line: line); continue }
                if d.isNaN {
                    XCTAssertTrue(x.isNaN, "\(context): \(e.name)[\(i)]", file: file, line: line)
                } else {
                    XCTAssertEqual(x, d, "\(context): \(e.name)[\(i)]", file: file, line: line)
                    XCTAssertEqual(x.sign, d.sign, "\(context): \(e.name)[\(i)] sign", file: file, line: line)
                }
            case let n as NSNumber:
                if t.dtype == .i64 {
                    let raw = t.data.pointer.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)
                    XCTAssertEqual(raw, n.int64Value, "\(context): \(e.name)[\(i)]", file: file, line: line)
                } else {
                    XCTAssertEqual(x, n.doubleValue, "\(context): \(e.name)[\(i)]", file: file, line: line)
                }
            default: XCTFail("\(context): unexpected value \(v)", file: file, line: line)
            }
        }
    }
}

/// Runs `body`, which must throw a CheckpointError; returns it (or fails the test).
func expectCheckpointError(_ context: String, file: StaticString = #filePath, line: UInt = #line,
                           _ body: () throws -> Void) -> CheckpointError? {
    do {
        try body()
        XCTFail("\(context): accepted, expected a refusal", file: file, line: line)
    } catch let e as CheckpointError {
        return e
    } catch {
        XCTFail("\(context): threw \(type(of: error)) \(error), expected CheckpointError", file: file, line: line)
    }
    return nil
}
