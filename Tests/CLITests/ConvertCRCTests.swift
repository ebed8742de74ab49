import Foundation
import XCTest
import IRCheckpoint
import IRTensor
import IRTestSupport

/// `convert -o X.safetensors` checks the CRC-32 of large stored zip members while the kernel
/// copies them (ReadOptions.deferLargeCRC): a corrupt member must still fail the command, with
/// the member named, and leave neither the output nor a temp file.
final class ConvertCRCTests: XCTestCase {
    var cli: CLIHarness!

    override func setUp() { cli = CLIHarness() }
    override func tearDown() { cli = nil }

    /// A torch.save-style zip (all members stored) holding {'w': f32 tensor [rows, 1024]} over
    /// storage "0": the pickle is what torch writes, assembled by hand.
    func torchZip(rows: Int, values: [Float]) -> [UInt8] {
        let numel = rows * 1024
        func uni(_ s: String) -> [UInt8] { [UInt8(ascii: "X")] + withUnsafeBytes(of: UInt32(s.utf8.count).littleEndian, Array.init) + Array(s.utf8) }
        func int(_ v: Int) -> [UInt8] { [UInt8(ascii: "J")] + withUnsafeBytes(of: Int32(v).littleEndian, Array.init) }
        func global(_ m: String, _ n: String) -> [UInt8] { Array("c\(m)\n\(n)\n".utf8) }
        var pkl: [UInt8] = [0x80, 0x02, UInt8(ascii: "}"), UInt8(ascii: "("), ] + uni("w") + global("torch._utils", "_rebuild_tensor_v2")
        pkl += [UInt8(ascii: "("), UInt8(ascii: "(")] + uni("storage") + global("torch", "FloatStorage") + uni("0") + uni("cpu") + int(numel)
        pkl += [UInt8(ascii: "t"), UInt8(ascii: "Q")] + int(0)
        pkl += [UInt8(ascii: "(")] + int(rows) + int(1024) + [UInt8(ascii: "t"), UInt8(ascii: "(")] + int(1024) + int(1) + [UInt8(ascii: "t")]
        pkl += [0x89] + global("collections", "OrderedDict") + [UInt8(ascii: ")"), UInt8(ascii: "R"), UInt8(ascii: "t"), UInt8(ascii: "R")]
        pkl += [UInt8(ascii: "u"), UInt8(ascii: ".")]
        let data = values.withUnsafeBytes { Array($0) }
        precondition(data.count == numel * 4)
        return storedZip([("archive/data.pkl", pkl), ("archive/byteorder", Array("little".utf8)),
                          ("archive/data/0", data), ("archive/version", Array("3\n".utf8))])
    }

    /// A plain zip of stored members with correct CRCs.
    func storedZip(_ members: [(String, [UInt8])]) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
        func u32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        var out: [UInt8] = [], central: [UInt8] = []
        for (name, data) in members {
            let crc = Int(data.withUnsafeBytes { ZipCRC.checksum($0) })
            let offset = out.count
            let common = u16(20) + u16(0) + u16(0) + u16(0) + u16(0) + u32(crc) + u32(data.count) + u32(data.count) + u16(name.utf8.count)
            out += u32(0x0403_4b50) + common + u16(0) + Array(name.utf8) + data
            central += u32(0x0201_4b50) + u16(20) + common + u16(0) + u16(0) + u16(0) + u16(0) + u32(0) + u32(offset) + Array(name.utf8)
        }
        let cdOffset = out.count
        out += central
        out += u32(0x0605_4b50) + u16(0) + u16(0) + u16(members.count) + u16(members.count) + u32(central.count) + u32(cdOffset) + u16(0)
        return out
    }

    func testCorruptLargeMemberFailsConvertAndLeavesNothing() throws {
        let rows = 4096  // 16 MiB: a "large" member, checked while it is copied
        let values = (0..<(rows * 1024)).map { Float($0 % 9973) * 0.5 - 100 }
        var zip = torchZip(rows: rows, values: values)
        let good = cli.path("good.pth")
        try Data(zip).write(to: URL(fileURLWithPath: good))
        XCTAssertEqual(try cli.run(["inspect", good]).status, 0, "the hand-built archive is a valid torch zip")

        let out = cli.path("out/good.safetensors")
        try FileManager.default.createDirectory(atPath: cli.path("out"), withIntermediateDirectories: true)
        let ok = try cli.run(["convert", good, "-o", out])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let back = try SafetensorsReader.read(path: out)
        XCTAssertEqual(back.tensors.map { $0.name }, ["w"])
        XCTAssertEqual(back.tensors[0].data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }, values)
        try FileManager.default.removeItem(atPath: out)

        // One flipped bit deep inside the tensor's member.
        let dataStart = try XCTUnwrap(zip.indices.first { i in zip[i..<min(i + 14, zip.count)].elementsEqual(Array("archive/data/0".utf8)) }) + 14
        zip[dataStart + 10_000_001] ^= 0x10
        let bad = cli.path("bad.pth")
        try Data(zip).write(to: URL(fileURLWithPath: bad))
        for args in [["convert", bad, "-o", out], ["convert", bad, "-o", out, "--no-fsync"], ["convert", bad, "-o", cli.path("out/bad.irw")]] {
            let r = try cli.run(args)
            XCTAssertEqual(r.status, 3, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("archive/data/0: CRC-32 mismatch"), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cli.path("out")), [], "\(args): nothing left behind")
        }
        XCTAssertEqual(try cli.run(["inspect", bad]).status, 3)
    }
}
