import IRTensor

/// Pre-1.6 torch.save files: stacked pickles followed by raw storages.
public enum TorchLegacyReader {
    public static func read(file: ByteBuffer, path: String, options: ReadOptions) throws -> LoadedCheckpoint {
        throw CheckpointError(file: path, reason: "legacy torch reader not built yet")
    }
}
