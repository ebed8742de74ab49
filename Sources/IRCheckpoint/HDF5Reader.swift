import IRTensor

/// HDF5 weight files through libhdf5: generic trees and the Keras layout.
public enum HDF5Reader {
    public static func read(path: String) throws -> LoadedCheckpoint {
        throw CheckpointError(file: path, reason: "HDF5 reader not built yet")
    }
}
