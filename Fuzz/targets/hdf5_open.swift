// fuzz-seeds: Tests/Fixtures/hdf5
// fuzz-max-len: 65536
//
// HDF5 files (held in memory, libhdf5's core driver) through the reader as irzoo runs it:
// libhdf5 in an isolated child process, its result re-validated here. The property under test
// is that no input takes this process down (libhdf5 1.10 itself crashes on some inputs; those
// must come back as errors) and that what is accepted is a consistent tensor table.
import IRCheckpoint
import IRTensor

private let options = HDF5Reader.Options(isolated: true, cpuSeconds: 2, wallSeconds: 10)

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard let loaded = try? HDF5Reader.read(image: data, name: "fuzz.h5", options: options) else { return }
    var names = Set<String>()
    for t in loaded.tensors {
        precondition(names.insert(t.name).inserted, "duplicate key")
        precondition(ShapeMath.byteCount(t.shape, t.dtype) == t.byteCount, "shape and bytes disagree")
    }
}
