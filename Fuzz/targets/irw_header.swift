// libFuzzer target: the .irw reader (preamble checks, strict JSON header, tensor table) on
// arbitrary bytes. Before opening, the target rewrites the digest field so that it matches
// whatever the preamble claims: otherwise almost every input would stop at the digest check
// and the structural checks behind it would go unfuzzed. The header decoder is also fed the
// raw input directly, as JSON text.
// Invariants beyond "no crash": an accepted file's tensors tile the data section exactly, at
// 64-byte aligned starts, with unique names and lengths equal to shape x dtype.
// fuzz-seeds: Tests/Fixtures/irw
// fuzz-max-len: 65536
import IRFormat
import IRTensor

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    var bytes = Array(data)
    fixDigest(&bytes)
    let buffer = ByteBuffer.copying(bytes)
    if let file = try? IRWFile(buffer: buffer, path: "fuzz.irw") {
        check(file.tensors, dataLength: file.dataLength)
        precondition(file.dataOffset + file.dataLength + Int(file.preamble.headerLength) == buffer.count, "file not covered exactly")
        for i in file.tensors.indices { _ = file.view(i) } // traps if a view leaves the mapping
        _ = file.verify(threads: 1)
    }
    // The header alone, against a data section as long as the input.
    if let header = try? IRWHeader.decode(data, dataLength: data.count, path: "fuzz.json") {
        check(header.tensors, dataLength: data.count)
    }
}

private func check(_ tensors: [IRWTensorEntry], dataLength: Int) {
    var end = 0
    var names = Set<String>()
    for t in tensors {
        precondition(names.insert(t.name).inserted, "duplicate name accepted")
        precondition(t.offset % 64 == 0 && t.offset >= end && t.offset - end < 64, "bad offset accepted")
        precondition(ShapeMath.byteCount(t.shape, t.dtype) == t.length, "shape and length disagree")
        end = t.offset + t.length
    }
    precondition(end == dataLength, "data section not covered exactly")
}

/// Writes SHA-256(bytes[0..<data_offset] with the digest zeroed ‖ header) into the digest field,
/// when the preamble's offsets lie inside the input.
private func fixDigest(_ b: inout [UInt8]) {
    guard b.count >= 128 else { return }
    func u64(_ at: Int) -> UInt64 { b[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    let dataOffset = u64(16), headerOffset = u64(32), headerLength = u64(40)
    guard dataOffset >= 88, dataOffset <= UInt64(b.count), headerOffset <= UInt64(b.count),
          headerLength <= UInt64(b.count) - headerOffset else { return }
    var h = SHA256Hasher()
    h.update(Array(b[0..<56]) + [UInt8](repeating: 0, count: 32) + Array(b[88..<Int(dataOffset)]))
    h.update(Array(b[Int(headerOffset)..<Int(headerOffset + headerLength)]))
    let hex = Array(h.finalizeHex().utf8)
    for i in 0..<32 {
        func nib(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : c - 87 }
        b[56 + i] = nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1])
    }
}
