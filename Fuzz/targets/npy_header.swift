// fuzz-seeds: Tests/Fixtures/npy
// fuzz-max-len: 16384
//
// libFuzzer target: the .npy header grammar and array reader on arbitrary bytes.
import IRCheckpoint
import IRTensor

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let buffer = ByteBuffer.copying(data)
    guard let t = try? NumpyArray.parse(buffer.whole, name: "x", file: "fuzz.npy") else { return }
    precondition(ShapeMath.byteCount(t.shape, t.dtype) == t.byteCount, "shape and bytes disagree")
}
