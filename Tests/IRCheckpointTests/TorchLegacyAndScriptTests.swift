import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

final class TorchLegacyReaderTests: XCTestCase {
    func testLegacyFilesMatchTorch() throws {
        for name in ["dtypes_legacy.pt", "dtypes_legacy_proto1.pt", "legacy_views.pt"] {
            let got = try TorchFixture.check(name)
            XCTAssertEqual(got.format, .torchLegacy)
        }
    }

    func testLegacyContiguousTensorsAreViewsOfTheFile() throws {
        let buf = try ByteBuffer.map(path: TorchFixture.path("dtypes_legacy.pt"))
        let got = try TorchLegacyReader.read(file: buf, path: "dtypes_legacy.pt", options: ReadOptions())
        let byName = Dictionary(uniqueKeysWithValues: got.tensors.map { ($0.name, $0) })
        XCTAssertTrue(byName["base"]!.data.buffer === buf)
        XCTAssertEqual(byName["slice"]!.data.pointer, byName["base"]!.data.pointer + 20)
        XCTAssertFalse(byName["transposed"]!.data.buffer === buf)
    }

    /// Old legacy files put tensors on views of a root storage (view_metadata).
    func testStorageViewsResolveIntoTheirRootStorage() throws {
        let buf = try ByteBuffer.map(path: TorchFixture.path("legacy_views.pt"))
        let got = try TorchLegacyReader.read(file: buf, path: "legacy_views.pt", options: ReadOptions())
        let byName = Dictionary(uniqueKeysWithValues: got.tensors.map { ($0.name, $0) })
        let b = byName["b"]!  // the whole root: 8 floats
        XCTAssertTrue(b.data.buffer === buf)
        // 'a' is element 1 of view v1, which starts at root element 2.
        XCTAssertEqual(byName["a"]!.data.pointer, b.data.pointer + 3 * 4)
        let c = byName["c"]!
        XCTAssertEqual((0 ..< 4).map { ElementConversion.value(c.data.pointer, .f32, $0) }, [3, 6, 4.5, 7.5])
    }

    func testTruncatedLegacyFileNamesTheStorage() throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: TorchFixture.path("dtypes_legacy.pt"))))
        let cut = ByteBuffer.copying(bytes.prefix(bytes.count - 10))
        assertRefused("file truncated inside storage") {
            _ = try TorchLegacyReader.read(file: cut, path: "cut.pt", options: ReadOptions())
        }
    }
}

final class TorchScriptReaderTests: XCTestCase {
    /// Names, order and values equal `torch.jit.load(f).state_dict()`; the trace constant is skipped.
    func testModuleTreeMatchesStateDict() throws {
        let got = try TorchFixture.check("torchscript.pt")
        XCTAssertEqual(got.format, .torchscript)
        XCTAssertFalse(got.tensors.contains { $0.name.contains("constant") })
    }

    func testSelectASubmodule() throws {
        let want = TorchExpectations.shared.files["torchscript.pt"]!.select!["block"]!
        let got = try CheckpointReader.read(path: TorchFixture.path("torchscript.pt"), options: ReadOptions(select: "block"))
        XCTAssertEqual(got.wrapper, want.wrapper)
        XCTAssertEqual(got.tensors.map(\.name), want.names)
    }

    func testTorchScriptClassesAreRefusedOutsideTorchScriptArchives() throws {
        // The same data.pkl in an archive without code/ and constants.pkl: `__torch__.Net` is not allowed.
        let zip = try ZipArchive(path: TorchFixture.path("torchscript.pt"))
        var w = TestZipWriter()
        for e in zip.entries where !e.name.contains("/code/") && !e.name.contains("constants") {
            w.add(e.name, try zip.data(of: e).bytes)
        }
        let buf = ByteBuffer.copying(w.build())
        assertRefused("refused global __torch__.Net") {
            _ = try TorchZipReader.read(file: buf, path: "renamed.pt", options: ReadOptions())
        }
    }
}

/// A minimal stored-only zip writer for tests that build archives on the fly.
struct TestZipWriter {
    private var members: [(String, [UInt8])] = []
    mutating func add(_ name: String, _ data: [UInt8]) { members.append((name, data)) }

    func build() -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        func le16(_ v: Int, _ a: inout [UInt8]) { a += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func le32(_ v: Int, _ a: inout [UInt8]) { for i in 0 ..< 4 { a.append(UInt8(v >> (8 * i) & 0xFF)) } }
        for (name, data) in members {
            let crc = Int(data.withUnsafeBytes { ZipCRC.checksum($0) })
            let offset = out.count
            let n = Array(name.utf8)
            le32(0x0403_4B50, &out); le16(20, &out); le16(0, &out); le16(0, &out); le16(0, &out); le16(0, &out)
            le32(crc, &out); le32(data.count, &out); le32(data.count, &out); le16(n.count, &out); le16(0, &out)
            out += n + data
            le32(0x0201_4B50, &central); le16(20, &central); le16(20, &central); le16(0, &central); le16(0, &central)
            le16(0, &central); le16(0, &central); le32(crc, &central); le32(data.count, &central); le32(data.count, &central)
            le16(n.count, &central); le16(0, &central); le16(0, &central); le16(0, &central); le16(0, &central)
            le32(0, &central); le32(offset, &central)
            central += n
        }
        let cdOffset = out.count
        out += central
        le32(0x0605_4B50, &out); le16(0, &out); le16(0, &out); le16(members.count, &out); le16(members.count, &out)
        le32(central.count, &out); le32(cdOffset, &out); le16(0, &out)
        return out
    }
}
