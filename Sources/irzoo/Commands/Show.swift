import ArgumentParser
import IRFormat
import IRModels
import IRRegistry
import IRStore
import IRTensor

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show everything the store records about one model.")

    @Argument(help: "The model's name (see `irzoo list`).")
    var name: String

    @OptionGroup var printing: JSONOutput

    func run() throws {
        let store = try StoreAccess.open()
        let m: StoreManifest
        do { m = try store.manifest(named: name) } catch let e as StoreError where e.kind == .notFound {
            // Not installed, but a registered architecture id: show what the registry knows.
            guard let entry = try Zoo.embedded().manifest(name) else { throw e }
            return RegistryListing.printOne(entry, json: printing.json)
        }
        let sharers = try store.manifests().models.filter { $0.blob.digest == m.blob.digest && $0.name != m.name }.map { $0.name }
        let path = store.blobPath(m.blob.digest)
        if printing.json {
            guard case .object(var doc) = m.json else { return }
            doc["blob_path"] = .string(path)
            doc["blob_present"] = .bool(store.blobSize(m.blob.digest) != nil)
            doc["shared_with"] = .array(sharers.map { .string($0) })
            Terminal.printJSON(.object(doc))
            return
        }
        var lines = [
            "name:          \(m.name)",
            "architecture:  \(m.architecture)" + (m.variant.map { " (\($0))" } ?? ""),
            "config:        \(m.config.serialized())",
            "tensors:       \(m.tensors.count) (" + m.tensors.dtypes.map { "\($0.count) \($0.dtype)" }.joined(separator: ", ") + ")",
            "parameters:    \(Terminal.grouped(m.tensors.parameters))",
            "tensor bytes:  \(Terminal.grouped(m.tensors.bytes)) (\(Terminal.bytes(m.tensors.bytes)))",
            "blob:          \(path)" + (store.blobSize(m.blob.digest) == nil ? " (MISSING)" : ""),
            "blob size:     \(Terminal.grouped(m.blob.size)) (\(Terminal.bytes(m.blob.size))), format \(m.blob.formatVersion)",
            "digest:        \(m.blob.digest)",
            "oci digest:    \(m.blob.ociDigest ?? "not recorded yet (`irzoo push` computes it, `irzoo pull` checks it)")",
            "shared with:   \(sharers.isEmpty ? "none" : sharers.joined(separator: ", "))",
            "source:        \(m.source.fileName) (\(m.source.container)" + (m.source.size.map { ", \(Terminal.bytes($0))" } ?? "") + ")",
            "source sha256: \(m.source.sha256)",
            "wrapper:       \(m.source.wrapper ?? "none")",
            "imported:      \(m.imported)",
        ] + m.remotes.map { "remote:        \($0)" }
        // How the weights were mapped: the record keeps it (format 1.1); a record made before
        // that points to a 1.0 blob whose header has it.
        let made = m.converter != nil ? m.provenance : (try? IRWFile.open(path: path))?.metadata.provenance
        for r in made?.keyMapping ?? [] { lines.append("mapping:       \(r)") }
        for n in made?.notes ?? [] { lines.append("note:          \(n)") }
        if let v = m.verified {
            lines.append("last verified: \(v.time): \(v.intact ? "intact" : "DAMAGED")")
            for p in v.problems { lines.append("  \(p)") }
        } else {
            lines.append("last verified: never (run `irzoo verify \(m.name)`)")
        }
        Terminal.say(lines: lines)
    }
}
