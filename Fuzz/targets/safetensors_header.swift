// fuzz-seeds: Tests/Fixtures/safetensors
// fuzz-max-len: 65536
//
// libFuzzer target: the safetensors header parser and reader on arbitrary bytes.
// Invariants checked beyond "no crash": an accepted file's tensors tile the data section exactly.
import IRCheckpoint
import IRTensor

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let buffer = ByteBuffer.copying(data)
    guard let loaded = try? SafetensorsReader.read(file: buffer, path: "fuzz.safetensors") else { return }
    let header = try! buffer.whole.withUnsafeBytes { try SafetensorsHeader.parse($0) }
    var cursor = header.dataStart
    for t in loaded.tensors {
        precondition(t.data.offset == cursor && t.data.buffer === buffer, "tensor outside its data_offsets")
        precondition(ShapeMath.byteCount(t.shape, t.dtype) == t.byteCount, "shape and bytes disagree")
        cursor += t.byteCount
    }
    precondition(cursor == buffer.count, "data section not covered exactly")
}
