import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

/// The safetensors writer copies tensors that sit unchanged in a mapped file with
/// copy_file_range (as cp does) instead of writing them from memory: the output must be
/// byte-identical to the ordinary write path, for every dtype, odd sizes and unaligned offsets.
final class KernelCopyTests: XCTestCase {
    private var dir: URL!

    override func setUp() { dir = TestSupport.makeTempDir("irzoo-kernel-copy") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// The same tensors in heap buffers: what the writer streams with write(2).
    private func onTheHeap(_ tensors: [TensorRecord]) throws -> [TensorRecord] {
        try tensors.map { t in
            try TensorRecord(name: t.name, dtype: t.dtype, shape: t.shape, data: t.data.withUnsafeBytes { ByteBuffer.copying($0) }.whole)
        }
    }

    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func testMappedTensorsAreCopiedByteIdentically() throws {
        // Sources with data at arbitrary offsets: a torch zip (stored members) and a safetensors
        // file whose odd-sized tensors leave the next ones unaligned.
        var random = SystemRandomNumberGenerator()
        let odd = [
            try TensorRecord(name: "u8", dtype: .u8, shape: [13], data: ByteBuffer.copying((0..<13).map { _ in UInt8.random(in: 0...255, using: &random) }).whole),
            try TensorRecord(name: "f32", dtype: .f32, shape: [3, 1000], data: ByteBuffer.copying((0..<12000).map { _ in UInt8.random(in: 0...255, using: &random) }).whole),
            try TensorRecord(name: "f16", dtype: .f16, shape: [7], data: ByteBuffer.copying((0..<14).map { _ in UInt8.random(in: 0...255, using: &random) }).whole),
            try TensorRecord(name: "empty", dtype: .f32, shape: [0, 4], data: ByteBuffer.copying([UInt8]()).whole),
            try TensorRecord(name: "big", dtype: .f32, shape: [1 << 20], data: ByteBuffer.copying((0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }).whole),
        ]
        try SafetensorsWriter.write(odd, to: path("odd.safetensors"))
        let sources = [path("odd.safetensors"), TestSupport.fixture("torch/dtypes.pt"), TestSupport.fixture("torch/dtypes_zip64.pt")]
        for source in sources {
            let mapped = try CheckpointReader.read(path: source).tensors
            XCTAssertTrue(mapped.contains { $0.data.buffer.isFileMapping }, "\(source): the reader maps the file")
            for mode in DTypeConversion.allCases {
                try SafetensorsWriter.write(mapped, to: path("kernel.safetensors"), dtype: mode)
                try SafetensorsWriter.write(try onTheHeap(mapped), to: path("write.safetensors"), dtype: mode)
                XCTAssertEqual(try bytes(path("kernel.safetensors")), try bytes(path("write.safetensors")),
                               "\(source) --dtype \(mode.rawValue): kernel copy differs from write")
                let back = try SafetensorsReader.read(path: path("kernel.safetensors"))
                XCTAssertEqual(back.tensors.map { $0.name }, mapped.map { $0.name })
            }
            // Without fsync the bytes are the same.
            try SafetensorsWriter.write(mapped, to: path("nosync.safetensors"), durable: false)
            try SafetensorsWriter.write(try onTheHeap(mapped), to: path("write.safetensors"))
            XCTAssertEqual(try bytes(path("nosync.safetensors")), try bytes(path("write.safetensors")))
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "no temporary files left behind")
    }
}
