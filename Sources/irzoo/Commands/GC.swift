import ArgumentParser
import IRStore
import IRTensor

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete blobs no model uses and work left by crashed commands.")

    @Flag(name: .long, help: "Only say what would be deleted.")
    var dryRun = false

    @OptionGroup var printing: JSONOutput

    func run() throws {
        let store = try StoreAccess.open(sweep: !dryRun)
        let r = try store.collectGarbage(dryRun: dryRun)
        if printing.json {
            Terminal.printJSON(.object([
                ("dry_run", .bool(dryRun)),
                ("blobs", .array(r.blobs.map { .object([("digest", .string($0.digest)), ("bytes", .int($0.bytes))]) })),
                ("temps", .array(r.temps.map { .object([("name", .string($0.name)), ("bytes", .int($0.bytes))]) })),
                ("partials", .array(r.partials.map { .object([("name", .string($0.name)), ("bytes", .int($0.bytes))]) })),
                ("skipped", .array(r.skipped.map { .string($0) })),
                ("freed_bytes", .int(r.freedBytes)),
            ]))
            return
        }
        let verb = dryRun ? "would remove" : "removed"
        for b in r.blobs { Terminal.say("\(verb) blob sha256-\(b.digest).irw (\(Terminal.bytes(b.bytes)))") }
        for t in r.temps { Terminal.say("\(verb) stale tmp/\(t.name) (\(Terminal.bytes(t.bytes)))") }
        for p in r.partials { Terminal.say("\(verb) interrupted download \(p.name) (\(Terminal.bytes(p.bytes)))") }
        for s in r.skipped { Terminal.say("kept \(s)") }
        Terminal.say("\(dryRun ? "would free" : "freed") \(Terminal.bytes(r.freedBytes))")
    }
}
