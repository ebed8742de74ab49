import IRCheckpoint
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
        var dtype: DTypeConversion = .keep
        var replace = false
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
        let name = request.name ?? ModelStore.suggestedName(forSourceFile: request.path)
        try ModelStore.validateName(name)
        let started = Terminal.now()
        // Hash the source on another core while the reader parses (and CRC-checks) it.
        let digest = SourceDigest(path: request.path)
        let source = try SourceFile.open(request.path, select: request.select, permissive: request.permissive)
        TestHooks.pause(at: "loaded")

        let mapping = try Importer.map(source, request)

        let staging = try store.stage()
        defer { staging.discard() }
        TestHooks.pause(at: "staged")
        let inputs = mapping.tensors.map { request.dtype.input($0.record, sourceName: $0.sourceName) }
        let progress = ProgressReporter(label: "import \(name)", total: inputs.reduce(0) { $0 + (ShapeMath.byteCount($1.shape, $1.dtype) ?? 0) })
        var pausedMidway = false
        try IRWWriter.write(inputs, metadata: {
            let (sha, size) = try digest.wait()
            return Importer.metadataRecord(source: source, mapping: mapping, sha256: sha, size: size, dtype: request.dtype)
        }, to: staging.irwPath) { done, total in
            progress.update(done)
            if !pausedMidway && done * 2 >= total { pausedMidway = true; TestHooks.pause(at: "writing") }
        }
        progress.finish()
        TestHooks.pause(at: "written")
        let outcome = try store.commit(staging, name: name, replace: request.replace)
        return Result(outcome: outcome, source: source, mapping: mapping, seconds: Terminal.now() - started)
    }

    // MARK: - REGISTRY STEP
    //
    // This is where the registry plugs in: detect the architecture and its config from tensor
    // names and shapes (or take `--arch`/`--config`), apply the manifest's source layout (unwrap,
    // strip prefixes, renames, drop groups, split fused tensors), and check the result against the
    // model's parameter inventory, failing with every missing, unexpected and mis-shaped tensor
    // at once (exit status 4, `ExitStatus.inventoryMismatch`). Until then every table is
    // installed as it was read, under the architecture `raw`.
    static func map(_ source: SourceFile, _ request: Request) throws -> Mapping {
        if let config = request.config, config.objectValue == nil {
            throw CLIError(.usage, "--config must be a JSON object")
        }
        var rules: [String] = []
        if let w = source.wrapper { rules.append("unwrapped \(w)") }
        let tensors = zip(source.tensors, source.sourceNames).map { (record: $0, sourceName: $1) }
        switch request.arch {
        case nil, "raw":
            var architecture = "raw", variant: String? = nil, config = JSON.object([])
            if let irw = source.irw, request.arch == nil {
                // An .irw already says what it is.
                architecture = irw.metadata.architecture
                variant = irw.metadata.variant
                config = irw.metadata.config
                rules = irw.metadata.keyMapping
            }
            return Mapping(architecture: architecture, variant: variant, config: request.config ?? config,
                           tensors: tensors, rules: rules, notes: [])
        case let id?:
            throw CLIError(.usage, "unknown architecture '\(id)': this build knows only 'raw' (the registry is not linked in yet)")
        }
    }

    /// The .irw metadata: what the weights are and exactly where they came from.
    static func metadataRecord(source: SourceFile, mapping: Mapping, sha256: String, size: Int, dtype: DTypeConversion) -> IRWMetadata {
        var notes = mapping.notes + source.notes
        if let n = dtype.note(for: source.tensors) { notes.append(n) }
        if !source.ignored.isEmpty { notes.append("left aside by the reader: " + source.ignored.joined(separator: "; ")) }
        if let irw = source.irw {
            let s = irw.metadata.source
            notes.append("converted from '\(s.fileName)' (\(s.container), sha256 \(s.sha256)) by \(irw.metadata.converter) at \(irw.metadata.created)")
        }
        return IRWMetadata(architecture: mapping.architecture, variant: mapping.variant, config: mapping.config,
                           source: IRWSource(fileName: DurableFile.fileName(of: source.path), sha256: sha256,
                                             container: source.format.rawValue, size: size, wrapper: source.wrapper),
                           keyMapping: mapping.rules, notes: notes)
    }
}
