import ArgumentParser
import IRDistribution
import IRModels
import IRRegistry
import IRStore
import IRTensor

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push an installed model to an OCI registry as an artifact (docs/OCI.md): blobs the registry has are skipped or mounted, uploads are chunked and resumed.")

    @Argument(help: "The model's name in the store.")
    var name: String

    @Argument(help: "REGISTRY/REPOSITORY[:TAG] (default tag: latest), e.g. ghcr.io/team/symunet:w48 or 127.0.0.1:5000/symunet.")
    var reference: String

    @Option(name: .customLong("chunk-mib"), help: "Upload chunk size in MiB (each is one PATCH; a failed chunk is resumed from the registry's offset).")
    var chunkMiB: Double = 64

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let ref = try OCIReference.parse(reference, insecure: registry.insecure)
        guard chunkMiB > 0, chunkMiB <= 4096 else { throw CLIError(.usage, "--chunk-mib must be between 0 and 4096 (got \(chunkMiB))") }
        let store = try StoreAccess.open()
        let model = try store.manifest(named: name)
        let client = try RegistryAccess.client(for: ref)
        var transfer = ModelTransfer(store: store, client: client)
        transfer.progress = RegistryAccess.progress("push \(name)")
        transfer.step = { TestHooks.pause(at: $0) }
        let started = Terminal.now()
        let annotations = Self.upstreamAnnotations(model)
        let chunk = max(1, Int(chunkMiB * Double(1 << 20)))
        let outcome = try RegistryAccess.wait(client) { try await transfer.push(name: name, annotations: annotations, chunkSize: chunk) }
        let seconds = Terminal.now() - started
        if registry.printing.json {
            Terminal.printJSON(.object([
                ("status", .string("pushed")), ("name", .string(name)), ("reference", .string(outcome.reference.description)),
                ("manifest_digest", .string(outcome.manifestDigest)),
                ("artifact_type", outcome.withoutArtifactType ? .null : .string(MediaType.model)),
                ("blobs", .array(outcome.blobs.map(RegistryAccess.blobJSON))),
                ("bytes_sent", .int(outcome.bytesSent)), ("seconds", .double(seconds)),
            ]))
            return
        }
        Terminal.say("pushed \(name) to \(outcome.reference.repositoryPath)@\(outcome.manifestDigest)")
        for b in outcome.blobs {
            let what: String
            switch b.action {
            case "exists": what = "already in the registry"
            case "mounted": what = "mounted from \(b.mountedFrom ?? "another repository")"
            default: what = "uploaded" + (b.resumes.map { ", resumed \($0) time\($0 == 1 ? "" : "s")" } ?? "")
                + (b.restarts.map { ", started again \($0) time\($0 == 1 ? "" : "s")" } ?? "")
            }
            Terminal.say("\(b.role) \(b.digest) (\(Terminal.bytes(b.size))): \(what)")
        }
        if outcome.withoutArtifactType { Terminal.say("note: the registry refused artifactType; the manifest says what it is by its config media type") }
        Terminal.say("sent \(Terminal.bytes(outcome.bytesSent)) in \(Terminal.format(seconds, 2)) s\(RegistryAccess.rate(outcome.bytesSent, seconds))")
    }

    /// A description, and `org.opencontainers.image.source` and `.licenses` from the
    /// architecture's zoo entry when it names them.
    static func upstreamAnnotations(_ m: StoreManifest) -> [(String, String)] {
        let description = (Annotation.description, "irzoo model, architecture \(m.architecture)" + (m.variant.map { " (\($0))" } ?? ""))
        guard let entry = try? Zoo.embedded().manifest(m.architecture) else { return [description] }
        var out: [(String, String)] = [description]
        if let repo = entry.upstream.repo { out.append((Annotation.source, repo)) }
        if let license = entry.upstream.license { out.append((Annotation.licenses, license)) }
        return out
    }
}
