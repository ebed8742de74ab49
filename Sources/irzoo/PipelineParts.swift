import IRFormat
import IRModels
import IRStore
import IRTensor

/// Reading an installed pipeline's parts back from the store: a component as a one-blob model
/// (what `RunModelLoader` builds), the CLIP tokenizer from its stored `vocab.json` and
/// `merges.txt`, the Euler schedule from its stored `scheduler_config.json`.
enum PipelineParts {
    /// Which tokenizer goes with which text encoder (diffusers' SDXL pipeline pairs them so).
    static let tokenizerOf = ["text_encoder": "tokenizer", "text_encoder_2": "tokenizer_2"]

    /// Component `role` of pipeline `m`, described as a one-blob record named "NAME/ROLE".
    static func component(_ m: StoreManifest, _ role: String) throws -> StoreManifest {
        guard let c = m.components.first(where: { $0.role == role }) else {
            throw CLIError(.usage, "\(m.name) has no component '\(role)' (it has \(m.components.map { $0.role }.joined(separator: ", ")))")
        }
        var one = StoreManifest(name: "\(m.name)/\(role)", architecture: c.architecture, variant: c.variant, config: c.config,
                                blob: c.blob, source: c.source, tensors: c.tensors, imported: m.imported)
        one.keyMapping = c.keyMapping
        one.notes = c.notes
        one.converter = c.converter
        return one
    }

    /// The stored files of a files component (tokenizer, scheduler), by file name.
    static func files(_ m: StoreManifest, _ role: String, store: ModelStore) throws -> [String: [UInt8]] {
        let c = try component(m, role)
        let file = try IRWFile.open(path: store.blobPath(c.blob.digest))
        var out: [String: [UInt8]] = [:]
        for r in try file.records() where r.dtype == .u8 { out[r.name] = r.data.withUnsafeBytes { [UInt8]($0) } }
        return out
    }

    /// The CLIP tokenizer stored as `role` (vocab.json + merges.txt), with the pad token its
    /// special_tokens_map.json (else tokenizer_config.json) names, for a context of `context`.
    static func tokenizer(_ m: StoreManifest, _ role: String, context: Int, store: ModelStore) throws -> CLIPTokenizer {
        try tokenizer(files: try files(m, role, store: store), source: "\(m.name) (\(role))", context: context)
    }

    /// The tokenizer of a tokenizer folder's files, by file name (import checks it with this too).
    static func tokenizer(files: [String: [UInt8]], source: String, context: Int = 77) throws -> CLIPTokenizer {
        var pad = "<|endoftext|>"
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            guard let bytes = files[name], let json = try? JSON.parse(bytes), let p = json["pad_token"] else { continue }
            // A plain string, or an AddedToken object {"content": ...}.
            if let s = p.stringValue ?? p["content"]?.stringValue { pad = s; break }
        }
        do {
            if let vocab = files["vocab.json"], let merges = files["merges.txt"] {
                return try CLIPTokenizer(vocabJSON: vocab, mergesText: merges, padToken: pad, contextLength: context, source: source)
            }
            guard let json = files["tokenizer.json"] else {
                throw CLIError(.unreadableInput, "\(source): no vocab.json and merges.txt, and no tokenizer.json")
            }
            return try CLIPTokenizer(tokenizerJSON: json, padToken: pad, contextLength: context, source: source)
        } catch let e as ModelError {
            throw CLIError(.unreadableInput, e.reason)
        }
    }

    /// The Euler settings stored as the pipeline's scheduler.
    static func scheduler(_ m: StoreManifest, store: ModelStore) throws -> EulerSchedulerConfig {
        try scheduler(files: try files(m, "scheduler", store: store), source: "\(m.name) (scheduler_config.json)")
    }

    static func scheduler(files: [String: [UInt8]], source: String) throws -> EulerSchedulerConfig {
        guard let bytes = files["scheduler_config.json"] else { throw CLIError(.failure, "\(source): not stored") }
        do {
            return try EulerSchedulerConfig(json: try JSON.parse(bytes), source: source)
        } catch let e as ModelError {
            throw CLIError(.failure, e.reason)
        }
    }

    /// Why `irzoo run NAME --input ...` cannot run pipeline `m`, and what can be run instead.
    static func notRunnable(_ m: StoreManifest, store: ModelStore) -> CLIError {
        let scheduler = (try? scheduler(m, store: store).summary) ?? "not one irzoo samples with"
        return CLIError(.usage, "\(m.name) is an SDXL pipeline; irzoo has no text-to-image sampler for SDXL yet (missing: a model that drives the UNet from noise; its scheduler is \(scheduler)). Run its text encoders with `irzoo run \(m.name) --prompt TEXT --output hidden.npy [--component text_encoder_2]`")
    }
}
