import IRTensor

/// The container formats irzoo reads. Raw values are the `inspect --json` spellings.
public enum ContainerFormat: String, Sendable, Codable {
    case torchZip = "torch-zip"
    case torchLegacy = "torch-legacy"
    case torchscript
    case safetensors
    case hdf5
    case irw
}

/// What a reader yields: the flat tensor table plus what it chose and skipped.
public struct LoadedCheckpoint: @unchecked Sendable {
    public var format: ContainerFormat
    /// How the weights were found, e.g. "params", "state_dict (prefix 'net.' stripped)", or nil for a bare table.
    public var wrapper: String?
    public var tensors: [TensorRecord]
    /// Non-tensor content left aside (optimizer state, hyper-parameters, placeholders), one line each.
    public var ignored: [String]
    /// Other facts worth telling the user (e.g. "Keras kernels reported as stored (HWIO)").
    public var notes: [String]
    /// Container metadata as strings (safetensors `__metadata__`, HDF5 attributes, ...).
    public var metadata: [String: String]
    /// Checks left for the caller to run (only with `ReadOptions.deferLargeCRC`).
    public var deferred: DeferredChecks = .none

    public init(format: ContainerFormat, wrapper: String? = nil, tensors: [TensorRecord],
                ignored: [String] = [], notes: [String] = [], metadata: [String: String] = [:]) {
        self.format = format
        self.wrapper = wrapper
        self.tensors = tensors
        self.ignored = ignored
        self.notes = notes
        self.metadata = metadata
    }
}

public struct ReadOptions: Sendable {
    /// Picks the sub-tree holding the weights (e.g. "params_ema"), overriding the default choice.
    public var select: String?
    /// Reads unknown pickle globals as inert placeholders instead of refusing the file.
    public var permissive: Bool
    /// Leaves the CRC checks of large stored torch-zip members to the caller
    /// (`LoadedCheckpoint.deferred`), who runs them while copying those bytes and must not keep
    /// anything made from them if a check fails. Everything else is still checked at read.
    public var deferLargeCRC: Bool

    public init(select: String? = nil, permissive: Bool = false, deferLargeCRC: Bool = false) {
        self.select = select
        self.permissive = permissive
        self.deferLargeCRC = deferLargeCRC
    }
}

/// A refused or unreadable checkpoint. `description` is the one line the CLI prints.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public var file: String
    /// The entry inside the container (zip member, HDF5 path, tensor name), if any.
    public var entry: String?
    public var reason: String
    /// Byte offset in the file or entry where the problem was found, if known.
    public var offset: Int?

    public init(file: String, entry: String? = nil, reason: String, offset: Int? = nil) {
        self.file = file
        self.entry = entry
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        var s = file
        if let entry { s += ": \(entry)" }
        s += ": \(reason)"
        if let offset { s += " (at byte \(offset))" }
        return s
    }
}

/// Opens any supported checkpoint, choosing the reader from the file's first bytes.
public enum CheckpointReader {
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ContainerFormat? {
        func starts(_ m: [UInt8]) -> Bool { bytes.count >= m.count && zip(bytes, m).allSatisfy { $0 == $1 } }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return .torchZip } // refined by the zip reader
        if starts([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return .hdf5 }
        if starts(Array("IRZW".utf8)) { return .irw }
        // A safetensors header length whose low byte is 0x80 would pass for a pickle's PROTO:
        // '{' at byte 8 with a length below 2^48 decides (a legacy torch file has its magic there).
        if bytes.count >= 9, bytes[8] == UInt8(ascii: "{"), bytes[6] == 0, bytes[7] == 0 { return .safetensors }
        if starts([0x80]) { return .torchLegacy }
        // Legacy files pickled with protocol 0/1 open with the magic number as a text LONG.
        if starts(Array("L119547037146038".utf8)) { return .torchLegacy }  // (first 16 bytes only)
        if bytes.count >= 9 {
            // safetensors: u64 little-endian header length, then '{'.
            if bytes[8] == UInt8(ascii: "{") { return .safetensors }
        }
        return nil
    }

    public static func read(path: String, options: ReadOptions = ReadOptions()) throws -> LoadedCheckpoint {
        let file: ByteBuffer
        do { file = try ByteBuffer.map(path: path) } catch let e as IOFailure {
            throw CheckpointError(file: path, reason: e.reason)
        }
        guard file.count > 0 else { throw CheckpointError(file: path, reason: "empty file") }
        let kind = sniff(UnsafeRawBufferPointer(start: file.base, count: min(file.count, 16)))
        switch kind {
        case .torchZip:
            return try TorchZipReader.read(file: file, path: path, options: options)
        case .torchLegacy:
            return try TorchLegacyReader.read(file: file, path: path, options: options)
        case .safetensors:
            return try SafetensorsReader.read(file: file, path: path)
        case .hdf5:
            return try HDF5Reader.read(path: path)
        case .irw:
            throw CheckpointError(file: path, reason: "this is an irzoo .irw file: open it with the .irw reader")
        case .torchscript, nil:
            throw CheckpointError(file: path, reason: "not a checkpoint irzoo knows (expected a torch zip or legacy file, safetensors, or HDF5)")
        }
    }
}
