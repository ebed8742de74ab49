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
        let others = try store.manifests().models.filter { $0.name != m.name }
        /// The other models that use blob `digest`.
        func sharers(_ digest: String) -> [String] { others.filter { $0.digests.contains(digest) }.map { $0.name } }
        let path = store.blobPath(m.blob.digest)
        if printing.json {
            guard case .object(var doc) = m.json else { return }
            doc["blob_path"] = .string(path)
            doc["blob_present"] = .bool(store.blobSize(m.blob.digest) != nil)
            doc["shared_with"] = .array(sharers(m.blob.digest).map { .string($0) })
            if m.isPipeline {
                // Each component as recorded, with where its blob is and who else uses it.
                doc["components"] = .array(m.components.map { c -> JSON in
                    guard case .object(var o) = c.json else { return c.json }
                    o["blob_path"] = .string(store.blobPath(c.blob.digest))
                    o["blob_present"] = .bool(store.blobSize(c.blob.digest) != nil)
                    o["shared_with"] = .array(sharers(c.blob.digest).map { .string($0) })
                    return .object(o)
                })
            }
            Terminal.printJSON(.object(doc))
            return
        }
        let sharedWith = sharers(m.blob.digest)
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
            "shared with:   \(sharedWith.isEmpty ? "none" : sharedWith.joined(separator: ", "))",
            "source:        \(m.source.fileName) (\(m.source.container)" + (m.source.size.map { ", \(Terminal.bytes($0))" } ?? "") + ")",
            "source sha256: \(m.source.sha256)",
            "wrapper:       \(m.source.wrapper ?? "none")",
            "imported:      \(m.imported)",
        ] + m.remotes.map { "remote:        \($0)" }
        if m.isPipeline {
            let all = m.totalTensors
            lines.insert("pipeline:      \(m.components.count) components, \(all.count) tensors, \(Terminal.grouped(all.parameters)) parameters", at: 2)
            for c in m.components {
                let missing = store.blobSize(c.blob.digest) == nil ? " (MISSING)" : ""
                let shared = sharers(c.blob.digest)
                lines.append("component:     \(c.role): \(c.architecture)" + (c.variant.map { " (\($0))" } ?? "")
                             + ", \(c.tensors.count) tensors, \(Terminal.count(c.tensors.parameters)) parameters, \(c.tensors.dtypeSummary), \(Terminal.bytes(c.blob.size))\(missing)")
                lines.append("               blob \(store.blobPath(c.blob.digest))" + (shared.isEmpty ? "" : ", shared with \(shared.joined(separator: ", "))"))
                lines.append("               from \(c.source.fileName) (\(c.source.container)), sha256 \(c.source.sha256)")
            }
        }
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
