import Foundation
import IRCheckpoint
import IRModels
import IRRegistry
import IRFormat
import IRStore
import IRTensor

/// `irzoo import`: read any checkpoint, map it to an architecture, write it as .irw into the
/// store's staging area while hashing the source, and commit it atomically.
///
///     read (IRCheckpoint / IRFormat)
///       -> map (REGISTRY STEP, below)
///       -> write .irw into tmp/ (streamed, tensor by tensor; source SHA-256 on another thread)
///       -> commit (lock, share identical blobs, rename blob, rename manifest)
struct Importer {
    struct Request {
        var path: String
        var arch: String?
        var name: String?
        var config: JSON?
        var select: String?
        var permissive = false
        /// Hub folders: the weights variant (`fp16`), nil for full precision.
        var variant: String? = nil
        var dtype: DTypeConversion = .keep
        var replace = false
        /// A text encoder's BPE file to keep in the .irw (`TokenizerAsset`).
        var vocab: String? = nil
        /// Store a LoRA layout's factors apart instead of merging them (`KeptLoRA`).
        var keepLoRA = false
    }

    /// The outcome of the registry step: what the tensors are called and what they are.
    struct Mapping {
        var architecture: String
        var variant: String?
        var config: JSON
        /// The tensors to store, in order, with the source key of each renamed one.
        var tensors: [(record: TensorRecord, sourceName: String?)]
        /// Mapping rules applied, one line each (stored in the .irw header).
        var rules: [String]
        var notes: [String]
    }

    struct Result {
        var outcome: ModelStore.CommitOutcome
        var source: SourceFile
        var mapping: Mapping
        var seconds: Double
    }

    let store: ModelStore

    func run(_ request: Request) throws -> Result {
        let location = try SourceLocation.locate(request.path, variant: request.variant)
        let name = request.name ?? location.hub.map { ModelStore.suggestedName(forFolder: $0.folder) }
            ?? ModelStore.suggestedName(forSourceFile: request.path)
        try ModelStore.validateName(name)
        let started = Terminal.now()
        // Hash the source on another core while the reader parses (and CRC-checks) it.
        let digest = SourceDigest(location)
        defer { digest.stop() }
        let source = try SourceFile.open(location, select: request.select, permissive: request.permissive)
        TestHooks.pause(at: "loaded")

        var mapping = try Importer.map(source, request)
        if let vocab = request.vocab { try TokenizerAsset.attach(vocab, to: &mapping) }

        let staging = try store.stage()
        defer { staging.discard() }
        TestHooks.pause(at: "staged")
        let inputs = mapping.tensors.map { request.dtype.input($0.record, sourceName: $0.sourceName) }
        let progress = ProgressReporter(label: "import \(name)", total: inputs.reduce(0) { $0 + (ShapeMath.byteCount($1.shape, $1.dtype) ?? 0) })
        var pausedMidway = false
        let written = try IRWWriter.write(inputs, metadata: {
            let (sha, size) = try digest.wait()
            return Importer.metadataRecord(source: source, mapping: mapping, sha256: sha, size: size, dtype: request.dtype)
        }, to: staging.irwPath) { done, total in
            progress.update(done)
            if !pausedMidway && done * 2 >= total { pausedMidway = true; TestHooks.pause(at: "writing") }
        }
        progress.finish()
        TestHooks.pause(at: "written")
        staging.provenance = written.header.metadata.provenance // the blob holds content only; the record keeps this
        let outcome = try store.commit(staging, name: name, replace: request.replace)
        return Result(outcome: outcome, source: source, mapping: mapping, seconds: Terminal.now() - started)
    }

    // MARK: - REGISTRY STEP
    //
    // Detect the architecture and its config from tensor names and shapes (or take `--arch` /
    // `--config`), apply the manifest's source layout (strip prefixes, renames, drop groups,
    // split fused tensors), and check the result against the model's parameter inventory,
    // failing with every missing, unexpected and mis-shaped tensor at once (exit status 4).
    // Nothing matching and no `--arch`: the table is installed as `raw`, naming the closest family.
    static func map(_ source: SourceFile, _ request: Request) throws -> Mapping {
        if let config = request.config, config.objectValue == nil {
            throw CLIError(.usage, "--config must be a JSON object")
        }
        var rules: [String] = []
        if let w = source.wrapper { rules.append("unwrapped \(w)") }
        let tensors = zip(source.tensors, source.sourceNames).map { (record: $0, sourceName: $1) }
        let raw = Mapping(architecture: "raw", variant: nil, config: request.config ?? .object([]),
                          tensors: tensors, rules: rules, notes: [])
        if request.arch == "raw" { return try refusingKeepLoRA(raw, request) }
        if let irw = source.irw, request.arch == nil, irw.metadata.architecture != "raw" {
            // An .irw already says what it is.
            return try refusingKeepLoRA(Mapping(architecture: irw.metadata.architecture, variant: irw.metadata.variant,
                                                 config: request.config ?? irw.metadata.config, tensors: tensors,
                                                 rules: irw.metadata.keyMapping, notes: []), request)
        }
        let zoo = try Zoo.embedded()
        let override = request.config
        var resolution: Resolution<TensorRecord>
        if let id = request.arch {
            guard let manifest = zoo.manifest(id) else {
                throw CLIError(.usage, "unknown architecture '\(id)' (known: raw, \(zoo.ids.joined(separator: ", ")); see `irzoo list --available`)")
            }
            do {
                resolution = try ModelResolver.resolve(source.tensors, manifest: manifest, configOverride: override)
            } catch let e as ConfigError {
                throw CLIError(.usage, "\(id): \(e)")
            } catch let e as KeyMappingError {
                throw CLIError(.inventoryMismatch, "\(source.path): \(e)")
            }
            guard resolution.isExact else {
                throw InventoryMismatchError(modelID: id, file: source.path, report: resolution.report)
            }
        } else {
            switch ModelResolver.detect(source.tensors, zoo: zoo, configOverride: override) {
            case .matched(let r):
                resolution = r
            case .noMatch(let closest):
                var m = raw
                if let irw = source.irw {
                    // A raw .irw keeps what its header says (config, variant, mapping already applied).
                    m.variant = irw.metadata.variant
                    m.config = request.config ?? irw.metadata.config
                    m.rules = irw.metadata.keyMapping
                }
                let hint = closest.first.map { "closest: \($0)" } ?? "no registered family is close"
                m.notes.append("no registered architecture matches; installed as raw tensors (\(hint))")
                return try refusingKeepLoRA(m, request)
            }
        }
        if request.config == nil, let config = source.hubConfig, let path = source.hub?.configPath {
            resolution = try HubConfig.apply(config, path: path, to: resolution, tensors: source.tensors)
        }
        // A tensor the layout kept under its own name keeps the reader's source key.
        let sourceNameOf = Dictionary(zip(source.tensors, source.sourceNames).map { ($0.name, $1) },
                                      uniquingKeysWith: { a, _ in a })
        var stored = resolution.mapped
        var config = resolution.config.json
        var keptNote: String? = nil
        if request.keepLoRA {
            // The merged tensors passed the inventory check above; store the same sites unmerged.
            guard let kept = try KeptLoRA.unmerged(source.tensors, layout: resolution.layout) else {
                throw CLIError(.usage, "--keep-lora: \(source.path) imports as \(resolution.manifest.id) (layout \(resolution.layout.name)), which has no LoRA factors to keep")
            }
            stored = kept.mapped
            var members = config.objectValue ?? JSON.Object()
            members[KeptLoRA.configKey] = JSON.Number(kept.alpha).map { .number($0) }
            config = .object(members)
            keptNote = "kept \(kept.sites) ConvLoRA sites apart (lora_A, lora_B beside conv.weight, alpha \(JSON.Number(kept.alpha)?.literal ?? "\(kept.alpha)")); merged in memory when the model is built"
        }
        let mapped = stored.tensors.map { t in (record: t, sourceName: sourceNameOf[t.name] ?? nil) }
        rules.append("layout \(resolution.layout.name) of \(resolution.manifest.id)")
        rules += stored.notes
        if let keptNote { rules.append(keptNote) }
        var notes = resolution.notes
        notes.append("config \(resolution.configSource): \(resolution.config.summary)")
        return Mapping(architecture: resolution.manifest.id, variant: resolution.configMatchesManifest ? nil : "custom",
                       config: config, tensors: mapped, rules: rules, notes: notes)
    }

    /// `--keep-lora` needs a layout whose LoRA factors it can keep; raw and pre-mapped tables have none.
    static func refusingKeepLoRA(_ mapping: Mapping, _ request: Request) throws -> Mapping {
        guard request.keepLoRA else { return mapping }
        throw CLIError(.usage, "--keep-lora: \(request.path) is not imported through a LoRA layout (it maps as \(mapping.architecture)); only files whose layout merges ConvLoRA factors can keep them")
    }

    /// The .irw metadata: what the weights are and exactly where they came from.
    static func metadataRecord(source: SourceFile, mapping: Mapping, sha256: String, size: Int, dtype: DTypeConversion) -> IRWMetadata {
        var notes = mapping.notes + source.notes
        if let n = dtype.note(for: source.tensors) { notes.append(n) }
        if !source.ignored.isEmpty { notes.append("left aside by the reader: " + source.ignored.joined(separator: "; ")) }
        if let made = source.irw?.metadata.provenance { // a 1.0 .irw says what it was made from
            let s = made.source
            notes.append("converted from '\(s.fileName)' (\(s.container), sha256 \(s.sha256)) by \(made.converter) at \(made.created)")
        }
        return IRWMetadata(architecture: mapping.architecture, variant: mapping.variant, config: mapping.config,
                           source: IRWSource(fileName: DurableFile.fileName(of: source.sourceName),
                                             sha256: sha256,
                                             container: source.format.rawValue, size: size, wrapper: source.wrapper),
                           keyMapping: mapping.rules, notes: notes)
    }
}
