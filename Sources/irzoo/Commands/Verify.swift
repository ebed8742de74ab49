import ArgumentParser
import IRStore
import IRTensor

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-hash installed models (all when no name is given). Exit 0 when intact, 1 when anything is damaged. Never deletes.")

    @Argument(help: "Model names (default: every installed model).")
    var names: [String] = []

    @OptionGroup var printing: JSONOutput

    func run() throws {
        let store = try StoreAccess.open()
        let total = try store.manifests().models.filter { names.isEmpty || names.contains($0.name) }
            .reduce(into: [String: Int]()) { $0[$1.blob.digest] = $1.blob.size }.values.reduce(0, +)
        let progress = ProgressReporter(label: "verify", total: total)
        let outcomes = try store.verify(names: names) { done, _ in progress.update(done) }
        progress.finish()
        let seconds = progress.elapsed
        let damaged = outcomes.filter { !$0.intact }
        if printing.json {
            Terminal.printJSON(.object([
                ("models", .array(outcomes.map { o in
                    .object([("name", .string(o.name)), ("digest", .string(o.digest)), ("intact", .bool(o.intact)),
                             ("problems", .array(o.problems.map { .string($0) }))])
                })),
                ("bytes", .int(total)), ("seconds", .double(seconds)),
                ("intact", .bool(damaged.isEmpty)),
            ]))
        } else {
            for o in outcomes {
                Terminal.say(o.intact ? "\(o.name): intact" : "\(o.name): DAMAGED")
                for p in o.problems { Terminal.say("  \(p)") }
            }
            let rate = seconds > 0 ? " (\(Terminal.format(Double(total) / seconds / 1e9, 2)) GB/s)" : ""
            Terminal.say("\(outcomes.count) model\(outcomes.count == 1 ? "" : "s") verified, \(damaged.count) damaged, \(Terminal.bytes(total)) in \(Terminal.format(seconds, 2)) s\(rate)")
        }
        if !damaged.isEmpty {
            // The damaged file is kept: re-import the source, or copy a good blob over it.
            throw CLIError(.failure, "\(damaged.count) of \(outcomes.count) models damaged: " + damaged.map { "\($0.name) (\($0.problems.first ?? "damaged"))" }.joined(separator: "; "))
        }
    }
}
