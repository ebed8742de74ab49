import ArgumentParser
import IRDistribution
import IRStore
import IRTensor

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install a model from an OCI registry: each blob is streamed, resumed after a failure, checked by SHA-256 and .irw digest, and committed atomically like import.")

    @Argument(help: "REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST] (default tag: latest).")
    var reference: String

    @Option(name: .long, help: "The model's name in the store. Default: the name it was pushed under.")
    var name: String?

    @OptionGroup var installing: ReplaceOption

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let ref = try OCIReference.parse(reference, insecure: registry.insecure)
        if let name { try ModelStore.validateName(name) }
        let store = try StoreAccess.open()
        let client = try RegistryAccess.client(for: ref)
        var transfer = ModelTransfer(store: store, client: client)
        transfer.progress = RegistryAccess.progress("pull \(ref.repository)")
        transfer.step = { TestHooks.pause(at: $0) }
        let started = Terminal.now()
        let outcome = try RegistryAccess.wait(client) { [name, replace = installing.replace] in try await transfer.pull(name: name, replace: replace) }
        let seconds = Terminal.now() - started
        let m = outcome.commit.manifest
        let status = outcome.commit.status
        if registry.printing.json {
            Terminal.printJSON(.object([
                ("status", .string(status)), ("reference", .string(outcome.reference.description)),
                ("manifest_digest", .string(outcome.manifestDigest)),
                ("blobs", .array(outcome.blobs.map(RegistryAccess.blobJSON))),
                ("bytes_received", .int(outcome.bytesReceived)), ("seconds", .double(seconds)),
                ("manifest", (try? store.manifest(named: m.name).json) ?? m.json), ("blob_path", .string(store.blobPath(m.blob.digest))),
            ]))
            return
        }
        let what = "\(m.name) (\(m.architecture), \(m.tensors.count) tensors, \(Terminal.count(m.tensors.parameters)) parameters, \(m.tensors.dtypeSummary), \(Terminal.bytes(m.blob.size)))"
        switch status {
        case "already-installed": Terminal.say("already installed: \(what)")
        case "installed-shared": Terminal.say("installed \(what), sharing a blob already in the store, from \(outcome.reference)")
        default: Terminal.say("installed \(what) from \(outcome.reference)")
        }
        Terminal.say("manifest: \(outcome.manifestDigest)")
        for b in outcome.blobs {
            let how: String
            switch b.action {
            case "present": how = "already in the store, nothing downloaded"
            case "resumed": how = "downloaded, resumed at byte \(b.resumedAt ?? 0)"
            default: how = "downloaded"
            }
            Terminal.say("\(b.role) \(b.digest) (\(Terminal.bytes(b.size))): \(how)")
        }
        Terminal.say("received \(Terminal.bytes(outcome.bytesReceived)) in \(Terminal.format(seconds, 2)) s\(RegistryAccess.rate(outcome.bytesReceived, seconds))")
    }
}
