import IRTensor

/// torch.save zip archives and TorchScript archives. (Owned by the torch readers work.)
public enum TorchZipReader {
    public static func read(file: ByteBuffer, path: String, options: ReadOptions) throws -> LoadedCheckpoint {
        throw CheckpointError(file: path, reason: "torch zip reader not built yet")
    }
}
