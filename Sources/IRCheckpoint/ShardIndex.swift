import IRTensor

/// A shard index (`*.safetensors.index.json`, `pytorch_model.bin.index.json`, as diffusers and
/// transformers write them): `{"metadata": {...}, "weight_map": {tensor: shard file}}`.
///
/// Read strictly: every shard named is a plain file name beside the index, every tensor the
/// index names is in the shard it names, and every tensor of a shard is in the index. Each
/// shard stays its own mapping: the tensors are views into them, never concatenated.
public struct ShardIndex: Sendable {
    public let path: String
    /// Tensor name -> shard file name.
    public let weightMap: [String: String]
    /// The shard file names, sorted (the numbered names sort in order).
    public let shards: [String]
    public let metadata: [String: String]

    /// Indexes are small (a few hundred KB for SDXL's UNet); more is not an index.
    static let maxBytes = 64 << 20

    public static func read(_ path: String) throws -> ShardIndex {
        func fail(_ reason: String) -> CheckpointError { CheckpointError(file: path, reason: reason) }
        let file: ByteBuffer
        do { file = try ByteBuffer.map(path: path) } catch let e as IOFailure { throw fail(e.reason) }
        guard file.count <= maxBytes else { throw fail("\(file.count) bytes is too large for a shard index") }
        let root: JSON
        do { root = try file.whole.withUnsafeBytes { try JSON.parse($0, maxDepth: 16) } } catch let e as JSONParseError {
            throw fail("not a shard index: \(e)")
        }
        guard let object = root.objectValue, let map = object["weight_map"]?.objectValue else {
            throw fail("not a shard index: no \"weight_map\" object")
        }
        var weightMap: [String: String] = [:]
        for (tensor, value) in map {
            guard let shard = value.stringValue else { throw fail("weight_map[\"\(tensor)\"] is \(value.typeName), not a file name") }
            guard isPlainName(shard) else {
                throw fail("weight_map[\"\(tensor)\"] names \"\(shard)\": a shard must be a file beside the index (no folders, no '..', no absolute path)")
            }
            weightMap[tensor] = shard
        }
        guard !weightMap.isEmpty else { throw fail("the weight_map is empty") }
        var metadata: [String: String] = [:]
        for (k, v) in object["metadata"]?.objectValue ?? JSON.Object() {
            metadata[k] = v.stringValue ?? v.numberValue?.literal ?? "\(v.typeName)"
        }
        return ShardIndex(path: path, weightMap: weightMap, shards: Set(weightMap.values).sorted(), metadata: metadata)
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\") && !name.contains("\0")
    }

    /// Reads every shard and checks it against the index; the tensors in shard order.
    public func load(folder: String, options: ReadOptions) throws -> LoadedCheckpoint {
        var tensors: [TensorRecord] = []
        var ignored: [String] = []
        var notes: [String] = []
        var containerMetadata = metadata
        var format: ContainerFormat?
        var found = Set<String>()
        for shard in shards {
            let path = HubWeights.join(folder, shard)
            // Pickle shards are bare state_dicts; their CRCs are checked here, not deferred.
            var shardOptions = options
            shardOptions.deferLargeCRC = false
            let loaded = try CheckpointReader.read(path: path, options: shardOptions)
            if let format, format != loaded.format {
                throw CheckpointError(file: path, reason: "is \(loaded.format.rawValue) while the other shards are \(format.rawValue)")
            }
            format = loaded.format
            for t in loaded.tensors {
                guard let named = weightMap[t.name] else {
                    throw CheckpointError(file: path, entry: t.name, reason: "this tensor is not in the index \(HubWeights.fileName(self.path))")
                }
                guard named == shard else {
                    throw CheckpointError(file: path, entry: t.name, reason: "the index \(HubWeights.fileName(self.path)) puts this tensor in \(named)")
                }
                found.insert(t.name)
            }
            tensors += loaded.tensors
            ignored += loaded.ignored.map { "\(shard): \($0)" }
            notes += loaded.notes.map { "\(shard): \($0)" }
            for (k, v) in loaded.metadata where containerMetadata[k] == nil { containerMetadata[k] = v }
        }
        let absent = weightMap.keys.filter { !found.contains($0) }.sorted()
        if let first = absent.first {
            let more = absent.count > 1 ? " (and \(absent.count - 1) more)" : ""
            throw CheckpointError(file: HubWeights.join(folder, weightMap[first]!), entry: first,
                                  reason: "the index \(HubWeights.fileName(path)) names this tensor but the shard does not hold it\(more)")
        }
        notes.append("\(shards.count) shards read through \(HubWeights.fileName(path))")
        return LoadedCheckpoint(format: format!, wrapper: nil, tensors: tensors, ignored: ignored, notes: notes, metadata: containerMetadata)
    }
}
