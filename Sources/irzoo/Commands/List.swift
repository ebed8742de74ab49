import ArgumentParser
import IRStore
import IRTensor

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List installed models: name, architecture, parameters, dtype, size on disk, last verified.")

    @Flag(name: .long, help: "List the registered architectures instead (every variant this binary knows), and whether each can run.")
    var available = false

    @OptionGroup var printing: JSONOutput

    func run() throws {
        if available { return try RegistryListing.printAll(json: printing.json) }
        let store = try StoreAccess.open()
        let (models, problems) = try store.manifests()
        var users: [String: Int] = [:]
        for m in models { for d in Set(m.digests) { users[d, default: 0] += 1 } }
        // Physical size counts each blob once; logical sizes are per model.
        var seen = Set<String>()
        var onDisk = 0
        for m in models { for d in m.digests where seen.insert(d).inserted { onDisk += store.blobSize(d) ?? 0 } }
        /// A model's own size on disk (each of its blobs once), nil when one is missing.
        func size(_ m: StoreManifest) -> Int? {
            let sizes = Set(m.digests).map { store.blobSize($0) }
            return sizes.contains(nil) ? nil : sizes.reduce(0) { $0 + ($1 ?? 0) }
        }
        func shares(_ m: StoreManifest) -> Bool { m.digests.contains { (users[$0] ?? 0) > 1 } }
        func row(_ m: StoreManifest) -> JSON {
            let all = m.totalTensors
            var fields: [(String, JSON)] = [
                ("name", .string(m.name)), ("architecture", .string(m.architecture)), ("variant", .stringOrNull(m.variant)),
                ("parameters", .int(all.parameters)), ("dtype", .string(all.dtypeSummary)),
                ("size_on_disk", size(m).map { .int($0) } ?? .null),
                ("tensor_bytes", .int(all.bytes)),
                ("shared_blob", .bool(shares(m))),
                ("digest", .string(m.blob.digest)),
                ("imported", .string(m.imported)),
                ("last_verified", .stringOrNull(m.verified?.time)),
                ("intact", m.verified.map { .bool($0.intact) } ?? .null),
            ]
            if m.isPipeline {
                let components: [JSON] = m.components.map { c in
                    let fields: [(String, JSON)] = [
                        ("role", .string(c.role)), ("architecture", .string(c.architecture)),
                        ("parameters", .int(c.tensors.parameters)), ("digest", .string(c.blob.digest)),
                        ("size_on_disk", store.blobSize(c.blob.digest).map { .int($0) } ?? .null),
                        ("shared_blob", .bool((users[c.blob.digest] ?? 0) > 1)),
                    ]
                    return .object(fields)
                }
                fields.append(("components", .array(components)))
            }
            return .object(fields)
        }

        if printing.json {
            Terminal.printJSON(.object([
                ("store", .string(store.root)),
                ("models", .array(models.map(row))),
                ("total_size_on_disk", .int(onDisk)),
                ("problems", .array(problems.map { .string($0) })),
            ]))
        } else if models.isEmpty && problems.isEmpty {
            Terminal.say("no models installed in \(store.root) (add one with `irzoo import FILE`)")
        } else {
            var rows: [[String]] = []
            for m in models {
                let bytes = size(m).map { Terminal.bytes($0) + (shares(m) ? " (shared)" : "") } ?? "MISSING"
                let verified = m.verified.map { "\(String($0.time.prefix(16).map { $0 == "T" ? " " : $0 })) \($0.intact ? "ok" : "DAMAGED")" } ?? "never"
                let all = m.totalTensors
                rows.append([m.name, m.architecture + (m.variant.map { "/\($0)" } ?? ""), Terminal.count(all.parameters), all.dtypeSummary, bytes, verified])
                // A pipeline's components, one indented row each.
                for c in m.components {
                    let cBytes = store.blobSize(c.blob.digest).map { Terminal.bytes($0) + ((users[c.blob.digest] ?? 0) > 1 ? " (shared)" : "") } ?? "MISSING"
                    rows.append(["  \(c.role)", c.architecture, Terminal.count(c.tensors.parameters), c.tensors.dtypeSummary, cBytes, ""])
                }
            }
            print(Terminal.table(["NAME", "ARCHITECTURE", "PARAMETERS", "DTYPE", "SIZE", "LAST VERIFIED"], rows))
            Terminal.say("\(models.count) model\(models.count == 1 ? "" : "s"), \(Terminal.bytes(onDisk)) on disk in \(store.root)")
        }
        for p in problems { Terminal.printError("irzoo: warning: \(p)") }
    }
}
