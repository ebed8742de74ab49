// fuzz-seeds: Tests/Fixtures/torch Tests/Fixtures/hostile
// fuzz-max-len: 1048576
//
// The zip reader on arbitrary bytes (end records, ZIP64, central directory, local headers,
// inflate with a small cap, CRC), then the whole torch.save / TorchScript reader on top.
@testable import IRCheckpoint
import IRTensor

private let zipLimits: ZipLimits = {
    var l = ZipLimits()
    l.maxInflatedBytes = 8 << 20
    return l
}()

private let limits: PickleLimits = {
    var l = PickleLimits()
    l.maxWalkNodes = 1 << 16
    return l
}()

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let buffer = ByteBuffer.copying(data)
    guard let zip = try? ZipArchive(buffer: buffer, path: "fuzz", limits: zipLimits) else { return }
    for e in zip.entries.prefix(64) {
        if let bytes = try? zip.data(of: e) {
            precondition(bytes.count == e.uncompressedSize, "member size differs from the central directory")
        }
    }
    if zip.entries.allSatisfy({ $0.uncompressedSize <= zipLimits.maxInflatedBytes }) {
        _ = try? TorchZipReader.read(file: buffer, path: "fuzz", options: ReadOptions(), limits: limits)
        _ = try? TorchZipReader.read(file: buffer, path: "fuzz", options: ReadOptions(permissive: true), limits: limits)
    }
}
