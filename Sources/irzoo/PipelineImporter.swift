#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IRCheckpoint
import IRFormat
import IRStore
import IRTensor

/// `irzoo import SDXL_DIR`: a diffusers pipeline folder (`model_index.json`) installed as one
/// pipeline model, each component its own blob (docs/FORMAT.md, "Pipelines"), so pipelines that
/// share a VAE store it once. Every component folder is checked before anything is read; the
/// blobs are written into one staging folder and committed together, or not at all.
///
///     unet/, vae/, text_encoder/, text_encoder_2/   weights, imported as `irzoo import FOLDER --arch ID`
///     tokenizer/, tokenizer_2/                      vocab.json + merges.txt, kept as u8 tensors in an .irw
///     scheduler/                                    scheduler_config.json, kept the same way
///     model_index.json                              the pipeline's own blob
struct PipelineImporter {
    enum Kind {
        /// A network, with the architecture its folder must import as.
        case weights(String)
        /// Plain files kept byte for byte, with the architecture recorded: the first of `sets`
        /// whose files are all there (an error naming them when none is), then `optional`.
        case files(architecture: String, sets: [[String]], optional: [String])
    }

    /// The roles of an SDXL pipeline, in the order the record lists them.
    static let roles: [(role: String, kind: Kind)] = [
        ("unet", .weights("sdxl-unet")),
        ("vae", .weights("sdxl-vae")),
        ("text_encoder", .weights("clip-vit-l-14-text")),
        ("text_encoder_2", .weights("openclip-vit-bigg-14-text")),
        ("tokenizer", tokenizerFiles),
        ("tokenizer_2", tokenizerFiles),
        ("scheduler", .files(architecture: schedulerArchitecture, sets: [["scheduler_config.json"]], optional: [])),
    ]
    /// The hub's SDXL folders hold vocab.json + merges.txt (transformers 4); transformers 5 saves tokenizer.json.
    static let tokenizerFiles = Kind.files(architecture: tokenizerArchitecture, sets: [["vocab.json", "merges.txt"], ["tokenizer.json"]],
                                           optional: ["special_tokens_map.json", "tokenizer_config.json"])
    static let architecture = "sdxl-pipeline"
    static let tokenizerArchitecture = "clip-bpe-tokenizer"
    static let schedulerArchitecture = "diffusers-scheduler"
    static let indexFile = "model_index.json"
    /// Plain files larger than this are not a tokenizer or a scheduler config.
    static let maxFileBytes = 16 << 20

    struct Part {
        var role: String
        /// What was read, for the report: mapping rules and notes.
        var lines: [String]
    }

    struct Result {
        var outcome: ModelStore.CommitOutcome
        var parts: [Part]
        var seconds: Double
    }

    let importer: Importer

    /// True when `path` is a folder holding `model_index.json`.
    static func isPipelineFolder(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return false }
        return access(join(path, indexFile), F_OK) == 0
    }

    func run(_ request: Importer.Request) throws -> Result {
        for (flag, given) in [("--arch", request.arch != nil), ("--config", request.config != nil), ("--select", request.select != nil),
                              ("--vocab", request.vocab != nil), ("--keep-lora", request.keepLoRA)] where given {
            throw CLIError(.usage, "\(flag) does not apply to a pipeline folder (\(request.path)): each component is imported with its own folder's config")
        }
        let folder = Self.trimmed(request.path)
        let name = request.name ?? ModelStore.suggestedName(forFolder: folder)
        try ModelStore.validateName(name)
        let started = Terminal.now()
        let guardian = try FolderContainment(folder)
        let indexPath = Self.join(folder, Self.indexFile)
        let index = try Self.readJSONObject(indexPath, guardian: guardian)
        let present = try Self.components(of: index, indexPath: indexPath, folder: folder, guardian: guardian)

        let store = importer.store
        let staging = try store.stage()
        defer { staging.discard() }
        TestHooks.pause(at: "staged")
        var parts: [Part] = []
        for (role, kind) in present {
            let dir = Self.join(folder, role)
            let path = staging.componentPath(role)
            switch kind {
            case .weights(let arch):
                var sub = request
                sub.path = dir
                sub.arch = arch
                let location = try SourceLocation.locate(dir, variant: request.variant)
                let digest = SourceDigest(location)
                defer { digest.stop() }
                let (source, mapping) = try importer.read(location, sub)
                let provenance = try importer.write(source, mapping, digest: digest, request: sub, label: "import \(name) \(role)", to: path)
                try staging.addComponent(role: role, provenance: provenance)
                parts.append(Part(role: role, lines: mapping.rules + mapping.notes + source.notes))
            case .files(let architecture, let sets, let optional):
                func here(_ f: String) -> Bool { access(Self.join(dir, f), F_OK) == 0 }
                guard let required = sets.first(where: { $0.allSatisfy(here) }) else {
                    throw CLIError(.unreadableInput, "\(dir): no \(sets.map { $0.joined(separator: " + ") }.joined(separator: ", and no ")); nothing was installed")
                }
                let names = required + optional.filter(here)
                var config = JSON.object(JSON.Object())
                if let main = names.first(where: { $0.hasSuffix("_config.json") }) {
                    config = .object(try Self.readJSONObject(Self.join(dir, main), guardian: guardian))
                }
                let files = try Dictionary(uniqueKeysWithValues: names.map { ($0, try Self.readFile(Self.join(dir, $0), guardian: guardian)) })
                var lines: [String] = []
                if architecture == Self.tokenizerArchitecture {
                    // Refused now, not at the first run: a tokenizer these files cannot make.
                    let t = try PipelineParts.tokenizer(files: files, source: dir)
                    lines.append("CLIP BPE tokenizer: start \(t.startID), end \(t.endID), pad \(t.padID)")
                } else {
                    // Another scheduler is stored all the same; only a run needs irzoo's Euler sampler.
                    do { lines.append(try PipelineParts.scheduler(files: files, source: Self.join(dir, "scheduler_config.json")).summary) } catch let e as CLIError {
                        lines.append("not a schedule irzoo samples with: \(e.message)")
                    }
                }
                let provenance = try Self.writeFiles(names.map { ($0, files[$0]!) }, folder: role, architecture: architecture,
                                                     config: config, to: path)
                try staging.addComponent(role: role, provenance: provenance)
                parts.append(Part(role: role, lines: provenance.keyMapping + lines))
            }
        }
        // The pipeline's own blob: its description, whose components the record names.
        staging.provenance = try Self.writeFiles([(Self.indexFile, try Self.readFile(indexPath, guardian: guardian))], folder: DurableFile.fileName(of: folder),
                                                 architecture: Self.architecture, config: .object(index), to: staging.irwPath)
        let outcome = try store.commit(staging, name: name, replace: request.replace)
        return Result(outcome: outcome, parts: parts, seconds: Terminal.now() - started)
    }

    /// The components `model_index.json` names, in role order, each folder checked to be there.
    /// Entries `[null, null]` are absent by design (SDXL's image_encoder); other members
    /// (`_class_name`, `force_zeros_for_empty_prompt`) are the pipeline's settings.
    static func components(of index: JSON.Object, indexPath: String, folder: String, guardian: FolderContainment) throws -> [(String, Kind)] {
        func refuse(_ why: String) -> CLIError { CLIError(.unreadableInput, "\(indexPath): \(why); nothing was installed") }
        guard let cls = index["_class_name"]?.stringValue else { throw refuse("no \"_class_name\": not a diffusers pipeline index") }
        guard cls.hasPrefix("StableDiffusionXL") else {
            throw refuse("\(cls) is not an SDXL pipeline; irzoo imports StableDiffusionXL pipelines (or import a component folder alone)")
        }
        var present: [(String, Kind)] = []
        for (key, value) in index where !key.hasPrefix("_") {
            guard let pair = value.arrayValue, pair.count == 2 else { continue } // a setting, not a component
            if pair.allSatisfy({ $0.isNull }) { continue }
            guard let library = pair[0].stringValue, let type = pair[1].stringValue else {
                throw refuse("component '\(key)' must be [library, class] or [null, null]")
            }
            guard let known = roles.first(where: { $0.role == key }) else {
                throw refuse("component '\(key)' (\(library) \(type)) is not one irzoo stores (it stores \(roles.map { $0.role }.joined(separator: ", ")))")
            }
            let dir = join(folder, key)
            var st = stat()
            guard stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw refuse("names component '\(key)' (\(library) \(type)), but the folder \(dir) is absent")
            }
            do { try guardian.check(dir) } catch let e as CheckpointError { throw refuse("component '\(key)': \(e.reason)") }
            present.append((key, known.kind))
        }
        guard !present.isEmpty else { throw refuse("names no component") }
        return roles.compactMap { r in present.first { $0.0 == r.role } }
    }

    /// Writes `files` as u8 tensors named by their file names into an .irw at `path`, and
    /// returns the provenance the record keeps: the folder, and the digest of the files' listing
    /// (as `sha256sum` prints it, like a component folder's).
    static func writeFiles(_ files: [(name: String, bytes: [UInt8])], folder: String, architecture: String, config: JSON,
                           to path: String) throws -> IRWProvenance {
        var records: [TensorRecord] = []
        var listing: [(name: String, sha: String)] = []
        var total = 0
        for (name, bytes) in files {
            records.append(try TensorRecord(name: name, dtype: .u8, shape: [bytes.count], data: ByteBuffer.copying(bytes).whole))
            listing.append((name, bytes.withUnsafeBytes { SHA256Hasher.hex(of: $0) }))
            total += bytes.count
        }
        let text = listing.sorted { $0.name < $1.name }.map { "\($0.sha)  \($0.name)\n" }.joined()
        let sha = Array(text.utf8).withUnsafeBytes { SHA256Hasher.hex(of: $0) }
        let provenance = IRWProvenance(source: IRWSource(fileName: folder, sha256: sha, container: "hub-files", size: total),
                                       keyMapping: listing.map { "kept \($0.name) as a u8 tensor" })
        try IRWWriter.write(records, metadata: IRWMetadata(architecture: architecture, config: config, provenance: provenance), to: path)
        return provenance
    }

    static func readFile(_ path: String, guardian: FolderContainment) throws -> [UInt8] {
        try guardian.check(path)
        let buffer: ByteBuffer
        do { buffer = try ByteBuffer.map(path: path) } catch let e as IOFailure { throw CLIError(.unreadableInput, "\(path): \(e.reason)") }
        guard buffer.count <= maxFileBytes else {
            throw CLIError(.unreadableInput, "\(path): \(buffer.count) bytes is more than the \(maxFileBytes >> 20) MiB a tokenizer or scheduler file may have")
        }
        return buffer.whole.withUnsafeBytes { [UInt8]($0) }
    }

    static func readJSONObject(_ path: String, guardian: FolderContainment) throws -> JSON.Object {
        let bytes = try readFile(path, guardian: guardian)
        let parsed: JSON
        do { parsed = try JSON.parse(bytes, maxDepth: 64) } catch { throw CLIError(.unreadableInput, "\(path): not valid JSON: \(error)") }
        guard let object = parsed.objectValue else { throw CLIError(.unreadableInput, "\(path): not a JSON object") }
        return object
    }

    static func trimmed(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    static func join(_ a: String, _ b: String) -> String { a.hasSuffix("/") ? a + b : a + "/" + b }
}
