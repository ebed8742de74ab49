import ArgumentParser
import IRStore
import IRTensor

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Uninstall models; a blob goes with its last model, so nothing is orphaned.")

    @Argument(help: "Model names.")
    var names: [String]

    @OptionGroup var printing: JSONOutput

    func run() throws {
        let store = try StoreAccess.open()
        var removed: [JSON] = []
        for name in names {
            let r = try store.remove(name: name)
            removed.append(.object([("name", .string(name)), ("digest", .string(r.manifest.blob.digest)), ("freed_bytes", .int(r.freedBytes))]))
            if !printing.json {
                Terminal.say(r.freedBytes > 0 ? "removed \(name) (freed \(Terminal.bytes(r.freedBytes)))" : "removed \(name) (its blob is still used by another model)")
            }
        }
        if printing.json { Terminal.printJSON(.object([("removed", .array(removed))])) }
    }
}
