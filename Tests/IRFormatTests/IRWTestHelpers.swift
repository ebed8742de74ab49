import Foundation
import IRFormat
import IRTensor
import IRTestSupport

/// Builds .irw bytes by hand (independently of IRWWriter) so tests can craft hostile files
/// whose digest is still correct: then it is the structural checks that must refuse them.
enum IRWBytes {
    static let magic: [UInt8] = Array("IRZW".utf8) + [0x0D, 0x0A, 0x1A, 0x0A]

    struct Preamble {
        var major: UInt16 = 1, minor: UInt16 = 0, flags: UInt32 = 0
        var dataOffset: UInt64 = 128, dataLength: UInt64 = 0
        var headerOffset: UInt64? = nil, headerLength: UInt64? = nil, tensorCount: UInt64 = 0
    }

    /// preamble ‖ data ‖ header, with a correct digest unless `fixDigest` is false.
    static func file(header: String, data: [UInt8], tensorCount: Int, edit: (inout Preamble) -> Void = { _ in }, fixDigest: Bool = true) -> [UInt8] {
        file(headerBytes: Array(header.utf8), data: data, tensorCount: tensorCount, edit: edit, fixDigest: fixDigest)
    }

    static func file(headerBytes h: [UInt8], data: [UInt8], tensorCount: Int, edit: (inout Preamble) -> Void = { _ in }, fixDigest: Bool = true) -> [UInt8] {
        var p = Preamble(dataLength: UInt64(data.count), headerOffset: UInt64(128 + data.count), headerLength: UInt64(h.count), tensorCount: UInt64(tensorCount))
        edit(&p)
        var pre = magic + [UInt8](repeating: 0, count: 120)
        func put<T: FixedWidthInteger>(_ v: T, _ at: Int) { withUnsafeBytes(of: v.littleEndian) { for (i, b) in $0.enumerated() { pre[at + i] = b } } }
        put(p.major, 8); put(p.minor, 10); put(p.flags, 12)
        put(p.dataOffset, 16); put(p.dataLength, 24); put(p.headerOffset!, 32); put(p.headerLength!, 40); put(p.tensorCount, 48)
        if fixDigest {
            var hasher = SHA256Hasher()
            hasher.update(Array(pre[0..<56]) + [UInt8](repeating: 0, count: 32) + Array(pre[88..<128]) + h)
            let hex = hasher.finalizeHex()
            let digest = stride(from: 0, to: 64, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }
            pre.replaceSubrange(56..<88, with: digest)
        }
        return pre + data + h
    }

    static func sha(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { SHA256Hasher.hex(of: $0) } }

    static let metadata = #"{"architecture":"raw","variant":null,"config":{},"source":{"file_name":"x","sha256":"\#(String(repeating: "a", count: 64))","container":"irw"},"key_mapping":[],"converter":"test","created":"2026-01-01T00:00:00Z"}"#

    /// A header with the given tensor rows (JSON object texts).
    static func header(_ rows: [String], extra: String = "") -> String {
        #"{"endianness":"little","alignment":64,"metadata":\#(metadata),"tensors":[\#(rows.joined(separator: ","))]\#(extra)}"#
    }

    static func row(_ name: String, _ shape: [Int], dtype: String = "f32", offset: Int, length: Int, sha: String) -> String {
        #"{"name":\#(JSON.quote(name)),"dtype":"\#(dtype)","shape":[\#(shape.map(String.init).joined(separator: ","))],"offset":\#(offset),"length":\#(length),"sha256":"\#(sha)"}"#
    }
}

extension IRWFile {
    /// Opens bytes held in memory.
    static func open(bytes: [UInt8], path: String = "test.irw") throws -> IRWFile {
        try IRWFile(buffer: ByteBuffer.copying(bytes), path: path)
    }
}

func readFixture(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("irw/\(name)"))))
}

func loadSchema(_ name: String) throws -> JSONSchemaValidator {
    let url = TestSupport.repoRoot.appendingPathComponent("Schemas/\(name)")
    return try JSONSchemaValidator(schemaText: try String(contentsOf: url, encoding: .utf8))
}

func hexBytes(_ hex: String) -> [UInt8] {
    let u = Array(hex.utf8)
    return stride(from: 0, to: u.count, by: 2).map { UInt8(String(decoding: u[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}
