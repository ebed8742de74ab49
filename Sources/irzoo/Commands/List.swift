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
        for m in models { users[m.blob.digest, default: 0] += 1 }
        // Physical size counts each blob once; logical sizes are per model.
        var seen = Set<String>()
        var onDisk = 0
        for m in models where seen.insert(m.blob.digest).inserted { onDisk += store.blobSize(m.blob.digest) ?? 0 }

        if printing.json {
            Terminal.printJSON(.object([
                ("store", .string(store.root)),
                ("models", .array(models.map { m in
                    .object([
                        ("name", .string(m.name)), ("architecture", .string(m.architecture)), ("variant", .stringOrNull(m.variant)),
                        ("parameters", .int(m.tensors.parameters)), ("dtype", .string(m.tensors.dtypeSummary)),
                        ("size_on_disk", store.blobSize(m.blob.digest).map { .int($0) } ?? .null),
                        ("tensor_bytes", .int(m.tensors.bytes)),
                        ("shared_blob", .bool((users[m.blob.digest] ?? 0) > 1)),
                        ("digest", .string(m.blob.digest)),
                        ("imported", .string(m.imported)),
                        ("last_verified", .stringOrNull(m.verified?.time)),
                        ("intact", m.verified.map { .bool($0.intact) } ?? .null),
                    ])
                })),
                ("total_size_on_disk", .int(onDisk)),
                ("problems", .array(problems.map { .string($0) })),
            ]))
        } else if models.isEmpty && problems.isEmpty {
            Terminal.say("no models installed in \(store.root) (add one with `irzoo import FILE`)")
        } else {
            let rows = models.map { m -> [String] in
                let size = store.blobSize(m.blob.digest).map { Terminal.bytes($0) + ((users[m.blob.digest] ?? 0) > 1 ? " (shared)" : "") } ?? "MISSING"
                let verified = m.verified.map { "\(String($0.time.prefix(16).map { $0 == "T" ? " " : $0 })) \($0.intact ? "ok" : "DAMAGED")" } ?? "never"
                return [m.name, m.architecture + (m.variant.map { "/\($0)" } ?? ""), Terminal.count(m.tensors.parameters), m.tensors.dtypeSummary, size, verified]
            }
            print(Terminal.table(["NAME", "ARCHITECTURE", "PARAMETERS", "DTYPE", "SIZE", "LAST VERIFIED"], rows))
            Terminal.say("\(models.count) model\(models.count == 1 ? "" : "s"), \(Terminal.bytes(onDisk)) on disk in \(store.root)")
        }
        for p in problems { Terminal.printError("irzoo: warning: \(p)") }
    }
}
