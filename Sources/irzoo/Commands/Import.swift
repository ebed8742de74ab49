import ArgumentParser
import IRCheckpoint
import IRRegistry
import IRStore
import IRTensor

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install a checkpoint into the store (converted to .irw, verified by digest, committed atomically).")

    @Argument(help: "The checkpoint: any file `irzoo inspect` reads, a diffusers/transformers folder, or a shard index.")
    var file: String

    @Option(name: .long, help: "The architecture id, or 'raw' to store the tensors as they are. Default: detect.")
    var arch: String?

    @Option(name: .long, help: "The model's name in the store. Default: the file name without its extension.")
    var name: String?

    @Option(name: .long, help: "The architecture's config as a JSON object, overriding detection.")
    var config: String?

    @Option(name: .long, help: "keep, f32, f16 or bf16: the dtype to store floating tensors in.")
    var dtype: String = "keep"

    @Option(name: .long, help: "Text encoders: CLIP's BPE file (bpe_simple_vocab_16e6.txt.gz) to keep with the weights for `run --prompt`.")
    var vocab: String?

    @Flag(name: .customLong("keep-lora"), help: "LoRA checkpoints: store the ConvLoRA factors apart (lora_A, lora_B beside conv.weight) instead of merging them; they are merged in memory when the model runs.")
    var keepLoRA = false

    @OptionGroup var installing: ReplaceOption

    @OptionGroup var printing: JSONOutput

    @OptionGroup var reading: ReadingOptions

    func run() throws {
        let conversion = try DTypeConversion.option(dtype)
        var configJSON: JSON? = nil
        if let config {
            do { configJSON = try JSON.parse(config) } catch { throw CLIError(.usage, "--config: \(error)") }
        }
        let store = try StoreAccess.open()
        let request = Importer.Request(path: file, arch: arch, name: name, config: configJSON, select: reading.select,
                                       permissive: reading.permissive, variant: reading.variant, dtype: conversion, replace: installing.replace,
                                       vocab: vocab, keepLoRA: keepLoRA)
        let result: Importer.Result
        do { result = try Importer(store: store).run(request) } catch let e as InventoryMismatchError where printing.json {
            // The full report (every tensor) as JSON on stdout; stderr gets just the error line.
            Terminal.printJSON(InventoryReportText.document(e))
            throw CLIError(.inventoryMismatch, InventoryReportText.headline(e))
        }
        let m = result.outcome.manifest
        let status = result.outcome.status
        if printing.json {
            Terminal.printJSON(.object([
                ("status", .string(status)), ("seconds", .double(result.seconds)),
                ("manifest", m.json), ("blob_path", .string(store.blobPath(m.blob.digest))),
            ]))
            return
        }
        let what = "\(m.name) (\(m.architecture), \(m.tensors.count) tensors, \(Terminal.count(m.tensors.parameters)) parameters, \(m.tensors.dtypeSummary), \(Terminal.bytes(m.blob.size)))"
        switch status {
        case "already-installed": Terminal.say("already installed: \(what)")
        case "installed-shared": Terminal.say("installed \(what), sharing a blob with identical weights, from \(file) in \(Terminal.format(result.seconds, 2)) s")
        default: Terminal.say("installed \(what) from \(file) in \(Terminal.format(result.seconds, 2)) s")
        }
        if let w = result.source.wrapper { Terminal.say("wrapper: \(w)") }
        for r in result.mapping.rules where r != "unwrapped \(result.source.wrapper ?? "")" { Terminal.say("mapping: \(r)") }
        for n in result.mapping.notes + result.source.notes { Terminal.say("note: \(n)") }
        for i in result.source.ignored { Terminal.say("ignored: \(i)") }
    }
}

extension ModelStore.CommitOutcome {
    var manifest: StoreManifest {
        switch self {
        case .installed(let m, _), .alreadyInstalled(let m): return m
        }
    }

    /// The `--json` status of import and pull.
    var status: String {
        switch self {
        case .alreadyInstalled: return "already-installed"
        case .installed(_, let shared): return shared ? "installed-shared" : "installed"
        }
    }
}
