import IRModels
import IRRegistry
import IRTensor

/// The registered variants (`irzoo list --available`, and `irzoo show ID` for one that is not
/// installed): what the registry compiled into this binary knows, and whether this build can run it.
enum RegistryListing {
    /// Runnable when the manifest says so AND this build has the family's Swift model; otherwise
    /// the reason (the manifest's own, e.g. RAM's "no public code or weights").
    static func runnability(_ m: ZooManifest) -> (runnable: Bool, reason: String?) {
        if !m.runnable { return (false, m.reason ?? "marked not runnable in its manifest") }
        if !ModelFactory.canRun(family: m.family) { return (false, "this build has no Swift model of family '\(m.family)'") }
        return (true, nil)
    }

    static func document(_ m: ZooManifest) -> JSON {
        let (runnable, reason) = runnability(m)
        return .object([
            ("id", .string(m.id)), ("family", .string(m.family)), ("title", .string(m.title)),
            ("paper", .object([("title", .string(m.paper.title)), ("arxiv", .stringOrNull(m.paper.arxiv))])),
            ("upstream", .stringOrNull(m.upstream.repo)),
            ("tasks", .array(m.tasks.map { .string($0) })),
            ("parameters", m.parameters.map { .int($0) } ?? .null),
            ("runnable", .bool(runnable)), ("reason", .stringOrNull(reason)),
        ])
    }

    /// `list --available`: one row per variant; the last column is the title, or why it cannot run.
    static func printAll(json: Bool) throws {
        let zoo = try Zoo.embedded()
        if json {
            Terminal.printJSON(.object([("available", .array(zoo.manifests.map(document)))]))
            return
        }
        let rows = zoo.manifests.map { m -> [String] in
            let (runnable, reason) = runnability(m)
            return [m.id, m.family, m.parameters.map(Terminal.count) ?? "-", runnable ? "yes" : "no",
                    reason.map { "not runnable: \($0)" } ?? m.title]
        }
        print(Terminal.table(["ID", "FAMILY", "PARAMETERS", "RUNS", "ABOUT"], rows))
        let runnable = zoo.manifests.filter { runnability($0).runnable }.count
        Terminal.say("\(zoo.manifests.count) registered variants, \(runnable) runnable (import one with `irzoo import FILE --arch ID`)")
    }

    /// `show ID` for a registered variant that is not installed.
    static func printOne(_ m: ZooManifest, json: Bool) {
        if json {
            guard case .object(var doc) = document(m) else { return }
            doc["installed"] = .bool(false)
            Terminal.printJSON(.object(doc))
            return
        }
        let (runnable, reason) = runnability(m)
        var lines = [
            "id:            \(m.id) (registered architecture; not installed)",
            "family:        \(m.family)",
            "title:         \(m.title)",
            "paper:         \(m.paper.title)" + (m.paper.arxiv.map { " (arXiv \($0))" } ?? ""),
            "upstream:      \(m.upstream.repo ?? "none") (weights: \(m.upstream.weights))",
            "tasks:         \(m.tasks.joined(separator: ", "))",
            "parameters:    \(m.parameters.map(Terminal.grouped) ?? "unknown")",
            "runnable:      " + (runnable ? "yes" : "no: \(reason ?? "")"),
        ]
        for n in m.notes { lines.append("note:          \(n)") }
        Terminal.say(lines: lines)
    }
}
