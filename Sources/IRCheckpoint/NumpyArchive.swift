import IRTensor

/// NumPy `.npz` archives (`np.savez`, `np.savez_compressed`): a zip of `.npy` members, read
/// through `ZipArchive` (stored members stay zero-copy views, deflated ones are inflated under
/// its size cap, CRCs checked). Used for `irzoo run --aux aux.npz`.
public enum NumpyArchive {
    /// Every array in archive order, named by its member name without `.npy`
    /// (`np.savez(f, **{"blocks.0.scale": a})` gives the tensor `blocks.0.scale`).
    public static func read(path: String) throws -> [TensorRecord] {
        try read(ZipArchive(path: path))
    }

    public static func read(buffer: ByteBuffer, path: String) throws -> [TensorRecord] {
        try read(ZipArchive(buffer: buffer, path: path))
    }

    static func read(_ zip: ZipArchive) throws -> [TensorRecord] {
        var tensors: [TensorRecord] = []
        for entry in zip.entries where !entry.isDirectory {
            guard entry.name.hasSuffix(".npy"), entry.name.count > 4 else {
                throw CheckpointError(file: zip.path, entry: entry.name, reason: "not a .npy member; an .npz holds only .npy arrays")
            }
            let bytes = try zip.data(of: entry)
            tensors.append(try NumpyArray.parse(bytes, name: String(entry.name.dropLast(4)), file: zip.path, entry: entry.name))
        }
        return tensors
    }
}
