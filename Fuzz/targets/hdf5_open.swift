// libFuzzer target: HDF5 files (held in memory, libhdf5's core driver) through our reader:
// the generic walk, the Keras layout, attribute and dataset reading, and the size checks.
import IRCheckpoint
import IRTensor

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard let loaded = try? HDF5Reader.read(image: data, name: "fuzz.h5") else { return }
    var names = Set<String>()
    for t in loaded.tensors {
        precondition(names.insert(t.name).inserted, "duplicate key")
        precondition(ShapeMath.byteCount(t.shape, t.dtype) == t.byteCount, "shape and bytes disagree")
    }
}
